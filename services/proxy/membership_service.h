// MembershipService as served by a proxy: thin handlers over ProxyState,
// plus the server-streaming subscription to ring views.
#ifndef SHOPLIST_SERVICES_PROXY_MEMBERSHIP_SERVICE_H_
#define SHOPLIST_SERVICES_PROXY_MEMBERSHIP_SERVICE_H_

#include "services/proxy/proxy_state.h"
#include "shoplist/v1/membership_service.grpc.pb.h"

namespace shoplist::proxy {

class MembershipServiceImpl final
    : public v1::MembershipService::CallbackService {
 public:
  explicit MembershipServiceImpl(ProxyState* state) : state_(state) {}

  grpc::ServerUnaryReactor* Join(grpc::CallbackServerContext* context,
                                 const v1::JoinRequest* request,
                                 v1::JoinResponse* response) override;
  grpc::ServerUnaryReactor* Leave(grpc::CallbackServerContext* context,
                                  const v1::LeaveRequest* request,
                                  v1::LeaveResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const v1::HeartbeatRequest* request,
                                      v1::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* ReportFailure(
      grpc::CallbackServerContext* context,
      const v1::ReportFailureRequest* request,
      v1::ReportFailureResponse* response) override;
  grpc::ServerUnaryReactor* Locate(grpc::CallbackServerContext* context,
                                   const v1::LocateRequest* request,
                                   v1::LocateResponse* response) override;
  grpc::ServerWriteReactor<v1::RingView>* Subscribe(
      grpc::CallbackServerContext* context,
      const v1::SubscribeRequest* request) override;

 private:
  ProxyState* const state_;
};

}  // namespace shoplist::proxy

#endif  // SHOPLIST_SERVICES_PROXY_MEMBERSHIP_SERVICE_H_
