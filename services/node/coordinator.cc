#include "services/node/coordinator.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "access/policy.h"
#include "codec/list_codec.h"
#include "codec/operation.h"
#include "quorum/fan_out.h"
#include "services/common/status_util.h"
#include "services/node/request_decoding.h"

namespace shoplist::node {

using quorum::FanOut;
using quorum::Target;
using Outcome = FanOut::Outcome;

namespace {

// A replica's access check refused the write (request_decoding.h CheckOf).
bool IsRefusal(const absl::Status& status) {
  return absl::IsPermissionDenied(status) || absl::IsNotFound(status);
}

}  // namespace

absl::Status ValidateCoordinatorOptions(const CoordinatorOptions& options) {
  if (options.self_id.empty()) {
    return absl::InvalidArgumentError("the coordinator needs a node id");
  }
  if (options.replicas < 1 || options.read_quorum < 1 ||
      options.write_quorum < 1 || options.read_quorum > options.replicas ||
      options.write_quorum > options.replicas) {
    return absl::InvalidArgumentError(absl::StrCat(
        "need 1 <= R <= N and 1 <= W <= N; got N=", options.replicas,
        " R=", options.read_quorum, " W=", options.write_quorum));
  }
  return absl::OkStatus();
}

// --- Write: one call's state machine ---
//
//   kAwaitingW ──W acks, or W out of reach──> kAwaitingLocal ──own merge──>
//   kAnswered   (straight to kAnswered when this node holds no replica, or
//                its merge already returned)
//
// The caller is answered only after this node's own merge returned, so the
// answer carries the list as stored here.
class Coordinator::WriteCall
    : public std::enable_shared_from_this<Coordinator::WriteCall> {
 public:
  enum class State { kAwaitingW, kAwaitingLocal, kAnswered };

  WriteCall(Coordinator* c, std::string list_id, crdt::ListState delta,
            std::optional<access::SecretHash> proof, quorum::FanOutPlan plan,
            WriteDone done, LocalAnswer answer)
      : c_(c),
        list_id_(std::move(list_id)),
        delta_(std::move(delta)),
        proof_(proof),
        done_(std::move(done)),
        answer_(std::move(answer)),
        fan_out_(std::move(plan), c->options_.write_quorum) {
    codec::EncodeState(delta_, &encoded_);
  }

  void Start() {
    std::vector<Target> targets;
    {
      absl::MutexLock lock(&mu_);
      targets = fan_out_.Start(c_->options_.self_id);
      for (const Target& t : targets) {
        if (t.node_id == c_->options_.self_id) local_pending_ = true;
      }
    }
    if (targets.empty()) {
      done_(absl::UnavailableError("no healthy replica for this list"), {});
      return;
    }
    for (const Target& t : targets) Send(t);
  }

 private:
  void Send(const Target& target) {
    auto self = shared_from_this();
    if (target.node_id != c_->options_.self_id) {
      v1::StoreRequest request;
      request.set_list_id(list_id_);
      *request.mutable_delta() = encoded_;
      request.set_intended_owner(target.intended_owner);
      if (proof_) {
        request.set_proof(access::ProofBytes(*proof_));
      }
      c_->BeginRemote();
      c_->peers_->Store(target.address, request, c_->options_.replica_timeout,
                        [self, target](const grpc::Status& status) {
                          self->OnReply(target, ToAbsl(status), std::nullopt);
                          self->c_->EndRemote();
                        });
    } else if (!target.intended_owner.empty()) {
      OnReply(target,
              c_->store_->AddHint(target.intended_owner, list_id_, delta_),
              std::nullopt);
    } else {
      // Shares an fsync with concurrent writes (group commit); no thread
      // waits for it.
      c_->BeginRemote();
      // This node checks as a replica too, in the same step as its merge.
      storage::ReplicaStore::MergeCheck check;
      if (proof_) check = AccessCheck(*proof_, delta_);
      c_->store_->MergeAsync(
          list_id_, delta_,
          [self, target](const absl::StatusOr<crdt::ListState>& merged) {
            std::optional<crdt::ListState> answer;
            if (merged.ok() && self->answer_) answer = self->answer_(*merged);
            self->OnReply(target, merged.status(), std::move(answer));
            self->c_->EndRemote();
          },
          std::move(check));
    }
  }

  void OnReply(const Target& target, const absl::Status& status,
               std::optional<crdt::ListState> merged_here) {
    c_->NoteReply(target, status);
    const bool own = target.node_id == c_->options_.self_id;
    FanOut::Step step;
    std::optional<absl::Status> answer;
    WriteResult result;
    // A replica whose access record refuses the write is up and has
    // answered: no stand-in is asked in its place (it would keep the
    // write as a hint, unchecked).
    const bool refused = IsRefusal(status);
    {
      absl::MutexLock lock(&mu_);
      if (refused) {
        step = fan_out_.RecordRefusal(target);
        if (refusal_.ok()) refusal_ = status;
      } else {
        step = fan_out_.Record(target, status.ok());
      }
      if (merged_here) local_ = std::move(merged_here);
      if (own) local_pending_ = false;
      if (step.decided != Outcome::kPending) decided_ = step.decided;
      if (state_ == State::kAwaitingW && decided_ != Outcome::kPending) {
        state_ = State::kAwaitingLocal;
      }
      if (state_ == State::kAwaitingLocal && !local_pending_) {
        state_ = State::kAnswered;
        result = {step.acks, std::move(local_)};
        // Refused by a replica that has merged a newer access record:
        // what others stored meanwhile stays (docs/sharing.md, the window).
        answer = decided_ == Outcome::kReached ? absl::OkStatus()
                 : !refusal_.ok()
                     ? refusal_
                     : absl::UnavailableError(absl::StrCat(
                           "stored on ", step.acks, " replica(s); ",
                           c_->options_.write_quorum, " required"));
      }
    }
    if (step.replacement) Send(*step.replacement);
    if (answer) done_(*std::move(answer), std::move(result));
  }

  Coordinator* const c_;
  const std::string list_id_;
  const crdt::ListState delta_;
  const std::optional<access::SecretHash> proof_;
  v1::ListState encoded_;  // written once, before Start
  const WriteDone done_;
  const LocalAnswer answer_;  // may be null

  absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kAwaitingW;
  FanOut fan_out_ ABSL_GUARDED_BY(mu_);
  Outcome decided_ ABSL_GUARDED_BY(mu_) = Outcome::kPending;
  // This node's own merge was sent and has not returned.
  bool local_pending_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<crdt::ListState> local_ ABSL_GUARDED_BY(mu_);
  // The first access refusal a replica answered.
  absl::Status refusal_ ABSL_GUARDED_BY(mu_);
};

// --- Read: one call's state machine ---
//
//   kAwaitingR ──R answers, or R out of reach──> kAwaitingAll ──last
//   answer──> kDone (read repair sent to the owners that had less)
//
// A digest read: when this node is one of the owners, it reads its own
// copy first, and the other owners answer with the digest of theirs alone
// (FetchRequest.digest). An owner whose digest matches counts as an answer
// with this node's state; one whose digest differs is asked again for its
// state, and that answer counts. Stand-ins always send their state (it
// joins the hints they hold). So a read of replicas in agreement moves one
// state, decodes one, and merges and compares nothing.
//
// A read that missed its quorum still repairs the owners that answered;
// one that found no replica with the list repairs nothing.
class Coordinator::ReadCall
    : public std::enable_shared_from_this<Coordinator::ReadCall> {
 public:
  enum class State { kAwaitingR, kAwaitingAll, kDone };

  ReadCall(Coordinator* c, std::string list_id, quorum::FanOutPlan plan,
           ReadOptions options, ReadDone done)
      : c_(c),
        list_id_(std::move(list_id)),
        options_(std::move(options)),
        done_(std::move(done)),
        fan_out_(std::move(plan), c->options_.read_quorum) {}

  void Start() {
    std::vector<Target> targets;
    {
      absl::MutexLock lock(&mu_);
      targets = fan_out_.Start(c_->options_.self_id);
    }
    if (targets.empty()) {
      done_(absl::UnavailableError("no healthy replica for this list"));
      return;
    }
    auto self = std::find_if(targets.begin(), targets.end(), [&](auto& t) {
      return t.node_id == c_->options_.self_id && t.intended_owner.empty();
    });
    bool digests = false;
    if (self != targets.end()) {
      // Read before any remote answer can arrive: those compare with it.
      absl::StatusOr<std::optional<storage::StoredCopy>> copy =
          storage::ReadStoredCopy(*c_->store_, list_id_, options_.holds_copy);
      bool undecoded = false;
      if (copy.ok()) {
        digests = true;
        absl::MutexLock lock(&mu_);
        local_digest_ = *copy ? std::optional((*copy)->digest) : std::nullopt;
        if (*copy && !(*copy)->decoded) {
          // Decoded only if an answer turns out to differ from it.
          undecoded = true;
          local_stored_ = std::move((*copy)->stored);
          local_access_ = std::move((*copy)->access);
        }
      }
      Reply reply = std::optional<crdt::ListState>();
      if (!copy.ok()) {
        reply = copy.status();
      } else if (*copy && !undecoded) {
        reply = std::optional(std::move((*copy)->state));
      }
      const Target target = *self;
      targets.erase(self);
      Record(target, std::move(reply), /*same_as_local=*/false, undecoded);
    }
    for (const Target& t : targets) {
      Send(t, digests && t.intended_owner.empty());
    }
  }

 private:
  using Reply = absl::StatusOr<std::optional<crdt::ListState>>;
  struct Answer {
    Target target;
    std::optional<crdt::ListState> state;
    // The answer was a matching digest: its state is this node's.
    bool same_as_local = false;
  };

  void Send(const Target& target, bool digest) {
    if (target.node_id == c_->options_.self_id) {
      // As a stand-in, this node's copy is the hints it holds, as a remote
      // Fetch would answer.
      OnReply(target, storage::ReadReplica(*c_->store_, list_id_));
      return;
    }
    v1::FetchRequest request;
    request.set_list_id(list_id_);
    // An owner answers with its stored bytes as they are; a stand-in joins
    // its hints.
    request.set_owner(target.intended_owner.empty());
    request.set_digest(digest);
    c_->BeginRemote();
    c_->peers_->Fetch(
        target.address, request, c_->options_.replica_timeout,
        [self = shared_from_this(), target, digest](
            const grpc::Status& status, const v1::FetchResponse& response) {
          if (digest && status.ok()) {
            self->OnDigest(target, response);
          } else {
            self->OnReply(target, Decode(target, status, response));
          }
          self->c_->EndRemote();
        });
  }

  static Reply Decode(const Target& target, const grpc::Status& status,
                      const v1::FetchResponse& response) {
    if (!status.ok()) return ToAbsl(status);
    if (!response.found()) return std::nullopt;
    absl::StatusOr<crdt::ListState> state =
        codec::DecodeState(response.state());
    if (!state.ok()) {
      return absl::DataLossError(
          absl::StrCat("replica ", target.node_id,
                       " sent an invalid state: ", state.status().message()));
    }
    return std::optional(*std::move(state));
  }

  // A digest answer. "Not found" and a state (from a replica of a version
  // before digest reads) are complete answers as they are.
  void OnDigest(const Target& target, const v1::FetchResponse& response) {
    if (!response.found() || response.has_state()) {
      OnReply(target, Decode(target, grpc::Status::OK, response));
      return;
    }
    bool same;
    {
      absl::MutexLock lock(&mu_);
      same = local_digest_ && response.digest() == *local_digest_;
    }
    if (!same) {
      ++c_->read_digest_misses_;
      Send(target, /*digest=*/false);
      return;
    }
    Record(target, Reply(std::nullopt), /*same_as_local=*/true);
  }

  void OnReply(const Target& target, Reply reply) {
    Record(target, std::move(reply), /*same_as_local=*/false);
  }

  // `undecoded`: the reply is this node's copy, not decoded (local_stored_).
  void Record(const Target& target, Reply reply, bool same_as_local,
              bool undecoded = false) {
    c_->NoteReply(target, reply.status());
    FanOut::Step step;
    std::optional<absl::StatusOr<ReadResult>> answer;
    std::optional<std::vector<Answer>> repair;
    crdt::ListState merged;
    {
      absl::MutexLock lock(&mu_);
      if (reply.ok()) {
        if (undecoded) found_ = true;
        if (reply->has_value()) {
          DecodeLocalLocked();  // it must be merged with this one
          merged_.Merge(**reply);
          found_ = true;
        }
        if (!same_as_local && target.node_id != c_->options_.self_id) {
          // A remote state: it may differ from this node's (only a
          // matching digest says it does not).
          differs_ = true;
        }
        if (!same_as_local && !(target.node_id == c_->options_.self_id &&
                                target.intended_owner.empty())) {
          only_local_ = false;  // a remote state, or hints held here
        }
        answers_.push_back({target, *std::move(reply), same_as_local});
      }
      step = fan_out_.Record(target, reply.ok());
      if (state_ == State::kAwaitingR && step.decided != Outcome::kPending) {
        state_ = State::kAwaitingAll;
        if (step.decided == Outcome::kFailed) {
          answer = absl::UnavailableError(
              absl::StrCat("read answered by ", step.acks, " replica(s); ",
                           c_->options_.read_quorum, " required"));
        } else if (found_ && only_local_ && local_stored_) {
          // Every answer is this node's copy, which the caller holds.
          ReadResult result;
          result.replies = step.acks;
          result.stored_digest = local_digest_;
          result.state_omitted = true;
          result.access = local_access_;
          answer = std::move(result);
        } else if (found_) {
          DecodeLocalLocked();
          ReadResult result;
          result.state = merged_;
          result.replies = step.acks;
          if (only_local_) result.stored_digest = local_digest_;
          answer = std::move(result);
        } else {
          answer = absl::NotFoundError(
              absl::StrCat("list ", list_id_, " not found"));
        }
      }
      if (state_ == State::kAwaitingAll && step.all_replied) {
        state_ = State::kDone;
        // Every answer the same state: nobody lacks anything.
        if (found_ && differs_) {
          DecodeLocalLocked();  // an owner without the list needs it
          repair = std::move(answers_);
          merged = std::move(merged_);
        }
      }
    }
    if (step.replacement) Send(*step.replacement, /*digest=*/false);
    if (answer) done_(*std::move(answer));
    if (repair) Repair(*repair, merged);
  }

  // Decodes this node's copy if it was read undecoded, into merged_ and its
  // answer. Its bytes decoded before (the caller holds what it made of
  // them), so a failure here is a copy damaged since: it then counts for
  // nothing, as anti-entropy and read repair refill it.
  void DecodeLocalLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!local_stored_) return;
    absl::StatusOr<crdt::ListState> state =
        storage::DecodeStored(*local_stored_, absl::StrCat("list ", list_id_));
    local_stored_.reset();
    if (!state.ok()) return;
    merged_.Merge(*state);
    for (Answer& a : answers_) {
      if (a.target.node_id == c_->options_.self_id &&
          a.target.intended_owner.empty()) {
        a.state = *std::move(state);
        break;
      }
    }
  }

  // Sends each owner that answered with less than `merged` what it lacks.
  // Stand-ins hold hints, not replicas, so they are not repaired.
  void Repair(const std::vector<Answer>& answers,
              const crdt::ListState& merged) {
    const std::optional<crdt::ListState>* local = nullptr;
    for (const Answer& a : answers) {
      if (a.target.node_id == c_->options_.self_id &&
          a.target.intended_owner.empty()) {
        local = &a.state;
      }
    }
    static const std::optional<crdt::ListState> kNone;
    for (const Answer& a : answers) {
      if (!a.target.intended_owner.empty()) continue;
      const std::optional<crdt::ListState>& state =
          a.same_as_local ? (local != nullptr ? *local : kNone) : a.state;
      if (state && *state == merged) continue;
      crdt::ListState delta =
          state ? merged.DeltaSince(state->context()) : merged;
      if (a.target.node_id == c_->options_.self_id) {
        (void)c_->store_->Merge(list_id_, delta);
        continue;
      }
      v1::StoreRequest request;
      request.set_list_id(list_id_);
      codec::EncodeState(delta, request.mutable_delta());
      c_->BeginRemote();
      c_->peers_->Store(a.target.address, request, c_->options_.replica_timeout,
                        [c = c_](const grpc::Status&) { c->EndRemote(); });
    }
  }

  Coordinator* const c_;
  const std::string list_id_;
  const ReadOptions options_;
  const ReadDone done_;

  absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kAwaitingR;
  FanOut fan_out_ ABSL_GUARDED_BY(mu_);
  // The digest of this node's stored copy (nullopt: it has none), read
  // before any digest was asked for.
  std::optional<std::string> local_digest_ ABSL_GUARDED_BY(mu_);
  crdt::ListState merged_ ABSL_GUARDED_BY(mu_);
  bool found_ ABSL_GUARDED_BY(mu_) = false;
  // Some answer may hold a state other than this node's.
  bool differs_ ABSL_GUARDED_BY(mu_) = false;
  // Every answer so far is this node's stored copy (its own, or an owner's
  // matching digest).
  bool only_local_ ABSL_GUARDED_BY(mu_) = true;
  // This node's copy, read but not decoded (ReadOptions::holds_copy), and
  // its access record.
  std::optional<storage::StoredList> local_stored_ ABSL_GUARDED_BY(mu_);
  crdt::Register local_access_ ABSL_GUARDED_BY(mu_);
  // Every successful answer, for read repair once all are in.
  std::vector<Answer> answers_ ABSL_GUARDED_BY(mu_);
};

Coordinator::Coordinator(CoordinatorOptions options,
                         storage::ReplicaStore* store, ReplicaPeers* peers,
                         const RingSource* ring, PeerHealth* health,
                         FailureSink* failures)
    : options_(std::move(options)),
      store_(store),
      peers_(peers),
      ring_(ring),
      health_(health),
      failures_(failures) {}

Coordinator::~Coordinator() {
  absl::MutexLock lock(&inflight_mu_);
  inflight_mu_.Await(absl::Condition(
      +[](int* n) { return *n == 0; }, &inflight_));
}

void Coordinator::BeginRemote() {
  absl::MutexLock lock(&inflight_mu_);
  ++inflight_;
}

void Coordinator::EndRemote() {
  absl::MutexLock lock(&inflight_mu_);
  --inflight_;
}

quorum::FanOutPlan Coordinator::PlanFor(const RingView& view,
                                        const std::string& list_id) const {
  std::vector<quorum::Candidate> walk;
  for (const ring::Member* m :
       view.ring.Owners(list_id, view.ring.members().size())) {
    bool self = m->id == options_.self_id;
    walk.push_back(
        {m->id, m->address, self || (m->up && health_->Healthy(m->id))});
  }
  return quorum::FanOutPlan(std::move(walk), options_.replicas);
}

absl::flat_hash_map<std::string, uint64_t> Coordinator::replica_failures()
    const {
  absl::MutexLock lock(&failures_mu_);
  return replica_failures_;
}

void Coordinator::NoteReply(const Target& target, const absl::Status& status) {
  if (target.node_id == options_.self_id) return;
  if (status.ok() || IsRefusal(status)) {
    health_->RecordSuccess(target.node_id);
    return;
  }
  {
    absl::MutexLock lock(&failures_mu_);
    ++replica_failures_[target.node_id];
  }
  health_->RecordFailure(target.node_id);
  if (failures_ != nullptr) {
    failures_->ReportFailure(target.node_id, std::string(status.message()));
  }
}

void Coordinator::Write(const std::string& list_id, crdt::ListState delta,
                        std::optional<access::SecretHash> proof, WriteDone done,
                        LocalAnswer answer) {
  std::shared_ptr<const RingView> view = ring_->Current();
  std::make_shared<WriteCall>(this, list_id, std::move(delta), proof,
                              PlanFor(*view, list_id), std::move(done),
                              std::move(answer))
      ->Start();
}

void Coordinator::Read(const std::string& list_id,
                       std::optional<access::SecretHash> proof, ReadDone done,
                       ReadOptions options) {
  if (proof) {
    done = [proof = *proof,
            done = std::move(done)](absl::StatusOr<ReadResult> read) {
      if (read.ok()) {
        absl::Status s =
            read->state_omitted
                ? access::Check(read->access, proof, access::Capability::kRead)
                : access::CheckRead(read->state, proof);
        if (!s.ok()) read = s;
      }
      done(std::move(read));
    };
  }
  std::shared_ptr<const RingView> view = ring_->Current();
  std::make_shared<ReadCall>(this, list_id, PlanFor(*view, list_id),
                             std::move(options), std::move(done))
      ->Start();
}

bool Coordinator::Owns(const std::string& list_id) const {
  std::shared_ptr<const RingView> view = ring_->Current();
  for (const ring::Member* m : view->ring.Owners(list_id, options_.replicas)) {
    if (m->id == options_.self_id) return true;
  }
  return false;
}

// --- Sync ---

void Coordinator::Sync(const std::string& list_id, crdt::ListState delta,
                       crdt::CausalContext known, bool create,
                       const access::SecretHash& proof, SyncDone done) {
  auto shared_known =
      std::make_shared<const crdt::CausalContext>(std::move(known));
  if (delta.carries_no_change()) {
    Read(list_id, proof,
         [create, shared_known, done](absl::StatusOr<ReadResult> read) {
           if (absl::IsNotFound(read.status()) && create) {
             done(SyncResult{{}, 0});
           } else if (!read.ok()) {
             done(read.status());
           } else {
             done(SyncResult{read->state.DeltaSince(*shared_known), 0});
           }
         });
    return;
  }
  // A change is checked before any replica sees it, against the list as
  // this node's copy has it when it is an owner that holds one, else as a
  // quorum read finds it; then every replica checks it again as it merges.
  // `base`: the state the check read when it was not this node's own copy;
  // with the change, it is the answer when this node holds no replica.
  auto write = [this, list_id, proof, shared_known, done](
                   crdt::ListState delta, std::optional<crdt::ListState> base) {
    if (base) base->Merge(delta);
    Write(
        list_id, std::move(delta), proof,
        [this, list_id, shared_known, done, base = std::move(base)](
            absl::Status status, WriteResult written) {
          if (!status.ok()) {
            done(status);
          } else if (written.local) {
            done(SyncResult{*std::move(written.local), written.acks});
          } else if (base) {
            done(SyncResult{base->DeltaSince(*shared_known), written.acks});
          } else {
            // This node's own merge failed: ask the replicas.
            Read(list_id, std::nullopt,
                 [shared_known, done,
                  acks = written.acks](absl::StatusOr<ReadResult> read) {
                   if (!read.ok()) {
                     done(read.status());
                   } else {
                     done(SyncResult{read->state.DeltaSince(*shared_known),
                                     acks});
                   }
                 });
          }
        },
        [shared_known](const crdt::ListState& stored) {
          return stored.DeltaSince(*shared_known);
        });
  };
  if (Owns(list_id)) {
    absl::StatusOr<std::optional<crdt::Register>> record =
        store_->StoredAccess(list_id);
    if (record.ok() && record->has_value()) {
      if (absl::Status s =
              access::Check(**record, proof, access::Needed(delta));
          !s.ok()) {
        done(s);
        return;
      }
      write(std::move(delta), std::nullopt);
      return;
    }
  }
  auto shared_delta = std::make_shared<crdt::ListState>(std::move(delta));
  Read(list_id, std::nullopt,
       [proof, shared_delta, write, done](absl::StatusOr<ReadResult> read) {
         // An unknown list is a new one: open until its first record.
         crdt::ListState current;
         if (read.ok()) {
           current = std::move(read->state);
         } else if (!absl::IsNotFound(read.status())) {
           done(read.status());
           return;
         }
         if (absl::Status s = access::CheckWrite(current, *shared_delta, proof);
             !s.ok()) {
           done(s);
           return;
         }
         write(std::move(*shared_delta), std::move(current));
       });
}

// --- Apply ---

void Coordinator::Apply(const std::string& list_id, v1::Operation operation,
                        const access::SecretHash& proof, ApplyDone done) {
  apply_order_.Run(list_id, [this, list_id, operation = std::move(operation),
                             proof, done = std::move(done)](
                                KeyedSerializer::Finished finished) {
    Read(list_id, std::nullopt,
         [this, list_id, operation, proof, done,
          finished](absl::StatusOr<ReadResult> read) {
           ApplyAfterRead(list_id, operation, proof, std::move(read),
                          [done, finished](absl::StatusOr<ApplyResult> result) {
                            finished();
                            done(std::move(result));
                          });
         });
  });
}

void Coordinator::ApplyAfterRead(const std::string& list_id,
                                 const v1::Operation& operation,
                                 const access::SecretHash& proof,
                                 absl::StatusOr<ReadResult> read,
                                 ApplyDone done) {
  crdt::ListState state;
  if (read.ok()) {
    state = std::move(read->state);
  } else if (!(absl::IsNotFound(read.status()) && operation.has_create())) {
    done(read.status());
    return;
  }
  // Nothing is reserved or applied for a request that proves too little:
  // what it would change decides what it needs.
  if (absl::Status s = access::CheckRead(state, proof); !s.ok()) {
    done(s);
    return;
  }
  absl::StatusOr<uint64_t> replica = store_->ReplicaId();
  if (!replica.ok()) {
    done(replica.status());
    return;
  }
  // This node may not hold the list, so its last counter on the list is
  // reserved durably here rather than read from the list's context.
  absl::StatusOr<uint64_t> counter =
      store_->ReserveCounter(list_id, state.context().Max(*replica),
                             codec::DotsNeeded(operation, state));
  if (!counter.ok()) {
    done(counter.status());
    return;
  }
  absl::StatusOr<crdt::ListState> delta = codec::ApplyOperation(
      operation, crdt::Writer(*replica, *counter),
      static_cast<uint64_t>(absl::ToUnixMicros(options_.clock())), state);
  if (!delta.ok()) {
    done(delta.status());
    return;
  }
  if (absl::Status s = access::CheckWrite(state, *delta, proof); !s.ok()) {
    done(s);
    return;
  }
  if (delta->empty()) {
    done(ApplyResult{*std::move(delta), std::move(state), 0});
    return;
  }
  crdt::ListState change = *delta;
  Write(list_id, std::move(change), proof,
        [done, delta = *std::move(delta), state = std::move(state)](
            absl::Status status, WriteResult written) {
          if (!status.ok()) {
            done(status);
            return;
          }
          done(ApplyResult{delta, state, written.acks});
        });
}

}  // namespace shoplist::node
