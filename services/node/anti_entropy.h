// Anti-entropy (Dynamo section 4.7) and hand-off on leave.
//
// Every round, for each other up member, the node takes the ring ranges
// both replicate and compares bucket digests of those ranges with the
// peer's. A bucket that differs is most often crossed by a write in flight,
// so the round compares its differing buckets once more a moment later
// (AntiEntropyOptions::recheck) and compares list hashes only in buckets
// that still differ; each list that differs is fetched from the peer and
// merged here, and this node's state is sent back. Merges are joins, so repairs
// in both directions are harmless when they race with writes. A node whose data
// folder was wiped is refilled this way; a node that joined fills its ranges.
//
// HandOffAll() sends every stored list to its current owners: a node that
// left the ring calls it before it exits.
//
// Thread-safe; runs its rounds on a thread of its own once started.
#ifndef SHOPLIST_SERVICES_NODE_ANTI_ENTROPY_H_
#define SHOPLIST_SERVICES_NODE_ANTI_ENTROPY_H_

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
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
  // The list as stored now (its digest is of its causal context).
  void Set(const std::string& list_id, const crdt::ListState& stored);
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
  // How long after a round's first comparison its differing buckets are
  // compared again; only those that still differ go list by list.
  absl::Duration recheck = absl::Seconds(1);
};

class AntiEntropy {
 public:
  struct Round {
    size_t peers = 0;           // peers compared with
    size_t ranges = 0;          // shared ranges compared
    size_t lists_repaired = 0;  // lists that differed and were exchanged
    absl::Time finished = absl::InfinitePast();  // past: no round yet
    absl::Duration duration;
  };

  AntiEntropy(std::string self_id, storage::ReplicaStore* store,
              SharedDigests* digests, ReplicaPeers* peers,
              const RingSource* ring, AntiEntropyOptions options);
  ~AntiEntropy();

  // How far a round is: `done` of `total` steps (each shared range is
  // compared, and repaired list by list when it differed), and the lists
  // repaired so far. Called on the round's thread.
  using Progress =
      std::function<void(size_t done, size_t total, size_t lists_repaired)>;

  void Start();
  // Stops the rounds of Start, and makes a round running end early.
  void Stop();
  // A whole round now, after the one running if any (rounds do not
  // overlap); `progress` may be empty. A round of a stopping node ends
  // early (it skips the repairs).
  Round RunOnce(const Progress& progress = {});
  // Sends every stored list to its owners under `view`, until Stop().
  // Returns the number of lists that reached at least one owner.
  size_t HandOffAll(const RingView& view);
  // How far HandOffAll is (all zero before it starts); any thread.
  struct HandOff {
    uint64_t lists = 0;      // to send
    uint64_t sent = 0;       // tried so far
    uint64_t delivered = 0;  // of those, reached at least one owner
  };
  HandOff HandOffProgress() const {
    return {handoff_lists_.load(), handoff_sent_.load(),
            handoff_delivered_.load()};
  }

  // Lists repaired by every round so far (for metrics).
  uint64_t lists_repaired() const { return lists_repaired_.load(); }
  // The last round that ended; none while the node is in no ring.
  Round LastRound();

 private:
  // A shared range whose bucket digests differed from the peer's.
  struct Differing {
    std::string peer_address;
    ring::TokenRange range;
    uint32_t depth = 0;
    std::vector<size_t> buckets;  // indices into the range's buckets
  };
  void Loop();
  // Compares one shared range's bucket digests with `peer`'s.
  std::optional<Differing> CompareRange(const std::string& peer_address,
                                        const ring::TokenRange& range);
  // Compares the buckets of `found` again and, list by list, those that
  // still differ; returns lists repaired.
  size_t RepairRange(const Differing& found);
  // (their digests, ours) of `range` at `depth`; nullopt when the peer did
  // not answer or answered another number of buckets.
  std::optional<std::pair<v1::DigestResponse, std::vector<merkle::Bucket>>>
  DigestsWith(const std::string& peer_address, const ring::TokenRange& range,
              uint32_t depth);
  // Sleeps for options_.recheck; false when the node is stopping.
  bool Pause();
  bool Stopping();
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
  Round last_round_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
  std::atomic<uint64_t> lists_repaired_{0};
  std::atomic<uint64_t> handoff_lists_{0};
  std::atomic<uint64_t> handoff_sent_{0};
  std::atomic<uint64_t> handoff_delivered_{0};

  // Held for a whole round: rounds do not overlap.
  absl::Mutex rounds_mu_;
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_ANTI_ENTROPY_H_
