// Anti-entropy (Dynamo section 4.7) and hand-off on leave.
//
// Every round, for each other up member, the node takes the ring ranges
// both replicate, compares bucket digests of those ranges with the peer's,
// and for buckets that differed in the previous round too compares list
// hashes (a bucket that differs once is most often crossed by a write in
// flight, so a real divergence is repaired one round later); each list
// that differs is fetched from the peer and merged here, and this node's
// state is sent back. Merges are joins, so repairs in both directions are
// harmless when they race with writes. A node whose data folder was wiped is
// refilled this way; a node that joined fills its ranges.
//
// HandOffAll() sends every stored list to its current owners: a node that
// left the ring calls it before it exits.
//
// Thread-safe; runs its rounds on a thread of its own once started.
#ifndef SHOPLIST_SERVICES_NODE_ANTI_ENTROPY_H_
#define SHOPLIST_SERVICES_NODE_ANTI_ENTROPY_H_

#include <atomic>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "merkle/digest_index.h"
#include "services/node/replica_peers.h"
#include "services/node/ring_source.h"
#include "storage/replica_store.h"

namespace shoplist::node {

// The node's digest index, shared by the store's merge listener, the
// replica service and anti-entropy.
class SharedDigests {
 public:
  void Set(const std::string& list_id, absl::string_view stored_bytes);
  std::vector<merkle::Bucket> Digests(const ring::TokenRange& range,
                                      uint32_t depth);
  std::vector<std::pair<std::string, uint64_t>> ListsIn(
      const ring::TokenRange& range) const;
  // Rebuilds from what the store holds, forgetting lists it no longer
  // has: at start, and after the store repaired its database. No merge may
  // commit meanwhile (the store calls on_repair on its commit thread).
  absl::Status Load(storage::ReplicaStore& store);
  // Lists this node holds.
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  merkle::DigestIndex index_ ABSL_GUARDED_BY(mu_);
};

struct AntiEntropyOptions {
  size_t replicas = 3;
  absl::Duration interval = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(5);
  // 64 buckets per shared range at least; more for a range with many
  // lists (merkle::DepthFor).
  uint32_t depth = 6;
};

class AntiEntropy {
 public:
  struct Round {
    size_t peers = 0;           // peers compared with
    size_t ranges = 0;          // shared ranges compared
    size_t lists_repaired = 0;  // lists that differed and were exchanged
  };

  AntiEntropy(std::string self_id, storage::ReplicaStore* store,
              SharedDigests* digests, ReplicaPeers* peers,
              const RingSource* ring, AntiEntropyOptions options);
  ~AntiEntropy();

  void Start();
  Round RunOnce();
  // Sends every stored list to its owners under `view`. Returns the number
  // of lists that reached at least one owner.
  size_t HandOffAll(const RingView& view);

  // Lists repaired by every round so far (for metrics).
  uint64_t lists_repaired() const { return lists_repaired_.load(); }

 private:
  void Loop();
  // Compares one shared range with `peer`; returns lists repaired.
  size_t SyncRange(const std::string& peer_address,
                   const ring::TokenRange& range)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(rounds_mu_);
  // Fetches `list_id` from the peer, merges it here, sends ours back.
  bool Exchange(const std::string& peer_address, const std::string& list_id);

  const std::string self_id_;
  storage::ReplicaStore* const store_;
  SharedDigests* const digests_;
  ReplicaPeers* const peers_;
  const RingSource* const ring_;
  const AntiEntropyOptions options_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
  std::atomic<uint64_t> lists_repaired_{0};

  // Held for a whole round: rounds do not overlap.
  absl::Mutex rounds_mu_;
  // Buckets ("peer/start/end") that differed in the last round, and in this
  // one so far.
  absl::flat_hash_set<std::string> suspects_ ABSL_GUARDED_BY(rounds_mu_);
  absl::flat_hash_set<std::string> next_suspects_ ABSL_GUARDED_BY(rounds_mu_);
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_ANTI_ENTROPY_H_
