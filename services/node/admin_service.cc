#include "services/node/admin_service.h"

#include "services/common/status_util.h"
#include "services/common/unary.h"

namespace shoplist::node {

grpc::ServerUnaryReactor* AdminServiceImpl::Status(
    grpc::CallbackServerContext* context,
    const v1::NodeStatusRequest* /*request*/, v1::NodeStatus* response) {
  if (auto* refused = gate_.RefuseUnary(context)) return refused;
  absl::StatusOr<v1::NodeStatus> status = status_();
  if (!status.ok()) return FinishUnary(context, ToGrpc(status.status()));
  *response = *std::move(status);
  return FinishUnary(context, grpc::Status::OK);
}

}  // namespace shoplist::node
