// The coordinator of Dynamo-style replication (DeCandia et al. 2007, 4.5-4.6)
// for shoplist's lists. For each call it chooses the list's replicas from
// the current ring (sloppy quorum: down or failing owners are replaced by
// the next healthy nodes, which keep the data as hints for them) and talks
// to them in parallel through ReplicaPeers, never blocking a thread on a
// replica.
//
//  - Write: merge the delta locally (when this node is a replica) and send
//    it to the other replicas at once; done once W have stored it durably,
//    or with UNAVAILABLE once W can no longer be reached (what was stored
//    stays stored). Stragglers are not waited for.
//  - Read: ask N replicas; done after R answers with their merge (NOT_FOUND
//    when none knows the list). When every replica has answered, replicas
//    that had less receive what they lack (read repair).
//  - Apply: a server-side operation, one at a time per list: read, apply as
//    this node's own replica (with a durably reserved counter), write.
//
// Callbacks run once, on the calling thread or a gRPC thread.
// Thread-safe.
#ifndef SHOPLIST_SERVICES_NODE_COORDINATOR_H_
#define SHOPLIST_SERVICES_NODE_COORDINATOR_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
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

class Coordinator {
 public:
  struct WriteResult {
    // Replicas (this node included) that stored the delta durably.
    size_t acks = 0;
    // The list as stored here after the merge, when this node is an owner.
    std::optional<crdt::ListState> local;
  };
  using WriteDone = std::function<void(absl::Status, WriteResult)>;

  struct ReadResult {
    crdt::ListState state;
    size_t replies = 0;  // replicas whose answers were merged
  };
  using ReadDone = std::function<void(absl::StatusOr<ReadResult>)>;

  struct ApplyResult {
    crdt::ListState delta;
    crdt::ListState state;  // the list after the operation
    size_t acks = 0;
  };
  using ApplyDone = std::function<void(absl::StatusOr<ApplyResult>)>;

  // `failures` may be null. Everything else must outlive the coordinator.
  Coordinator(CoordinatorOptions options, storage::ReplicaStore* store,
              ReplicaPeers* peers, const RingSource* ring, PeerHealth* health,
              FailureSink* failures);
  // Waits for replica calls still in flight (bounded by replica_timeout).
  ~Coordinator();

  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  void Write(const std::string& list_id, crdt::ListState delta, WriteDone done);
  void Read(const std::string& list_id, ReadDone done);
  void Apply(const std::string& list_id, v1::Operation operation,
             ApplyDone done);

  const CoordinatorOptions& options() const { return options_; }
  // Replica calls that failed or timed out so far (for metrics).
  uint64_t replica_failures() const { return replica_failures_.load(); }

 private:
  struct WriteCall;
  struct ReadCall;

  quorum::FanOutPlan PlanFor(const std::string& list_id) const;
  void BeginRemote();
  void EndRemote();
  void NoteFailure(const quorum::Target& target, const std::string& why);

  void SendWrite(const std::shared_ptr<WriteCall>& call,
                 const quorum::Target& target);
  void OnWriteReply(const std::shared_ptr<WriteCall>& call,
                    const quorum::Target& target, const absl::Status& status);

  void SendRead(const std::shared_ptr<ReadCall>& call,
                const quorum::Target& target);
  void OnReadReply(const std::shared_ptr<ReadCall>& call,
                   const quorum::Target& target,
                   absl::StatusOr<std::optional<crdt::ListState>> reply);
  void RepairReplicas(const std::shared_ptr<ReadCall>& call);

  void ApplyAfterRead(const std::string& list_id,
                      const v1::Operation& operation,
                      absl::StatusOr<ReadResult> read, ApplyDone done);

  const CoordinatorOptions options_;
  storage::ReplicaStore* const store_;
  ReplicaPeers* const peers_;
  const RingSource* const ring_;
  PeerHealth* const health_;
  FailureSink* const failures_;
  std::atomic<uint64_t> replica_failures_{0};
  KeyedSerializer apply_order_;
  absl::Mutex inflight_mu_;
  int inflight_ ABSL_GUARDED_BY(inflight_mu_) = 0;
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_COORDINATOR_H_
