// ListService as served by a proxy: a gateway that forwards each call to
// the list's coordinator (the first node of its preference list) and, when
// that node cannot be reached, to the next one down the list. Clients and
// grpcurl that know only the proxy can do everything.
//
// Get, Sync and Apply, whether they come unary or in a Calls batch, go to
// each node in batches over one Calls stream (NodeCalls), and as unary
// calls to a node that answers Calls with UNIMPLEMENTED (an older version).
// Watch is relayed stream by stream.
//
// Thread-safe.
#ifndef SHOPLIST_SERVICES_PROXY_GATEWAY_SERVICE_H_
#define SHOPLIST_SERVICES_PROXY_GATEWAY_SERVICE_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "services/common/call_batches.h"
#include "services/proxy/node_calls.h"
#include "services/proxy/proxy_state.h"
#include "shoplist/v1/list_service.grpc.pb.h"

namespace shoplist::proxy {

class GatewayService final : public v1::ListService::CallbackService,
                             private CallHandler {
 public:
  // `state` must outlive the gateway.
  explicit GatewayService(ProxyState* state);
  // Closes the streams to the nodes; calls not yet answered fail.
  ~GatewayService() override;

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
  // Forwards each call of the batch as its unary method would be.
  grpc::ServerBidiReactor<v1::CallBatch, v1::ReplyBatch>* Calls(
      grpc::CallbackServerContext* context) override;
  // Where the calls of Calls batches are counted. Set before serving.
  void set_call_recorder(CallRecorder recorder) {
    recorder_ = std::move(recorder);
  }
  // The gateway as a CallHandler: each call forwarded as a Calls batch's
  // would be (the web front door's way in).
  CallHandler* calls() { return this; }
  // Ends the Calls streams as the server shuts down (BatchStreams::Drain).
  void DrainCalls() { call_streams_.Drain(); }

  // The stub of the node at `address` (one channel per node, kept).
  v1::ListService::Stub* StubFor(const std::string& address);
  // Where a call for the node at `address` goes now: nowhere (`closing`)
  // once the destructor has begun; else the node's Calls stream (one per
  // node, kept), or null when the node takes unary calls only (NoBatches).
  struct Route {
    bool closing = false;
    NodeCalls* calls = nullptr;
  };
  Route RouteTo(const std::string& address);
  void NoBatches(const std::string& address);
  // Forwarders in flight, which the destructor waits for.
  void BeginForward();
  void EndForward();

 private:
  void Serve(const v1::Call& call, v1::Reply* reply, Done done) override;
  v1::ListService::Stub* StubForLocked(const std::string& address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fails calls that wait past their deadlines, every 50 ms.
  void Sweep();

  ProxyState* const state_;
  CallRecorder recorder_;
  BatchStreams call_streams_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<v1::ListService::Stub>>
      stubs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<NodeCalls>> calls_
      ABSL_GUARDED_BY(mu_);
  // Nodes that answered Calls with UNIMPLEMENTED.
  absl::flat_hash_set<std::string> unary_only_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;  // the destructor began
  bool stop_ ABSL_GUARDED_BY(mu_) = false;     // the sweeper's
  int forwarding_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread sweeper_;  // last: starts once the rest is built
};

}  // namespace shoplist::proxy

#endif  // SHOPLIST_SERVICES_PROXY_GATEWAY_SERVICE_H_
