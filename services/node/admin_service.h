// AdminService (admin_service.proto): what an operator's tool asks of a
// node. The handler passes the cluster-token gate and answers from
// `status`, which the node server gives it (node_server.cc gathers the
// figures from its parts).
//
// Errors: UNAUTHENTICATED without the cluster token; UNAVAILABLE until the
// node has started, and from `status`'s own failures (a disk that fails
// to count the hints).
//
// Thread-safe when `status` is.
#ifndef SHOPLIST_SERVICES_NODE_ADMIN_SERVICE_H_
#define SHOPLIST_SERVICES_NODE_ADMIN_SERVICE_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "services/common/security.h"
#include "shoplist/v1/admin_service.grpc.pb.h"

namespace shoplist::node {

class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  using StatusSource = std::function<absl::StatusOr<v1::NodeStatus>()>;

  AdminServiceImpl(StatusSource status, std::string cluster_token)
      : status_(std::move(status)), gate_(std::move(cluster_token)) {}

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* context,
                                   const v1::NodeStatusRequest* request,
                                   v1::NodeStatus* response) override;

 private:
  const StatusSource status_;
  const ClusterGate gate_;
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_ADMIN_SERVICE_H_
