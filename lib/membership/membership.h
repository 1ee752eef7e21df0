// The proxy's membership table: which nodes belong to the ring and which
// are up. Pure logic with an injected clock; persistence and RPCs live in
// the proxy service.
//
// As in Dynamo, failure is not departure: a node that stops heart-beating,
// or that a coordinator reports, is marked down (skipped in preference
// lists, its writes going to stand-ins as hints) but keeps its ring
// positions until it leaves, or stays down past `removal_timeout`. Every
// change increments the version, so subscribers can tell views apart.
//
// Thread-compatible: the owner serialises calls.
#ifndef SHOPLIST_MEMBERSHIP_MEMBERSHIP_H_
#define SHOPLIST_MEMBERSHIP_MEMBERSHIP_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ring/ring.h"

namespace shoplist::membership {

struct MembershipOptions {
  // No heartbeat for this long: down.
  absl::Duration heartbeat_timeout = absl::Seconds(3);
  // Down for this long: removed from the ring (its ranges move).
  absl::Duration removal_timeout = absl::Hours(24);
};

struct NodeRecord {
  std::string id;
  std::string address;
  bool up = true;
  absl::Time last_heartbeat;
  // When the node came up (joined, or its heartbeat came back) or went
  // down, whichever is its state now; a restored table starts at its
  // restore.
  absl::Time since;
};

class Membership {
 public:
  explicit Membership(MembershipOptions options) : options_(options) {}

  // Restores a saved table: every node starts up, with `now` as its last
  // heartbeat, so a proxy restart marks nobody down at once.
  void Restore(uint64_t version, const std::vector<ring::Member>& members,
               absl::Time now);

  // Adds a node or updates its address, and marks it up. INVALID_ARGUMENT
  // for a bad id or an empty address.
  absl::Status Join(const std::string& id, const std::string& address,
                    absl::Time now);
  // Removes a node and remembers that it left on purpose (see Left()).
  // NOT_FOUND when unknown.
  absl::Status Leave(const std::string& id);
  // NOT_FOUND when unknown (the node should Join again).
  absl::Status Heartbeat(const std::string& id, absl::Time now);
  // Marks a node down. NOT_FOUND when unknown.
  absl::Status ReportFailure(const std::string& id, absl::Time now);
  // Applies time-outs. Returns true when the view changed.
  bool Tick(absl::Time now);

  uint64_t version() const { return version_; }
  // Members sorted by id, with their up flags.
  std::vector<ring::Member> Members() const;
  const NodeRecord* Find(const std::string& id) const;
  // Nodes that left with Leave and have not joined since, by id, with the
  // address each had (empty when restored from a table that did not keep
  // it): a node that left still serves while it hands its lists over.
  const std::map<std::string, std::string>& Left() const { return left_; }
  void RestoreLeft(std::map<std::string, std::string> left) {
    left_ = std::move(left);
  }

 private:
  void Changed() { ++version_; }

  const MembershipOptions options_;
  uint64_t version_ = 0;
  std::map<std::string, NodeRecord> nodes_;
  std::map<std::string, std::string> left_;
};

}  // namespace shoplist::membership

#endif  // SHOPLIST_MEMBERSHIP_MEMBERSHIP_H_
