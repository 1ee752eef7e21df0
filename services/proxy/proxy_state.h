// The proxy's shared state: the membership table, the ring built from it,
// its persistence in LevelDB (storage::RecoveringDb), and the subscribers
// to ring views.
//
// Every change of the table builds a new immutable Snapshot, persists the
// table with a synced write, then publishes the snapshot. Readers
// (Current(), which the gateway calls on every request) only copy a
// pointer under a mutex that no disk write is done under, so a request
// never waits for a sync. Changes are serialised under mu_, which is held
// across the synced write: a Join waits for the previous change's sync.
//
// Errors: a change whose write fails is still applied and published (the
// cluster must go on routing); the error is returned, and the table is
// written again with the next change. UNAVAILABLE for a disk that fails,
// DATA_LOSS for a damaged stored version.
//
// Thread-safe.
#ifndef SHOPLIST_SERVICES_PROXY_PROXY_STATE_H_
#define SHOPLIST_SERVICES_PROXY_PROXY_STATE_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "leveldb/env.h"
#include "membership/membership.h"
#include "ring/ring.h"
#include "shoplist/v1/membership_service.pb.h"
#include "storage/recovering_db.h"

namespace shoplist::proxy {

struct Snapshot {
  uint64_t version = 0;
  ring::Ring ring;
  v1::RingView view;
};

struct ProxyOptions {
  std::string proxy_id;
  std::string data_dir;
  uint32_t vnodes = 64;
  size_t replicas = 3;
  membership::MembershipOptions membership;
  absl::Duration tick_interval = absl::Milliseconds(250);
  std::function<absl::Time()> clock = &absl::Now;
  // The membership store's file system; null is the real one. Not owned.
  leveldb::Env* env = nullptr;
};

class ProxyState {
 public:
  using Listener = std::function<void(std::shared_ptr<const Snapshot>)>;

  // Opens the LevelDB in options.data_dir, restores the membership (as a
  // view newer than any sent before the restart) and starts the time-out
  // ticker.
  static absl::StatusOr<std::unique_ptr<ProxyState>> Open(ProxyOptions options);
  // Stops the ticker.
  ~ProxyState();

  // The membership changes (membership/membership.h has their rules and
  // INVALID_ARGUMENT / NOT_FOUND errors), each persisted and published
  // when it changed the table.
  absl::Status Join(const std::string& id, const std::string& address);
  absl::Status Leave(const std::string& id);
  absl::Status Heartbeat(const std::string& id);
  absl::Status ReportFailure(const std::string& id);

  // The newest published snapshot; never null. Never waits for a change.
  std::shared_ptr<const Snapshot> Current() const;
  const ProxyOptions& options() const { return options_; }

  // Calls `listener` with every new snapshot, in order, until
  // RemoveListener; Current() already returns it by then. Calls happen
  // under mu_: listeners must not block nor change the table (Current() is
  // allowed).
  int AddListener(Listener listener);
  void RemoveListener(int id);

 private:
  ProxyState(ProxyOptions options, std::unique_ptr<storage::RecoveringDb> db);
  // Persists the table after a change, then publishes its snapshot.
  absl::Status PublishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Change(const std::function<absl::Status()>& change);
  void TickLoop();

  // Immutable after Open; thread-safe themselves.
  const ProxyOptions options_;
  const std::unique_ptr<storage::RecoveringDb> db_;

  // Guarded by mu_: the table and everything that follows its changes.
  mutable absl::Mutex mu_;
  membership::Membership membership_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int, Listener> listeners_ ABSL_GUARDED_BY(mu_);
  int next_listener_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;

  // Guarded by current_mu_ alone, which is held only to copy or swap the
  // pointer (never across I/O); acquired after mu_ when both are held.
  mutable absl::Mutex current_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::shared_ptr<const Snapshot> current_ ABSL_GUARDED_BY(current_mu_);

  // Runs TickLoop; joined by the destructor.
  std::thread ticker_;
};

}  // namespace shoplist::proxy

#endif  // SHOPLIST_SERVICES_PROXY_PROXY_STATE_H_
