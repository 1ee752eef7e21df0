// The proxy's shared state: the membership table, the ring built from it,
// its persistence in LevelDB, and the subscribers to ring views. Every
// change produces a new immutable Snapshot; readers take the current one
// without locking the table.
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
#include "leveldb/db.h"
#include "membership/membership.h"
#include "ring/ring.h"
#include "shoplist/v1/membership_service.pb.h"

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

  // Opens the LevelDB in options.data_dir, restores the membership and
  // starts the time-out ticker.
  static absl::StatusOr<std::unique_ptr<ProxyState>> Open(ProxyOptions options);
  ~ProxyState();

  absl::Status Join(const std::string& id, const std::string& address);
  absl::Status Leave(const std::string& id);
  absl::Status Heartbeat(const std::string& id);
  absl::Status ReportFailure(const std::string& id);

  std::shared_ptr<const Snapshot> Current() const;
  const ProxyOptions& options() const { return options_; }

  // Calls `listener` with every new snapshot until RemoveListener. Calls
  // happen under an internal lock: listeners must not block or call back.
  int AddListener(Listener listener);
  void RemoveListener(int id);

 private:
  ProxyState(ProxyOptions options, std::unique_ptr<leveldb::DB> db);
  // Publishes and persists the table after a change. REQUIRES: mu_ held.
  absl::Status PublishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Change(const std::function<absl::Status()>& change);
  void TickLoop();

  const ProxyOptions options_;
  std::unique_ptr<leveldb::DB> db_;

  mutable absl::Mutex mu_;
  membership::Membership membership_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const Snapshot> current_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int, Listener> listeners_ ABSL_GUARDED_BY(mu_);
  int next_listener_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread ticker_;
};

}  // namespace shoplist::proxy

#endif  // SHOPLIST_SERVICES_PROXY_PROXY_STATE_H_
