// The coordinator of Dynamo-style replication (DeCandia et al. 2007, 4.5-4.6)
// for shoplist's lists, and the one place that decides how a client call
// becomes replica calls. Handlers decode a request, make one call here and
// encode the answer.
//
// Model. A list lives on N replicas: the first N distinct nodes clockwise
// from its ring point. Each call takes one snapshot of the ring and plans
// from it alone (quorum::FanOut): owners that are down or quarantined by
// PeerHealth are replaced by the next healthy nodes past the owners, which
// keep what they receive as hints for those owners (sloppy quorum). Replica
// calls go out in parallel through ReplicaPeers; no thread waits on one.
// Each call is a small state machine in the manner of Riak's put and get
// FSMs (coordinator.cc names their states).
//
//  - Write: merges the delta here (when this node is a replica) and sends
//    it to the other replicas at once. Done when W replicas stored it
//    durably; UNAVAILABLE once W can no longer be reached (what was stored
//    stays stored, and hints, read repair and anti-entropy spread it).
//    Stragglers are not waited for.
//  - Read: asks N replicas; done after R answered, with the join of their
//    states. When every replica has answered, owners that had less receive
//    what they lack (read repair). When this node is an owner, the others
//    send a digest of their copy, and their state only when it differs
//    from this node's (a digest read: coordinator.cc).
//  - Sync: a client's exchange: a write when the delta changes anything,
//    answered with what the client's context lacks.
//  - Apply: a server-side operation, one at a time per list on this node:
//    read, apply as this node's own replica (with a durably reserved
//    counter), write.
//
// Access (docs/sharing.md). A client call carries `proof`, the hash of its
// secret, and gets what access::Check allows against the list's access
// record: a read that proves less than read is NOT_FOUND; a change is
// checked before any replica sees it (against this node's copy's access
// record when it is an owner holding one, kept in memory by the store,
// else a quorum read), and again by every replica
// as it merges, so a replica that has merged a revocation refuses it.
// Internal reads and writes (read repair, hand-off) pass no proof.
//
// Every `done` runs exactly once, on the calling thread or on a gRPC or
// store thread; it must not block.
//
// Thread-safe.
#ifndef SHOPLIST_SERVICES_NODE_COORDINATOR_H_
#define SHOPLIST_SERVICES_NODE_COORDINATOR_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "access/capability.h"
#include "crdt/causal_context.h"
#include "crdt/list_state.h"
#include "quorum/fan_out_plan.h"
#include "services/node/keyed_serializer.h"
#include "services/node/peer_health.h"
#include "services/node/replica_peers.h"
#include "services/node/ring_source.h"
#include "shoplist/v1/list_service.pb.h"
#include "storage/replica_store.h"

namespace shoplist::node {

struct CoordinatorOptions {
  std::string self_id;
  size_t replicas = 3;      // N
  size_t read_quorum = 2;   // R
  size_t write_quorum = 2;  // W
  // Deadline of each replica call.
  absl::Duration replica_timeout = absl::Seconds(2);
  std::function<absl::Time()> clock = &absl::Now;
};

// INVALID_ARGUMENT unless 1 <= R <= N, 1 <= W <= N and self_id is set.
absl::Status ValidateCoordinatorOptions(const CoordinatorOptions& options);

class Coordinator {
 public:
  // What a write's caller wants of the list as stored here right after
  // its merge (a Sync's missing delta, say). Runs on the store's commit
  // thread while the state is in hand, so a write never copies a whole
  // list to answer with a part of it (at 5,000 items the copy was 11% of
  // a coordinator's CPU).
  using LocalAnswer =
      std::function<crdt::ListState(const crdt::ListState& stored)>;
  struct WriteResult {
    // Replicas (this node included) that stored the delta durably.
    size_t acks = 0;
    // What the LocalAnswer made of the list as stored here after the
    // merge, when this node is an owner and one was given.
    std::optional<crdt::ListState> local;
  };
  using WriteDone = std::function<void(absl::Status, WriteResult)>;

  struct ReadResult {
    crdt::ListState state;
    size_t replies = 0;  // replicas whose answers were merged
    // Set when `state` is this node's stored copy as it is (every answer
    // was that copy or a matching digest of it): the copy's
    // storage::StoredDigest, so encodings of it can be kept and reused.
    std::optional<std::string> stored_digest;
    // `state` is left empty: it is the copy of `stored_digest`, which the
    // caller said it holds (ReadOptions::holds_copy); `access` is that
    // copy's access record.
    bool state_omitted = false;
    crdt::Register access;
  };
  using ReadDone = std::function<void(absl::StatusOr<ReadResult>)>;
  struct ReadOptions {
    // Called once, with the storage::StoredDigest of this node's stored
    // copy, on the calling thread before Read returns: true when the
    // caller holds what it needs of that copy. The copy is then decoded
    // only if another answer differs from it; when none does, the result
    // omits the state.
    std::function<bool(absl::string_view digest)> holds_copy;
  };

  struct SyncResult {
    // What the client's `known` context lacks of the list.
    crdt::ListState missing;
    // Replicas that stored the client's delta; 0 when it changed nothing.
    size_t acks = 0;
  };
  using SyncDone = std::function<void(absl::StatusOr<SyncResult>)>;

  struct ApplyResult {
    crdt::ListState delta;
    crdt::ListState state;  // the list after the operation
    size_t acks = 0;
  };
  using ApplyDone = std::function<void(absl::StatusOr<ApplyResult>)>;

  // REQUIRES: ValidateCoordinatorOptions(options) is OK. `failures` may be
  // null; every other pointer must outlive the coordinator.
  Coordinator(CoordinatorOptions options, storage::ReplicaStore* store,
              ReplicaPeers* peers, const RingSource* ring, PeerHealth* health,
              FailureSink* failures);
  // Waits for replica calls and own merges still in flight (a replica call
  // is bounded by replica_timeout, a merge by the disk), since callers were
  // answered without waiting for stragglers.
  ~Coordinator();

  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Stores `delta` on W replicas; with `proof`, each replica merges it only
  // if its copy's access record allows (access::Check). Errors:
  // UNAVAILABLE when fewer than W replicas stored it (the result says how
  // many did), or when no replica is healthy; the refusal (PERMISSION_DENIED
  // or NOT_FOUND) when replicas refused it and fewer than W stored it.
  // REQUIRES: `list_id` is valid (crdt::ValidateListId).
  void Write(const std::string& list_id, crdt::ListState delta,
             std::optional<access::SecretHash> proof, WriteDone done,
             LocalAnswer answer = nullptr);

  // The join of R replicas' states. Errors: NOT_FOUND when none of the R
  // knows the list, or when `proof` is given and cannot read it;
  // UNAVAILABLE when fewer than R answered; DATA_LOSS never reaches the
  // caller (a replica that sent bytes that do not decode counts as
  // failed). REQUIRES: `list_id` is valid.
  void Read(const std::string& list_id, std::optional<access::SecretHash> proof,
            ReadDone done, ReadOptions options = {});

  // Writes `delta` when it carries a change and `proof` allows it, then
  // answers with what `known` lacks: from this node's merged copy when it
  // is an owner, else from the quorum read the check made. A sync that
  // changes nothing is only a read. Errors: those of Write and Read, and
  // of access::CheckWrite (nothing is stored then), except that NOT_FOUND
  // with `create` is OK with nothing missing (the client made a list no
  // replica holds yet). REQUIRES: `list_id` is valid.
  void Sync(const std::string& list_id, crdt::ListState delta,
            crdt::CausalContext known, bool create,
            const access::SecretHash& proof, SyncDone done);

  // Applies `operation` to the list as this node's replica, after the
  // operations this node started before it on the same list. Errors: those
  // of Read (NOT_FOUND is OK for a create), of access::CheckWrite for the
  // change it makes, INVALID_ARGUMENT from the operation, those of Write;
  // a store error reserving the counter. REQUIRES: `list_id` is valid.
  void Apply(const std::string& list_id, v1::Operation operation,
             const access::SecretHash& proof, ApplyDone done);

  // The version of the ring calls are planned on; 0 before the first.
  uint64_t ring_version() const { return ring_->Current()->version; }
  // Replica calls that failed or timed out so far, by the peer's node id
  // (for metrics; peers that never failed are absent).
  absl::flat_hash_map<std::string, uint64_t> replica_failures() const;
  // Digest reads whose owner's digest differed from this node's copy, so
  // its state was fetched too (for metrics).
  uint64_t read_digest_misses() const { return read_digest_misses_.load(); }

 private:
  class WriteCall;
  class ReadCall;

  // The fan-out plan for `list_id` on one ring snapshot.
  quorum::FanOutPlan PlanFor(const RingView& view,
                             const std::string& list_id) const;
  // Whether this node is one of the list's N owners on the current ring.
  bool Owns(const std::string& list_id) const;
  // Health bookkeeping for a replica's reply (none for this node's own).
  void NoteReply(const quorum::Target& target, const absl::Status& status);
  // Replica calls in flight, which the destructor waits for.
  void BeginRemote();
  void EndRemote();

  void ApplyAfterRead(const std::string& list_id,
                      const v1::Operation& operation,
                      const access::SecretHash& proof,
                      absl::StatusOr<ReadResult> read, ApplyDone done);

  const CoordinatorOptions options_;
  storage::ReplicaStore* const store_;
  ReplicaPeers* const peers_;
  const RingSource* const ring_;
  PeerHealth* const health_;
  FailureSink* const failures_;
  mutable absl::Mutex failures_mu_;
  absl::flat_hash_map<std::string, uint64_t> replica_failures_
      ABSL_GUARDED_BY(failures_mu_);
  std::atomic<uint64_t> read_digest_misses_{0};
  KeyedSerializer apply_order_;

  absl::Mutex inflight_mu_;
  int inflight_ ABSL_GUARDED_BY(inflight_mu_) = 0;
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_COORDINATOR_H_
