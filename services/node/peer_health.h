// A node's own view of which peers answer. A peer whose call failed is
// avoided for a quarantine period (its writes go to stand-ins as hints),
// then tried again; a success clears it at once. This reacts faster than
// the proxy's membership view and works without it.
//
// Thread-safe.
#ifndef SHOPLIST_SERVICES_NODE_PEER_HEALTH_H_
#define SHOPLIST_SERVICES_NODE_PEER_HEALTH_H_

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace shoplist::node {

class PeerHealth {
 public:
  using Clock = std::function<absl::Time()>;

  explicit PeerHealth(absl::Duration quarantine, Clock clock = &absl::Now)
      : quarantine_(quarantine), clock_(std::move(clock)) {}

  void RecordFailure(const std::string& node_id);
  void RecordSuccess(const std::string& node_id);
  bool Healthy(const std::string& node_id) const;

 private:
  const absl::Duration quarantine_;
  const Clock clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> failed_at_ ABSL_GUARDED_BY(mu_);
};

// Where a coordinator reports a replica it could not reach (the proxies'
// membership service, in production).
class FailureSink {
 public:
  virtual ~FailureSink() = default;
  virtual void ReportFailure(const std::string& node_id,
                             const std::string& reason) = 0;
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_PEER_HEALTH_H_
