#include "services/node/coordinator.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codec/list_codec.h"
#include "codec/operation.h"
#include "quorum/quorum_tracker.h"
#include "services/common/status_util.h"

namespace shoplist::node {

using quorum::QuorumTracker;
using quorum::Target;
using Outcome = QuorumTracker::Outcome;

struct Coordinator::WriteCall {
  WriteCall(std::string id, crdt::ListState d, quorum::FanOutPlan p,
            size_t needed, uint64_t version, WriteDone callback)
      : list_id(std::move(id)),
        delta(std::move(d)),
        view_version(version),
        done(std::move(callback)),
        plan(std::move(p)),
        tracker(needed) {
    codec::EncodeState(delta, &encoded);
  }

  const std::string list_id;
  const crdt::ListState delta;
  v1::ListState encoded;
  const uint64_t view_version;
  const WriteDone done;

  absl::Mutex mu;
  quorum::FanOutPlan plan ABSL_GUARDED_BY(mu);
  QuorumTracker tracker ABSL_GUARDED_BY(mu);
  std::optional<crdt::ListState> local ABSL_GUARDED_BY(mu);
  // The caller is answered only after this node's own store answered, so
  // the reply can carry the local state; the outcome waits here meanwhile.
  bool local_pending ABSL_GUARDED_BY(mu) = false;
  Outcome decided ABSL_GUARDED_BY(mu) = Outcome::kPending;
  bool answered ABSL_GUARDED_BY(mu) = false;
};

struct Coordinator::ReadCall {
  ReadCall(std::string id, quorum::FanOutPlan p, size_t needed,
           ReadDone callback)
      : list_id(std::move(id)),
        done(std::move(callback)),
        plan(std::move(p)),
        tracker(needed) {}

  const std::string list_id;
  const ReadDone done;

  absl::Mutex mu;
  quorum::FanOutPlan plan ABSL_GUARDED_BY(mu);
  QuorumTracker tracker ABSL_GUARDED_BY(mu);
  crdt::ListState merged ABSL_GUARDED_BY(mu);
  bool found ABSL_GUARDED_BY(mu) = false;
  // Every answer, for read repair once all are in.
  std::vector<std::pair<Target, std::optional<crdt::ListState>>> answers
      ABSL_GUARDED_BY(mu);
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
  // Replica calls outlive the replies that did not wait for them; they
  // reference this object until their callbacks ran.
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

quorum::FanOutPlan Coordinator::PlanFor(const std::string& list_id) const {
  std::shared_ptr<const RingView> view = ring_->Current();
  std::vector<quorum::Candidate> walk;
  for (const ring::Member* m :
       view->ring.Owners(list_id, view->ring.members().size())) {
    bool self = m->id == options_.self_id;
    walk.push_back(
        {m->id, m->address, self || (m->up && health_->Healthy(m->id))});
  }
  return quorum::FanOutPlan(std::move(walk), options_.replicas);
}

void Coordinator::NoteFailure(const Target& target, const std::string& why) {
  ++replica_failures_;
  health_->RecordFailure(target.node_id);
  if (failures_ != nullptr) failures_->ReportFailure(target.node_id, why);
}

// --- Write ---

void Coordinator::Write(const std::string& list_id, crdt::ListState delta,
                        WriteDone done) {
  quorum::FanOutPlan plan = PlanFor(list_id);
  std::vector<Target> targets = plan.InitialTargets();
  if (targets.empty()) {
    done(absl::UnavailableError("no healthy replica for this list"), {});
    return;
  }
  auto call = std::make_shared<WriteCall>(
      list_id, std::move(delta), std::move(plan), options_.write_quorum,
      ring_->Current()->version, std::move(done));
  const Target* self = nullptr;
  {
    absl::MutexLock lock(&call->mu);
    for (const Target& t : targets) {
      call->tracker.AddTarget();
      if (t.node_id == options_.self_id) {
        self = &t;
        call->local_pending = true;
      }
    }
  }
  // Remote replicas first, so the network works while the local disk syncs.
  for (const Target& t : targets) {
    if (&t != self) SendWrite(call, t);
  }
  if (self != nullptr) SendWrite(call, *self);
}

void Coordinator::SendWrite(const std::shared_ptr<WriteCall>& call,
                            const Target& target) {
  if (target.node_id == options_.self_id) {
    if (target.intended_owner.empty()) {
      // Shares an fsync with concurrent writes (group commit); no thread
      // waits for it.
      BeginRemote();
      store_->MergeAsync(
          call->list_id, call->delta,
          [this, call, target](const absl::StatusOr<crdt::ListState>& merged) {
            if (merged.ok()) {
              absl::MutexLock lock(&call->mu);
              call->local = *merged;
            }
            OnWriteReply(call, target, merged.status());
            EndRemote();
          });
      return;
    }
    OnWriteReply(
        call, target,
        store_->AddHint(target.intended_owner, call->list_id, call->delta));
    return;
  }
  v1::StoreRequest request;
  request.set_list_id(call->list_id);
  *request.mutable_delta() = call->encoded;
  request.set_intended_owner(target.intended_owner);
  request.set_view_version(call->view_version);
  BeginRemote();
  peers_->Store(target.address, request, options_.replica_timeout,
                [this, call, target](const grpc::Status& status) {
                  OnWriteReply(call, target, ToAbsl(status));
                  EndRemote();
                });
}

void Coordinator::OnWriteReply(const std::shared_ptr<WriteCall>& call,
                               const Target& target,
                               const absl::Status& status) {
  const bool self = target.node_id == options_.self_id;
  if (!self) {
    if (status.ok()) {
      health_->RecordSuccess(target.node_id);
    } else {
      NoteFailure(target, std::string(status.message()));
    }
  }
  std::optional<Target> replacement;
  Outcome answer = Outcome::kPending;
  size_t acks = 0;
  std::optional<crdt::ListState> local;
  {
    absl::MutexLock lock(&call->mu);
    if (!status.ok()) {
      replacement = call->plan.Replace(target);
      if (replacement) call->tracker.AddTarget();
    }
    Outcome outcome = call->tracker.Record(status.ok());
    if (outcome != Outcome::kPending) call->decided = outcome;
    if (self) call->local_pending = false;
    if (call->decided != Outcome::kPending && !call->local_pending &&
        !call->answered) {
      call->answered = true;
      answer = call->decided;
      acks = call->tracker.acks();
      local = std::move(call->local);
    }
  }
  if (replacement) SendWrite(call, *replacement);
  if (answer == Outcome::kReached) {
    call->done(absl::OkStatus(), {acks, std::move(local)});
  } else if (answer == Outcome::kFailed) {
    call->done(absl::UnavailableError(
                   absl::StrCat("stored on ", acks, " replica(s); ",
                                options_.write_quorum, " required")),
               {acks, std::move(local)});
  }
}

// --- Read ---

void Coordinator::Read(const std::string& list_id, ReadDone done) {
  quorum::FanOutPlan plan = PlanFor(list_id);
  std::vector<Target> targets = plan.InitialTargets();
  if (targets.empty()) {
    done(absl::UnavailableError("no healthy replica for this list"));
    return;
  }
  auto call = std::make_shared<ReadCall>(list_id, std::move(plan),
                                         options_.read_quorum, std::move(done));
  const Target* self = nullptr;
  {
    absl::MutexLock lock(&call->mu);
    for (const Target& t : targets) {
      call->tracker.AddTarget();
      if (t.node_id == options_.self_id) self = &t;
    }
  }
  for (const Target& t : targets) {
    if (&t != self) SendRead(call, t);
  }
  if (self != nullptr) SendRead(call, *self);
}

void Coordinator::SendRead(const std::shared_ptr<ReadCall>& call,
                           const Target& target) {
  if (target.node_id == options_.self_id) {
    absl::StatusOr<crdt::ListState> state = store_->Get(call->list_id);
    if (absl::IsNotFound(state.status())) {
      OnReadReply(call, target, std::optional<crdt::ListState>());
    } else if (!state.ok()) {
      OnReadReply(call, target, state.status());
    } else {
      OnReadReply(call, target,
                  std::optional<crdt::ListState>(*std::move(state)));
    }
    return;
  }
  v1::FetchRequest request;
  request.set_list_id(call->list_id);
  BeginRemote();
  peers_->Fetch(
      target.address, request, options_.replica_timeout,
      [this, call, target](const grpc::Status& status,
                           const v1::FetchResponse& response) {
        if (!status.ok()) {
          OnReadReply(call, target, ToAbsl(status));
        } else if (!response.found()) {
          OnReadReply(call, target, std::optional<crdt::ListState>());
        } else {
          absl::StatusOr<crdt::ListState> state =
              codec::DecodeState(response.state());
          if (state.ok()) {
            OnReadReply(call, target,
                        std::optional<crdt::ListState>(*std::move(state)));
          } else {
            OnReadReply(
                call, target,
                absl::DataLossError(absl::StrCat(
                    "replica ", target.node_id,
                    " sent an invalid state: ", state.status().message())));
          }
        }
        EndRemote();
      });
}

void Coordinator::OnReadReply(
    const std::shared_ptr<ReadCall>& call, const Target& target,
    absl::StatusOr<std::optional<crdt::ListState>> reply) {
  const bool self = target.node_id == options_.self_id;
  if (!self) {
    if (reply.ok()) {
      health_->RecordSuccess(target.node_id);
    } else {
      NoteFailure(target, std::string(reply.status().message()));
    }
  }
  std::optional<Target> replacement;
  Outcome outcome;
  std::optional<absl::StatusOr<ReadResult>> answer;
  bool all_replied;
  {
    absl::MutexLock lock(&call->mu);
    if (!reply.ok()) {
      replacement = call->plan.Replace(target);
      if (replacement) call->tracker.AddTarget();
    } else {
      if (reply->has_value()) {
        call->merged.Merge(**reply);
        call->found = true;
      }
      call->answers.emplace_back(target, *std::move(reply));
    }
    outcome = call->tracker.Record(reply.ok());
    if (outcome == Outcome::kReached) {
      if (call->found) {
        answer = ReadResult{call->merged, call->tracker.acks()};
      } else {
        answer = absl::NotFoundError(
            absl::StrCat("list ", call->list_id, " not found"));
      }
    } else if (outcome == Outcome::kFailed) {
      answer = absl::UnavailableError(
          absl::StrCat("read answered by ", call->tracker.acks(),
                       " replica(s); ", options_.read_quorum, " required"));
    }
    all_replied = call->tracker.all_replied() && !replacement;
  }
  if (replacement) SendRead(call, *replacement);
  if (answer) call->done(*std::move(answer));
  if (all_replied) RepairReplicas(call);
}

void Coordinator::RepairReplicas(const std::shared_ptr<ReadCall>& call) {
  std::vector<std::pair<Target, crdt::ListState>> repairs;
  {
    absl::MutexLock lock(&call->mu);
    if (!call->found) return;
    for (const auto& [target, state] : call->answers) {
      // Stand-ins hold hints, not replicas: only owners are repaired.
      if (!target.intended_owner.empty()) continue;
      if (state && *state == call->merged) continue;
      repairs.emplace_back(
          target,
          state ? call->merged.DeltaSince(state->context()) : call->merged);
    }
  }
  for (auto& [target, delta] : repairs) {
    if (target.node_id == options_.self_id) {
      (void)store_->Merge(call->list_id, delta);
      continue;
    }
    v1::StoreRequest request;
    request.set_list_id(call->list_id);
    codec::EncodeState(delta, request.mutable_delta());
    request.set_view_version(ring_->Current()->version);
    BeginRemote();
    peers_->Store(target.address, request, options_.replica_timeout,
                  [this](const grpc::Status&) { EndRemote(); });
  }
}

// --- Apply ---

void Coordinator::Apply(const std::string& list_id, v1::Operation operation,
                        ApplyDone done) {
  apply_order_.Run(
      list_id, [this, list_id, operation = std::move(operation),
                done = std::move(done)](KeyedSerializer::Finished finished) {
        Read(list_id, [this, list_id, operation, done,
                       finished](absl::StatusOr<ReadResult> read) {
          ApplyAfterRead(list_id, operation, std::move(read),
                         [done, finished](absl::StatusOr<ApplyResult> result) {
                           finished();
                           done(std::move(result));
                         });
        });
      });
}

void Coordinator::ApplyAfterRead(const std::string& list_id,
                                 const v1::Operation& operation,
                                 absl::StatusOr<ReadResult> read,
                                 ApplyDone done) {
  crdt::ListState state;
  if (read.ok()) {
    state = std::move(read->state);
  } else if (!(absl::IsNotFound(read.status()) && operation.has_create())) {
    done(read.status());
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
  if (delta->empty()) {
    done(ApplyResult{*std::move(delta), std::move(state), 0});
    return;
  }
  crdt::ListState change = *delta;
  Write(list_id, std::move(change),
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
