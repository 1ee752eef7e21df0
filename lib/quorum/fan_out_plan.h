// Chooses the replicas a coordinator writes to or reads from (Dynamo's
// sloppy quorum). Given the clockwise walk of distinct nodes for a key, the
// first n are the owners; a down owner, or one that fails during the call,
// is replaced by the next healthy node past the owners, which keeps the
// write as a hint for that owner. No I/O; errors: none (a plan may have
// fewer targets than owners). Not thread-safe: quorum::FanOut owns one per
// call, under its caller's lock.
#ifndef SHOPLIST_QUORUM_FAN_OUT_PLAN_H_
#define SHOPLIST_QUORUM_FAN_OUT_PLAN_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace shoplist::quorum {

struct Candidate {
  std::string node_id;
  std::string address;
  bool healthy = true;
};

struct Target {
  std::string node_id;
  std::string address;
  // Empty when the target is an owner; else the owner it stands in for.
  std::string intended_owner;

  // The owner whose copy this target holds.
  const std::string& owner() const {
    return intended_owner.empty() ? node_id : intended_owner;
  }
};

class FanOutPlan {
 public:
  // `walk`: every node once, in clockwise order from the key's position.
  FanOutPlan(std::vector<Candidate> walk, size_t n);

  // One target per owner: the owner if healthy, else a stand-in; fewer when
  // not enough healthy nodes exist.
  std::vector<Target> InitialTargets();
  // A stand-in for `failed`'s owner: the next healthy node past the owners
  // not used yet; nullopt when none is left.
  std::optional<Target> Replace(const Target& failed);

 private:
  std::optional<Target> NextStandIn(const std::string& owner);

  std::vector<Candidate> walk_;
  size_t owners_;
  size_t next_ = 0;  // next candidate past the owners to consider
};

}  // namespace shoplist::quorum

#endif  // SHOPLIST_QUORUM_FAN_OUT_PLAN_H_
