#include "membership/membership.h"

#include "absl/strings/str_cat.h"
#include "ring/node_id.h"

namespace shoplist::membership {
namespace {

absl::Status Unknown(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("node ", id, " is not a member"));
}

}  // namespace

void Membership::Restore(uint64_t version,
                         const std::vector<ring::Member>& members,
                         absl::Time now) {
  nodes_.clear();
  for (const ring::Member& m : members) {
    nodes_[m.id] = NodeRecord{m.id, m.address, true, now, now};
  }
  version_ = version;
}

absl::Status Membership::Join(const std::string& id, const std::string& address,
                              absl::Time now) {
  if (absl::Status s = ring::ValidateNodeId(id); !s.ok()) return s;
  if (address.empty() || address.size() > 256) {
    return absl::InvalidArgumentError("node address must be 1..256 bytes");
  }
  auto [it, added] = nodes_.try_emplace(id);
  NodeRecord& node = it->second;
  bool changed = added || node.address != address || !node.up;
  changed |= left_.erase(id) > 0;
  if (added || !node.up) node.since = now;
  node.id = id;
  node.address = address;
  node.up = true;
  node.last_heartbeat = now;
  if (changed) Changed();
  return absl::OkStatus();
}

absl::Status Membership::Leave(const std::string& id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return Unknown(id);
  left_[id] = it->second.address;
  nodes_.erase(it);
  Changed();
  return absl::OkStatus();
}

absl::Status Membership::Heartbeat(const std::string& id, absl::Time now) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return Unknown(id);
  it->second.last_heartbeat = now;
  if (!it->second.up) {
    it->second.up = true;
    it->second.since = now;
    Changed();
  }
  return absl::OkStatus();
}

absl::Status Membership::ReportFailure(const std::string& id, absl::Time now) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return Unknown(id);
  if (it->second.up) {
    it->second.up = false;
    it->second.since = now;
    Changed();
  }
  return absl::OkStatus();
}

bool Membership::Tick(absl::Time now) {
  bool changed = false;
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    NodeRecord& node = it->second;
    if (node.up && now - node.last_heartbeat > options_.heartbeat_timeout) {
      node.up = false;
      node.since = now;
      changed = true;
    }
    if (!node.up && now - node.since > options_.removal_timeout) {
      it = nodes_.erase(it);
      changed = true;
      continue;
    }
    ++it;
  }
  if (changed) Changed();
  return changed;
}

std::vector<ring::Member> Membership::Members() const {
  std::vector<ring::Member> members;
  for (const auto& [id, node] : nodes_) {
    members.push_back({node.id, node.address, node.up});
  }
  return members;
}

const NodeRecord* Membership::Find(const std::string& id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

}  // namespace shoplist::membership
