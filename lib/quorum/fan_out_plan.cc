#include "quorum/fan_out_plan.h"

#include <algorithm>

namespace shoplist::quorum {

FanOutPlan::FanOutPlan(std::vector<Candidate> walk, size_t n)
    : walk_(std::move(walk)),
      owners_(std::min(n, walk_.size())),
      next_(owners_) {}

std::vector<Target> FanOutPlan::InitialTargets() {
  std::vector<Target> targets;
  for (size_t i = 0; i < owners_; ++i) {
    const Candidate& c = walk_[i];
    if (c.healthy) {
      targets.push_back({c.node_id, c.address, ""});
    } else if (auto stand_in = NextStandIn(c.node_id)) {
      targets.push_back(*std::move(stand_in));
    }
  }
  return targets;
}

std::optional<Target> FanOutPlan::Replace(const Target& failed) {
  return NextStandIn(failed.owner());
}

std::optional<Target> FanOutPlan::NextStandIn(const std::string& owner) {
  while (next_ < walk_.size()) {
    const Candidate& c = walk_[next_++];
    if (c.healthy) return Target{c.node_id, c.address, owner};
  }
  return std::nullopt;
}

}  // namespace shoplist::quorum
