// AdminService (admin_service.proto): what an operator's tool asks of a
// node. The handlers pass the cluster-token gate and make one call into
// what the node server gives them (node_server.cc gathers the figures from
// its parts and runs repairs on its anti-entropy).
//
// Errors: UNAUTHENTICATED without the cluster token; UNAVAILABLE until the
// node has started and from the start of its shutdown, and from the
// sources' own failures (a disk that fails to count the hints).
//
// Thread-safe when the sources are.
#ifndef SHOPLIST_SERVICES_NODE_ADMIN_SERVICE_H_
#define SHOPLIST_SERVICES_NODE_ADMIN_SERVICE_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "services/common/security.h"
#include "services/node/anti_entropy.h"
#include "shoplist/v1/admin_service.grpc.pb.h"

namespace shoplist::node {

// A round as AdminService reports it.
v1::AntiEntropyRound RoundOf(const AntiEntropy::Round& round);

class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  using StatusSource = std::function<absl::StatusOr<v1::NodeStatus>()>;
  // Runs a whole anti-entropy round, blocking, calling `progress` as it
  // goes (AntiEntropy::RunOnce).
  using RepairSource = std::function<absl::StatusOr<AntiEntropy::Round>(
      const AntiEntropy::Progress& progress)>;

  // Calls `visit` with every record of the store, blocking, until it
  // returns false (ReplicaStore::ExportRecords).
  using ExportSource = std::function<absl::Status(
      const std::function<bool(absl::string_view, absl::string_view)>& visit)>;

  AdminServiceImpl(std::string node_id, StatusSource status,
                   RepairSource repair, ExportSource records,
                   std::string cluster_token)
      : node_id_(std::move(node_id)),
        status_(std::move(status)),
        repair_(std::move(repair)),
        records_(std::move(records)),
        gate_(std::move(cluster_token)) {}

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* context,
                                   const v1::NodeStatusRequest* request,
                                   v1::NodeStatus* response) override;
  // The round runs on a thread of its own; the newest progress is written
  // whenever the previous write is done, then the summary. A caller that
  // goes away does not stop the round.
  grpc::ServerWriteReactor<v1::RepairProgress>* Repair(
      grpc::CallbackServerContext* context,
      const v1::RepairRequest* request) override;
  // Records are read on a thread of their own, a chunk (about 1 MiB) at a
  // time, the next once the previous is written: a slow reader holds the
  // snapshot, not memory. A caller that goes away stops it.
  grpc::ServerWriteReactor<v1::BackupChunk>* Backup(
      grpc::CallbackServerContext* context,
      const v1::BackupRequest* request) override;

 private:
  const std::string node_id_;
  const StatusSource status_;
  const RepairSource repair_;
  const ExportSource records_;
  const ClusterGate gate_;
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_ADMIN_SERVICE_H_
