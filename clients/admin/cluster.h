// What shoplist-admin learns from a cluster: the ring view of a proxy and
// each member's own status (AdminService). Blocking calls, each with a
// deadline; channels come from services/common/channels.h, so the process
// must set its channel security (TLS, the cluster token) first.
//
// Thread-compatible: one caller at a time.
#ifndef SHOPLIST_CLIENTS_ADMIN_CLUSTER_H_
#define SHOPLIST_CLIENTS_ADMIN_CLUSTER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shoplist/v1/admin_service.pb.h"
#include "shoplist/v1/membership_service.pb.h"

namespace shoplist::admin {

// The proxy's current view (the first of its Subscribe stream).
// UNAVAILABLE or DEADLINE_EXCEEDED when the proxy does not answer,
// UNAUTHENTICATED without the cluster token it wants.
absl::StatusOr<v1::RingView> FetchView(const std::string& proxy,
                                       absl::Duration timeout);

struct MemberReport {
  v1::Member member;
  // The node's answer, or why it gave none.
  absl::StatusOr<v1::NodeStatus> status;
};

// Asks every member of `view` for its status, all at once; in the view's
// order.
std::vector<MemberReport> AskMembers(const v1::RingView& view,
                                     absl::Duration timeout);

// Runs a repair round on the node at `address` (AdminService.Repair),
// calling `progress` with each message until the last (done = true), which
// it returns. No deadline: a round takes as long as it takes.
absl::StatusOr<v1::RepairProgress> RepairNode(
    const std::string& address,
    const std::function<void(const v1::RepairProgress&)>& progress);

}  // namespace shoplist::admin

#endif  // SHOPLIST_CLIENTS_ADMIN_CLUSTER_H_
