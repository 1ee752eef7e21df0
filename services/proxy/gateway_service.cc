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

// How each forwarded method goes into a Calls batch and back, and as a
// unary call to a node without Calls.
template <typename Request, typename Response>
struct Method;

template <>
struct Method<v1::GetRequest, v1::GetResponse> {
  static void Put(const v1::GetRequest& request, v1::Call* call) {
    *call->mutable_get() = request;
  }
  static bool Take(v1::Reply& reply, v1::GetResponse* response) {
    if (!reply.has_get()) return false;
    response->Swap(reply.mutable_get());
    return true;
  }
  static void Unary(v1::ListService::Stub* stub, grpc::ClientContext* context,
                    const v1::GetRequest* request, v1::GetResponse* response,
                    std::function<void(grpc::Status)> done) {
    stub->async()->Get(context, request, response, std::move(done));
  }
};

template <>
struct Method<v1::SyncRequest, v1::SyncResponse> {
  static void Put(const v1::SyncRequest& request, v1::Call* call) {
    *call->mutable_sync() = request;
  }
  static bool Take(v1::Reply& reply, v1::SyncResponse* response) {
    if (!reply.has_sync()) return false;
    response->Swap(reply.mutable_sync());
    return true;
  }
  static void Unary(v1::ListService::Stub* stub, grpc::ClientContext* context,
                    const v1::SyncRequest* request, v1::SyncResponse* response,
                    std::function<void(grpc::Status)> done) {
    stub->async()->Sync(context, request, response, std::move(done));
  }
};

template <>
struct Method<v1::ApplyRequest, v1::ApplyResponse> {
  static void Put(const v1::ApplyRequest& request, v1::Call* call) {
    *call->mutable_apply() = request;
  }
  static bool Take(v1::Reply& reply, v1::ApplyResponse* response) {
    if (!reply.has_apply()) return false;
    response->Swap(reply.mutable_apply());
    return true;
  }
  static void Unary(v1::ListService::Stub* stub, grpc::ClientContext* context,
                    const v1::ApplyRequest* request,
                    v1::ApplyResponse* response,
                    std::function<void(grpc::Status)> done) {
    stub->async()->Apply(context, request, response, std::move(done));
  }
};

// Forwards one call down a preference list until a node answers with
// something other than "unreachable": in the node's Calls batch, or as a
// unary call to a node without Calls. Owns itself until done. Only
// idempotent calls (reads, and Sync, whose writes are CRDT merges) may go
// to a second node: an Apply that reached a node may have been stored even
// when it failed, and applying it again elsewhere would apply it twice.
template <typename Request, typename Response>
class Forwarder {
 public:
  using M = Method<Request, Response>;

  Forwarder(GatewayService* gateway, absl::Time deadline,
            const Request* request, Response* response,
            std::vector<std::string> addresses, bool idempotent,
            std::function<void(const grpc::Status&)> finish)
      : gateway_(gateway),
        idempotent_(idempotent),
        deadline_(deadline),
        request_(request),
        response_(response),
        addresses_(std::move(addresses)),
        finish_(std::move(finish)) {
    gateway_->BeginForward();
  }

  void Start() {
    TryAt(0, grpc::Status(grpc::StatusCode::UNAVAILABLE, "no node is up"));
  }

 private:
  void TryAt(size_t index, grpc::Status last) {
    if (index >= addresses_.size()) {
      Finish(last);
      return;
    }
    const GatewayService::Route route = gateway_->RouteTo(addresses_[index]);
    if (route.closing) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the proxy is shutting down"));
      return;
    }
    response_->Clear();
    if (route.calls == nullptr || request_->ByteSizeLong() > kMaxBatchedBytes) {
      Unary(index);
      return;
    }
    v1::Call call;
    M::Put(*request_, &call);
    route.calls->Submit(
        std::move(call), deadline_,
        [this, index](const grpc::Status& status, v1::Reply* reply) {
          if (reply == nullptr &&
              status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
            // A node of an older version: unary calls from now on.
            gateway_->NoBatches(addresses_[index]);
            Unary(index);
            return;
          }
          if (status.ok() && !M::Take(*reply, response_)) {
            Answered(index, grpc::Status(grpc::StatusCode::INTERNAL,
                                         "the node's reply does not answer "
                                         "the call"));
            return;
          }
          Answered(index, status);
        });
  }

  void Unary(size_t index) {
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(absl::ToChronoTime(deadline_));
    M::Unary(gateway_->StubFor(addresses_[index]), context_.get(), request_,
             response_,
             [this, index](grpc::Status status) { Answered(index, status); });
  }

  void Answered(size_t index, const grpc::Status& status) {
    if (idempotent_ && TryNext(status) && absl::Now() < deadline_) {
      TryAt(index + 1, status);
      return;
    }
    Finish(status);
  }

  void Finish(const grpc::Status& status) {
    finish_(status);
    GatewayService* gateway = gateway_;
    delete this;
    gateway->EndForward();
  }

  GatewayService* const gateway_;
  const bool idempotent_;
  const absl::Time deadline_;
  const Request* const request_;
  Response* const response_;
  const std::vector<std::string> addresses_;
  const std::function<void(const grpc::Status&)> finish_;
  std::unique_ptr<grpc::ClientContext> context_;
};

template <typename Request, typename Response>
void ForwardTo(GatewayService* gateway, ProxyState* state, absl::Time deadline,
               const Request* request, Response* response, bool idempotent,
               std::function<void(const grpc::Status&)> finish) {
  if (absl::Status s = crdt::ValidateListId(request->list_id()); !s.ok()) {
    finish(ToGrpc(s));
    return;
  }
  std::vector<std::string> addresses;
  for (const ring::Placement& p : state->Current()->ring.PreferenceList(
           request->list_id(), state->options().replicas)) {
    addresses.push_back(p.address);
  }
  (new Forwarder<Request, Response>(gateway, deadline, request, response,
                                    std::move(addresses), idempotent,
                                    std::move(finish)))
      ->Start();
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* Forward(GatewayService* gateway, ProxyState* state,
                                  grpc::CallbackServerContext* context,
                                  const Request* request, Response* response,
                                  bool idempotent) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  ForwardTo(gateway, state,
            std::min(absl::FromChrono(context->deadline()),
                     absl::Now() + kDefaultDeadline),
            request, response, idempotent,
            [reactor](const grpc::Status& status) { reactor->Finish(status); });
  return reactor;
}

// Relays one client's Watch. The server side writes to the client; an inner
// client reactor reads from a node. One event is in flight at a time:
// read from the node, write to the client, read again. Deletes itself once
// both sides are done.
//
// The next read from the node starts when the write to the client is done,
// outside the node stream's reactions, so that stream holds itself open
// (client_stream.h says why) until no read will start again: its reads
// ended, or the relay finished while none was pending.
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
    Upstream* release;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) {
        FinishLocked(
            grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      } else if (upstream_ != nullptr && !finished_) {
        upstream_->reading = true;
        upstream_->StartRead(&upstream_->event);
      }
      release = ReleasableLocked();
    }
    if (release != nullptr) release->RemoveHold();
  }

  void OnCancel() override {
    Upstream* release;
    {
      absl::MutexLock lock(&mu_);
      FinishLocked(grpc::Status::CANCELLED);
      release = ReleasableLocked();
    }
    if (release != nullptr) release->RemoveHold();
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
  // One attachment to one node. `reading`, `ended` and `held` are guarded
  // by the relay's mu_.
  struct Upstream final : public grpc::ClientReadReactor<v1::WatchEvent> {
    explicit Upstream(WatchRelay* relay) : relay(relay) {}
    void OnReadDone(bool ok) override { relay->OnUpstreamRead(ok); }
    void OnDone(const grpc::Status& status) override {
      relay->OnUpstreamDone(this, status);
    }
    WatchRelay* const relay;
    grpc::ClientContext context;
    v1::WatchEvent event;
    bool reading = true;  // the first read
    bool ended = false;   // a read failed: the stream is over
    bool held = true;
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
    upstream_->AddHold();
    upstream_->StartRead(&upstream_->event);
    upstream_->StartCall();
  }

  void OnUpstreamRead(bool ok) {
    Upstream* release;
    {
      absl::MutexLock lock(&mu_);
      upstream_->reading = false;
      if (!ok) {
        upstream_->ended = true;  // OnUpstreamDone follows the release
      } else if (!finished_) {
        // Re-attaching elsewhere starts from what the client already has.
        if (auto delta = codec::DecodeState(upstream_->event.delta());
            delta.ok()) {
          known_.Merge(delta->context());
          codec::EncodeContext(known_, request_.mutable_known());
        }
        out_ = upstream_->event;
        StartWrite(&out_);
      }
      release = ReleasableLocked();
    }
    if (release != nullptr) release->RemoveHold();
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

  // The node's stream, when no read of it will start again and its hold
  // is still to be removed (outside mu_: removing it may end the stream).
  Upstream* ReleasableLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (upstream_ == nullptr || !upstream_->held || upstream_->reading ||
        !(upstream_->ended || finished_)) {
      return nullptr;
    }
    upstream_->held = false;
    return upstream_;
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

GatewayService::GatewayService(ProxyState* state)
    : state_(state), sweeper_([this] { Sweep(); }) {}

GatewayService::~GatewayService() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  // Closing fails the calls in flight and every later one, so forwarders
  // end (closing, they try no other node). Not under mu_: they call back.
  // Calls of a client's Calls stream may outlive the server's shutdown, a
  // forwarder may open a node's stream as this begins, and unary calls to
  // older nodes end by their deadlines: close again until none is left,
  // with the sweeper still expiring calls.
  for (bool done = false; !done;) {
    std::vector<NodeCalls*> calls;
    {
      absl::MutexLock lock(&mu_);
      for (auto& [address, node] : calls_) calls.push_back(node.get());
    }
    for (NodeCalls* node : calls) node->Close();
    absl::MutexLock lock(&mu_);
    done =
        mu_.AwaitWithTimeout(absl::Condition(
                                 +[](int* n) { return *n == 0; }, &forwarding_),
                             absl::Milliseconds(100));
  }
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  sweeper_.join();
}

void GatewayService::BeginForward() {
  absl::MutexLock lock(&mu_);
  ++forwarding_;
}

void GatewayService::EndForward() {
  absl::MutexLock lock(&mu_);
  --forwarding_;
}

v1::ListService::Stub* GatewayService::StubFor(const std::string& address) {
  absl::MutexLock lock(&mu_);
  return StubForLocked(address);
}

v1::ListService::Stub* GatewayService::StubForLocked(
    const std::string& address) {
  auto& stub = stubs_[address];
  if (stub == nullptr) {
    stub = v1::ListService::NewStub(NewChannel(address));
  }
  return stub.get();
}

GatewayService::Route GatewayService::RouteTo(const std::string& address) {
  absl::MutexLock lock(&mu_);
  if (closing_) return {.closing = true};
  if (unary_only_.contains(address)) return {};
  auto& calls = calls_[address];
  if (calls == nullptr) {
    calls = std::make_unique<NodeCalls>(StubForLocked(address));
  }
  return {.calls = calls.get()};
}

void GatewayService::NoBatches(const std::string& address) {
  absl::MutexLock lock(&mu_);
  unary_only_.insert(address);
}

void GatewayService::Sweep() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Milliseconds(50));
    std::vector<NodeCalls*> calls;
    for (auto& [address, node] : calls_) calls.push_back(node.get());
    // Expiring runs callbacks, which may forward again: not under mu_.
    // NodeCalls are never removed before the destructor, which joins
    // this thread first.
    mu_.Unlock();
    const absl::Time now = absl::Now();
    for (NodeCalls* node : calls) node->Expire(now);
    mu_.Lock();
  }
}

grpc::ServerUnaryReactor* GatewayService::Get(
    grpc::CallbackServerContext* context, const v1::GetRequest* request,
    v1::GetResponse* response) {
  return Forward(this, state_, context, request, response,
                 /*idempotent=*/true);
}

grpc::ServerUnaryReactor* GatewayService::Sync(
    grpc::CallbackServerContext* context, const v1::SyncRequest* request,
    v1::SyncResponse* response) {
  return Forward(this, state_, context, request, response,
                 /*idempotent=*/true);
}

grpc::ServerUnaryReactor* GatewayService::Apply(
    grpc::CallbackServerContext* context, const v1::ApplyRequest* request,
    v1::ApplyResponse* response) {
  return Forward(this, state_, context, request, response,
                 /*idempotent=*/false);
}

grpc::ServerBidiReactor<v1::CallBatch, v1::ReplyBatch>* GatewayService::Calls(
    grpc::CallbackServerContext* /*context*/) {
  return NewCallsReactor(this, recorder_, &call_streams_);
}

void GatewayService::Serve(const v1::Call& call, v1::Reply* reply, Done done) {
  const absl::Time deadline = absl::Now() + kDefaultDeadline;
  switch (call.method_case()) {
    case v1::Call::kGet:
      ForwardTo(this, state_, deadline, &call.get(), reply->mutable_get(),
                /*idempotent=*/true, std::move(done));
      return;
    case v1::Call::kSync:
      ForwardTo(this, state_, deadline, &call.sync(), reply->mutable_sync(),
                /*idempotent=*/true, std::move(done));
      return;
    case v1::Call::kApply:
      ForwardTo(this, state_, deadline, &call.apply(), reply->mutable_apply(),
                /*idempotent=*/false, std::move(done));
      return;
    case v1::Call::METHOD_NOT_SET:
      break;
  }
  done(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                    "a call names no method"));
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
