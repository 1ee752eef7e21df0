// MembershipService as served by a proxy: thin handlers over ProxyState,
// plus the server-streaming subscription to ring views. Every handler
// passes the cluster-token gate first (UNAUTHENTICATED without it); the
// other errors are ProxyState's (membership/membership.h).
//
// Thread-safe.
#ifndef SHOPLIST_SERVICES_PROXY_MEMBERSHIP_SERVICE_H_
#define SHOPLIST_SERVICES_PROXY_MEMBERSHIP_SERVICE_H_

#include <string>
#include <utility>

#include "services/common/security.h"
#include "services/proxy/proxy_state.h"
#include "shoplist/v1/membership_service.grpc.pb.h"

namespace shoplist::proxy {

class MembershipServiceImpl final
    : public v1::MembershipService::CallbackService {
 public:
  // With a non-empty `cluster_token`, every call must carry it (see
  // services/common/security.h).
  explicit MembershipServiceImpl(ProxyState* state,
                                 std::string cluster_token = "")
      : state_(state), gate_(std::move(cluster_token)) {}

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
  // The preference list of a list id (at most 16 replicas, else
  // INVALID_ARGUMENT; UNAVAILABLE when no node is up).
  grpc::ServerUnaryReactor* Locate(grpc::CallbackServerContext* context,
                                   const v1::LocateRequest* request,
                                   v1::LocateResponse* response) override;
  // The current view, then every newer one, until the caller cancels.
  grpc::ServerWriteReactor<v1::RingView>* Subscribe(
      grpc::CallbackServerContext* context,
      const v1::SubscribeRequest* request) override;

 private:
  ProxyState* const state_;
  const ClusterGate gate_;
};

}  // namespace shoplist::proxy

#endif  // SHOPLIST_SERVICES_PROXY_MEMBERSHIP_SERVICE_H_
