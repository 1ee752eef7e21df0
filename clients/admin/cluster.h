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
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shoplist/v1/admin_service.pb.h"
#include "shoplist/v1/membership_service.pb.h"

namespace shoplist::admin {

// The current view (the first of its Subscribe stream) of the first of
// `proxies` (HOST:PORT[,HOST:PORT...]) that answers. UNAVAILABLE or
// DEADLINE_EXCEEDED when none does, UNAUTHENTICATED without the cluster
// token they want.
absl::StatusOr<v1::RingView> FetchView(const std::string& proxies,
                                       absl::Duration timeout);

// The view of each of `proxies`, in the order given (each proxy keeps its
// own membership: they may disagree for a while).
struct ProxyView {
  std::string proxy;
  absl::StatusOr<v1::RingView> view;
};
std::vector<ProxyView> FetchViews(const std::string& proxies,
                                  absl::Duration timeout);

// Tells every one of `proxies` that `node_id` leaves the ring
// (MembershipService.Leave): each proxy keeps its own membership. Returns
// the newest view they answered with; the first error when one refused or
// did not answer (the others have still been told).
absl::StatusOr<v1::RingView> LeaveRing(const std::string& proxies,
                                       const std::string& node_id,
                                       absl::Duration timeout);

// The node's own status (AdminService.Status).
absl::StatusOr<v1::NodeStatus> AskNode(const std::string& address,
                                       absl::Duration timeout);

struct MemberReport {
  v1::Member member;
  // The node's answer, or why it gave none.
  absl::StatusOr<v1::NodeStatus> status;
  // A node that left the ring (view.left_nodes) and still answers: it is
  // handing its lists over. Its `member` state is DOWN.
  bool left = false;
};

// Asks every member of `view` for its status, and every node that left
// whose address the view has, all at once: the members in the view's
// order, then the nodes that left and still answer (those that do not
// have stopped and are not reported).
std::vector<MemberReport> AskMembers(const v1::RingView& view,
                                     absl::Duration timeout);

// Runs a repair round on the node at `address` (AdminService.Repair),
// calling `progress` with each message until the last (done = true), which
// it returns. No deadline: a round takes as long as it takes.
absl::StatusOr<v1::RepairProgress> RepairNode(
    const std::string& address,
    const std::function<void(const v1::RepairProgress&)>& progress);

struct BackupProgress {
  uint64_t records = 0;
  uint64_t bytes = 0;
};

// Copies every record of the node at `address` (AdminService.Backup, one
// consistent view while it serves) into a new LevelDB at `dir`, which must
// not exist, with a SHOPLIST-BACKUP file that names the node and the
// count; `progress` after each chunk. Returns what was copied.
// INVALID_ARGUMENT when `dir` exists; the node's or the disk's errors
// otherwise (a partial backup is left for the operator to remove).
absl::StatusOr<BackupProgress> BackupNode(
    const std::string& address, const std::string& dir,
    const std::function<void(const BackupProgress&)>& progress);

// Makes `data_dir` (new, or empty) a node's data directory from the backup
// in `backup_dir` (storage::RestoreData: without the old replica id).
// Returns the node id the backup came from and the records restored.
absl::StatusOr<std::pair<std::string, uint64_t>> RestoreBackup(
    const std::string& backup_dir, const std::string& data_dir);

}  // namespace shoplist::admin

#endif  // SHOPLIST_CLIENTS_ADMIN_CLUSTER_H_
