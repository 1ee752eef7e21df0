// Hinted hand-off: a background thread that delivers the hints this node
// holds to their owners and deletes each one only after its owner stored
// it. An owner that does not answer keeps its hints until it does.
#ifndef SHOPLIST_SERVICES_NODE_HINT_DELIVERER_H_
#define SHOPLIST_SERVICES_NODE_HINT_DELIVERER_H_

#include <atomic>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/node/peer_health.h"
#include "services/node/replica_peers.h"
#include "services/node/ring_source.h"
#include "storage/replica_store.h"

namespace shoplist::node {

class HintDeliverer {
 public:
  // Everything passed must outlive this object.
  HintDeliverer(std::string self_id, storage::ReplicaStore* store,
                ReplicaPeers* peers, const RingSource* ring, PeerHealth* health,
                absl::Duration interval, absl::Duration timeout);
  // Stops the thread, if started, after the round in progress.
  ~HintDeliverer();

  // Runs DeliverOnce() every `interval` on a thread of its own.
  void Start();

  // One round: tries every owner with hints once. Returns hints delivered.
  size_t DeliverOnce();

  // Hints left after the last round (counted up to one round's 1,024).
  uint64_t pending() const { return pending_.load(); }
  // When the oldest of them was kept (storage::Hint::since); InfinitePast
  // when none is left. Like pending(), it looks at one round's 1,024 hints
  // in key order (by list id): with more, the oldest of a sample of them.
  absl::Time oldest_pending() const {
    const int64_t micros = oldest_pending_micros_.load();
    return micros == 0 ? absl::InfinitePast() : absl::FromUnixMicros(micros);
  }

 private:
  void Loop();

  const std::string self_id_;
  storage::ReplicaStore* const store_;
  ReplicaPeers* const peers_;
  const RingSource* const ring_;
  PeerHealth* const health_;
  const absl::Duration interval_;
  const absl::Duration timeout_;
  std::atomic<uint64_t> pending_{0};
  // Unix microseconds; 0 for none.
  std::atomic<int64_t> oldest_pending_micros_{0};
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_HINT_DELIVERER_H_
