#include "services/node/peer_health.h"

namespace shoplist::node {

void PeerHealth::RecordFailure(const std::string& node_id) {
  absl::MutexLock lock(&mu_);
  failed_at_[node_id] = clock_();
}

void PeerHealth::RecordSuccess(const std::string& node_id) {
  absl::MutexLock lock(&mu_);
  failed_at_.erase(node_id);
}

bool PeerHealth::Healthy(const std::string& node_id) const {
  absl::MutexLock lock(&mu_);
  auto it = failed_at_.find(node_id);
  return it == failed_at_.end() || clock_() - it->second >= quarantine_;
}

}  // namespace shoplist::node
