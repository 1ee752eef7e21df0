#include "services/proxy/gateway_service.h"

#include <functional>
#include <vector>

#include "crdt/list_id.h"
#include "services/common/status_util.h"
#include "services/node/replica_peers.h"

namespace shoplist::proxy {
namespace {

constexpr absl::Duration kDefaultDeadline = absl::Seconds(10);

// Errors that mean "this node could not serve it; another one may".
bool TryNext(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return true;
    default:
      return false;
  }
}

// Forwards one unary call down a preference list until a node answers with
// something other than "unreachable". Owns itself until done. Only
// idempotent calls (reads, and Sync, whose writes are CRDT merges) may go
// to a second node: an Apply that reached a node may have been stored even
// when it failed, and applying it again elsewhere would apply it twice.
template <typename Request, typename Response>
class Forwarder {
 public:
  using Invoke = std::function<void(
      v1::ListService::Stub*, grpc::ClientContext*, const Request*, Response*,
      std::function<void(grpc::Status)>)>;

  Forwarder(GatewayService* gateway, grpc::CallbackServerContext* server,
            grpc::ServerUnaryReactor* reactor, const Request* request,
            Response* response, std::vector<std::string> addresses,
            bool idempotent, Invoke invoke)
      : gateway_(gateway),
        idempotent_(idempotent),
        deadline_(std::min(server->deadline(),
                           absl::ToChronoTime(absl::Now() + kDefaultDeadline))),
        reactor_(reactor),
        request_(request),
        response_(response),
        addresses_(std::move(addresses)),
        invoke_(std::move(invoke)) {}

  void Start() {
    TryAt(0, grpc::Status(grpc::StatusCode::UNAVAILABLE, "no node is up"));
  }

 private:
  void TryAt(size_t index, grpc::Status last) {
    if (index >= addresses_.size()) {
      reactor_->Finish(last);
      delete this;
      return;
    }
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(deadline_);
    response_->Clear();
    invoke_(gateway_->StubFor(addresses_[index]), context_.get(), request_,
            response_, [this, index](grpc::Status status) {
              if (idempotent_ && TryNext(status) &&
                  std::chrono::system_clock::now() < deadline_) {
                TryAt(index + 1, status);
                return;
              }
              reactor_->Finish(status);
              delete this;
            });
  }

  GatewayService* const gateway_;
  const bool idempotent_;
  const std::chrono::system_clock::time_point deadline_;
  grpc::ServerUnaryReactor* const reactor_;
  const Request* const request_;
  Response* const response_;
  const std::vector<std::string> addresses_;
  const Invoke invoke_;
  std::unique_ptr<grpc::ClientContext> context_;
};

template <typename Request, typename Response>
grpc::ServerUnaryReactor* Forward(
    GatewayService* gateway, ProxyState* state,
    grpc::CallbackServerContext* context, const Request* request,
    Response* response, bool idempotent,
    typename Forwarder<Request, Response>::Invoke invoke) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status s = crdt::ValidateListId(request->list_id()); !s.ok()) {
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  std::vector<std::string> addresses;
  for (const ring::Placement& p : state->Current()->ring.PreferenceList(
           request->list_id(), state->options().replicas)) {
    addresses.push_back(p.address);
  }
  (new Forwarder<Request, Response>(gateway, context, reactor, request,
                                    response, std::move(addresses), idempotent,
                                    std::move(invoke)))
      ->Start();
  return reactor;
}

}  // namespace

v1::ListService::Stub* GatewayService::StubFor(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto& stub = stubs_[address];
  if (stub == nullptr) {
    stub = v1::ListService::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                  node::DefaultChannelArguments()));
  }
  return stub.get();
}

grpc::ServerUnaryReactor* GatewayService::Get(
    grpc::CallbackServerContext* context, const v1::GetRequest* request,
    v1::GetResponse* response) {
  return Forward<v1::GetRequest, v1::GetResponse>(
      this, state_, context, request, response, /*idempotent=*/true,
      [](v1::ListService::Stub* stub, grpc::ClientContext* c,
         const v1::GetRequest* req, v1::GetResponse* resp,
         std::function<void(grpc::Status)> done) {
        stub->async()->Get(c, req, resp, std::move(done));
      });
}

grpc::ServerUnaryReactor* GatewayService::Sync(
    grpc::CallbackServerContext* context, const v1::SyncRequest* request,
    v1::SyncResponse* response) {
  return Forward<v1::SyncRequest, v1::SyncResponse>(
      this, state_, context, request, response, /*idempotent=*/true,
      [](v1::ListService::Stub* stub, grpc::ClientContext* c,
         const v1::SyncRequest* req, v1::SyncResponse* resp,
         std::function<void(grpc::Status)> done) {
        stub->async()->Sync(c, req, resp, std::move(done));
      });
}

grpc::ServerUnaryReactor* GatewayService::Apply(
    grpc::CallbackServerContext* context, const v1::ApplyRequest* request,
    v1::ApplyResponse* response) {
  return Forward<v1::ApplyRequest, v1::ApplyResponse>(
      this, state_, context, request, response, /*idempotent=*/false,
      [](v1::ListService::Stub* stub, grpc::ClientContext* c,
         const v1::ApplyRequest* req, v1::ApplyResponse* resp,
         std::function<void(grpc::Status)> done) {
        stub->async()->Apply(c, req, resp, std::move(done));
      });
}

grpc::ServerUnaryReactor* GatewayService::Ping(
    grpc::CallbackServerContext* context, const v1::PingRequest* request,
    v1::PingResponse* response) {
  response->set_payload(request->payload());
  response->set_server(state_->options().proxy_id);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace shoplist::proxy
