#include "services/proxy/gateway_service.h"

#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "services/common/channels.h"
#include "services/common/status_util.h"
#include "services/common/unary.h"

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

// Relays one client's Watch. The server side writes to the client; an inner
// client reactor reads from a node. One event is in flight at a time:
// read from the node, write to the client, read again. Deletes itself once
// both sides are done.
class WatchRelay final : public grpc::ServerWriteReactor<v1::WatchEvent> {
 public:
  WatchRelay(GatewayService* gateway, v1::WatchRequest request,
             std::vector<std::string> addresses)
      : gateway_(gateway),
        request_(std::move(request)),
        addresses_(std::move(addresses)) {
    absl::MutexLock lock(&mu_);
    if (auto known = codec::DecodeContext(request_.known()); known.ok()) {
      known_ = *std::move(known);
    }
    AttachLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    if (upstream_ != nullptr) upstream_->StartRead(&upstream_->event);
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    bool last;
    {
      absl::MutexLock lock(&mu_);
      server_done_ = true;
      last = upstream_ == nullptr;
    }
    if (last) delete this;
  }

 private:
  // One attachment to one node.
  struct Upstream final : public grpc::ClientReadReactor<v1::WatchEvent> {
    explicit Upstream(WatchRelay* relay) : relay(relay) {}
    void OnReadDone(bool ok) override { relay->OnUpstreamRead(ok); }
    void OnDone(const grpc::Status& status) override {
      relay->OnUpstreamDone(this, status);
    }
    WatchRelay* const relay;
    grpc::ClientContext context;
    v1::WatchEvent event;
  };

  void AttachLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (next_ >= addresses_.size()) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                "no replica of the list could be watched"));
      return;
    }
    upstream_ = new Upstream(this);
    gateway_->StubFor(addresses_[next_++])
        ->async()
        ->Watch(&upstream_->context, &request_, upstream_);
    upstream_->StartRead(&upstream_->event);
    upstream_->StartCall();
  }

  void OnUpstreamRead(bool ok) {
    absl::MutexLock lock(&mu_);
    if (!ok || finished_) return;  // OnUpstreamDone follows
    // Re-attaching elsewhere starts from what the client already has.
    if (auto delta = codec::DecodeState(upstream_->event.delta()); delta.ok()) {
      known_.Merge(delta->context());
      codec::EncodeContext(known_, request_.mutable_known());
    }
    out_ = upstream_->event;
    StartWrite(&out_);
  }

  void OnUpstreamDone(Upstream* upstream, const grpc::Status& status) {
    bool last = false;
    {
      absl::MutexLock lock(&mu_);
      delete upstream;
      upstream_ = nullptr;
      if (!finished_ &&
          (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
           status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
           status.error_code() == grpc::StatusCode::CANCELLED)) {
        AttachLocked();  // the node went away: the next replica
      } else {
        FinishLocked(status);  // OK (list deleted) or a real error
      }
      last = server_done_ && upstream_ == nullptr;
    }
    if (last) delete this;
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    if (upstream_ != nullptr) upstream_->context.TryCancel();
    Finish(status);
  }

  GatewayService* const gateway_;
  absl::Mutex mu_;
  v1::WatchRequest request_ ABSL_GUARDED_BY(mu_);
  const std::vector<std::string> addresses_;
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  crdt::CausalContext known_ ABSL_GUARDED_BY(mu_);
  Upstream* upstream_ ABSL_GUARDED_BY(mu_) = nullptr;
  v1::WatchEvent out_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool server_done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

v1::ListService::Stub* GatewayService::StubFor(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto& stub = stubs_[address];
  if (stub == nullptr) {
    stub = v1::ListService::NewStub(NewChannel(address));
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

grpc::ServerWriteReactor<v1::WatchEvent>* GatewayService::Watch(
    grpc::CallbackServerContext* /*context*/, const v1::WatchRequest* request) {
  if (absl::Status s = crdt::ValidateListId(request->list_id()); !s.ok()) {
    return new RefusedStream<v1::WatchEvent>(ToGrpc(s));
  }
  std::vector<std::string> addresses;
  for (const ring::Placement& p : state_->Current()->ring.PreferenceList(
           request->list_id(), state_->options().replicas)) {
    addresses.push_back(p.address);
  }
  return new WatchRelay(this, *request, std::move(addresses));
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
