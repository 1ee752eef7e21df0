// ListService as served by a proxy: a gateway that forwards each call to
// the list's coordinator (the first node of its preference list) and, when
// that node cannot be reached, to the next one down the list. Clients and
// grpcurl that know only the proxy can do everything.
#ifndef SHOPLIST_SERVICES_PROXY_GATEWAY_SERVICE_H_
#define SHOPLIST_SERVICES_PROXY_GATEWAY_SERVICE_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "services/proxy/proxy_state.h"
#include "shoplist/v1/list_service.grpc.pb.h"

namespace shoplist::proxy {

class GatewayService final : public v1::ListService::CallbackService {
 public:
  explicit GatewayService(ProxyState* state) : state_(state) {}

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const v1::GetRequest* request,
                                v1::GetResponse* response) override;
  grpc::ServerUnaryReactor* Sync(grpc::CallbackServerContext* context,
                                 const v1::SyncRequest* request,
                                 v1::SyncResponse* response) override;
  grpc::ServerUnaryReactor* Apply(grpc::CallbackServerContext* context,
                                  const v1::ApplyRequest* request,
                                  v1::ApplyResponse* response) override;
  // Relays the watch stream of one replica of the list; when that replica
  // goes away, re-attaches to the next one from what was already relayed.
  grpc::ServerWriteReactor<v1::WatchEvent>* Watch(
      grpc::CallbackServerContext* context,
      const v1::WatchRequest* request) override;
  grpc::ServerUnaryReactor* Ping(grpc::CallbackServerContext* context,
                                 const v1::PingRequest* request,
                                 v1::PingResponse* response) override;

  // The stub of the node at `address` (one channel per node, kept).
  v1::ListService::Stub* StubFor(const std::string& address);

 private:
  ProxyState* const state_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<v1::ListService::Stub>>
      stubs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoplist::proxy

#endif  // SHOPLIST_SERVICES_PROXY_GATEWAY_SERVICE_H_
