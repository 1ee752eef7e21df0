#include "services/node/proxy_client.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "services/common/channels.h"
#include "services/common/ring_view.h"
#include "spdlog/spdlog.h"

namespace shoplist::node {

struct ProxyClient::Proxy {
  std::unique_ptr<v1::MembershipService::StubInterface> stub;
  absl::Mutex mu;
  bool joined ABSL_GUARDED_BY(mu) = false;
  bool streaming ABSL_GUARDED_BY(mu) = false;
  std::shared_ptr<const RingView> view ABSL_GUARDED_BY(mu);
  // The open Subscribe call, so Stop can cancel it.
  grpc::ClientContext* stream_context ABSL_GUARDED_BY(mu) = nullptr;
};

ProxyClient::ProxyClient(
    v1::NodeInfo self,
    std::vector<std::unique_ptr<v1::MembershipService::StubInterface>> proxies,
    ProxyClientOptions options)
    : self_(std::move(self)),
      options_(options),
      empty_(std::make_shared<RingView>()) {
  for (auto& stub : proxies) {
    proxies_.push_back(std::make_unique<Proxy>());
    proxies_.back()->stub = std::move(stub);
  }
}

ProxyClient::~ProxyClient() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (auto& proxy : proxies_) {
    absl::MutexLock lock(&proxy->mu);
    if (proxy->stream_context != nullptr) proxy->stream_context->TryCancel();
  }
  for (std::thread& t : threads_) t.join();
}

void ProxyClient::Start() {
  for (size_t i = 0; i < proxies_.size(); ++i) {
    threads_.emplace_back([this, i] { RegistrationLoop(i); });
    threads_.emplace_back([this, i] { SubscriptionLoop(i); });
  }
  threads_.emplace_back([this] { ReportLoop(); });
}

bool ProxyClient::Stopping() const {
  absl::MutexLock lock(&mu_);
  return stop_;
}

bool ProxyClient::Sleep(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stop_), d);
  return !stop_;
}

bool ProxyClient::WaitForView(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (Current()->ring.empty()) {
    if (absl::Now() >= deadline || !Sleep(absl::Milliseconds(20))) {
      return false;
    }
  }
  return true;
}

std::shared_ptr<const RingView> ProxyClient::Current() const {
  // Best: a proxy that streams and holds this node up. A proxy that thinks
  // this node is down cannot hear it (an asymmetric partition), so its view
  // of the others is as doubtful; it is used only when no other streams.
  std::shared_ptr<const RingView> streaming, fallback;
  for (const auto& proxy : proxies_) {
    absl::MutexLock lock(&proxy->mu);
    if (proxy->view == nullptr) continue;
    if (proxy->streaming) {
      const ring::Member* me = proxy->view->ring.Find(self_.id());
      if (me == nullptr || me->up) return proxy->view;
      if (streaming == nullptr) streaming = proxy->view;
    }
    if (fallback == nullptr) fallback = proxy->view;
  }
  if (streaming != nullptr) return streaming;
  return fallback != nullptr ? fallback : empty_;
}

bool ProxyClient::OnView(size_t index, const v1::RingView& view) {
  auto next = std::make_shared<RingView>();
  next->version = view.version();
  next->ring = RingOf(view);
  next->proxy = view.proxy();
  Proxy& proxy = *proxies_[index];
  {
    absl::MutexLock lock(&proxy.mu);
    if (proxy.view != nullptr && proxy.view->version >= next->version) {
      return false;
    }
    proxy.view = next;
  }
  if (next->ring.Find(self_.id()) != nullptr) was_member_ = true;
  // Only a node that was a member in this run leaves: one restarted after
  // a Leave joins again instead.
  for (const std::string& id : view.left()) {
    if (id == self_.id() && was_member_ && on_left_ && !left_.exchange(true)) {
      on_left_(next);
    }
  }
  return true;
}

grpc::Status ProxyClient::RegisterOnce(size_t index) {
  // A node that left hands its lists over, then stops. A heartbeat meanwhile
  // would be refused (the proxy no longer knows it) and the join that
  // follows would put it back in the ring, undoing the Leave.
  if (left_.load()) return grpc::Status::OK;
  Proxy& proxy = *proxies_[index];
  bool joined;
  {
    absl::MutexLock lock(&proxy.mu);
    joined = proxy.joined;
  }
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
  grpc::Status status;
  if (!joined) {
    v1::JoinRequest request;
    *request.mutable_node() = self_;
    v1::JoinResponse response;
    status = proxy.stub->Join(&context, request, &response);
    if (status.ok()) {
      absl::MutexLock lock(&proxy.mu);
      proxy.joined = true;
    }
  } else {
    v1::HeartbeatRequest request;
    request.set_node_id(self_.id());
    v1::HeartbeatResponse response;
    status = proxy.stub->Heartbeat(&context, request, &response);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      // The proxy lost or removed this node: join again next round, a
      // heartbeat interval from now. It answered, so its view stream is
      // kept: if it removed this node by a Leave, that view arrives
      // meanwhile and this node, having left, joins no more.
      absl::MutexLock lock(&proxy.mu);
      proxy.joined = false;
      return grpc::Status::OK;
    }
  }
  return status;
}

void ProxyClient::Unfollow(size_t index, const grpc::Status& why) {
  Proxy& proxy = *proxies_[index];
  absl::MutexLock lock(&proxy.mu);
  if (!proxy.streaming || proxy.stream_context == nullptr) return;
  spdlog::info("proxy {} does not answer ({}); not following its view", index,
               why.error_message());
  proxy.streaming = false;
  proxy.stream_context->TryCancel();
}

void ProxyClient::RegistrationLoop(size_t index) {
  absl::Duration backoff = options_.min_backoff;
  while (!Stopping()) {
    grpc::Status status = RegisterOnce(index);
    if (status.ok()) {
      backoff = options_.min_backoff;
      if (!Sleep(options_.heartbeat_interval)) return;
    } else {
      // A proxy that does not answer is no source of views: a partition
      // drops packets without a reset, so its stream would look open for a
      // long time, and its last view would keep this node coordinating
      // with members that proxy can no longer vouch for. The stream is
      // reopened at once and counts again once it delivers.
      Unfollow(index, status);
      if (!Sleep(backoff)) return;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }
}

void ProxyClient::SubscriptionLoop(size_t index) {
  Proxy& proxy = *proxies_[index];
  absl::Duration backoff = options_.min_backoff;
  while (!Stopping()) {
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&proxy.mu);
      proxy.stream_context = &context;
    }
    if (Stopping()) context.TryCancel();
    v1::SubscribeRequest request;
    request.set_node_id(self_.id());
    std::unique_ptr<grpc::ClientReaderInterface<v1::RingView>> reader =
        proxy.stub->Subscribe(&context, request);
    v1::RingView view;
    bool got_any = false;
    while (reader->Read(&view)) {
      if (!got_any) {
        got_any = true;
        backoff = options_.min_backoff;
        absl::MutexLock lock(&proxy.mu);
        proxy.streaming = true;
      }
      if (OnView(index, view)) {
        spdlog::debug("ring view {} from proxy {}", view.version(), index);
      }
    }
    grpc::Status status = reader->Finish();
    {
      absl::MutexLock lock(&proxy.mu);
      proxy.streaming = false;
      proxy.stream_context = nullptr;
    }
    if (Stopping()) return;
    spdlog::info("ring stream from proxy {} ended ({}); re-opening", index,
                 status.error_message());
    if (!Sleep(backoff)) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

void ProxyClient::ReportFailure(const std::string& node_id,
                                const std::string& reason) {
  absl::MutexLock lock(&mu_);
  absl::Time now = absl::Now();
  auto [it, fresh] = last_report_.try_emplace(node_id, now);
  if (!fresh && now - it->second < options_.report_interval) return;
  it->second = now;
  reports_.emplace_back(node_id, reason);
}

void ProxyClient::FlushReports() {
  std::deque<std::pair<std::string, std::string>> reports;
  {
    absl::MutexLock lock(&mu_);
    reports.swap(reports_);
  }
  for (const auto& [node_id, reason] : reports) {
    for (auto& proxy : proxies_) {
      v1::ReportFailureRequest request;
      request.set_node_id(node_id);
      request.set_reporter(self_.id());
      request.set_reason(reason);
      v1::ReportFailureResponse response;
      grpc::ClientContext context;
      context.set_deadline(
          absl::ToChronoTime(absl::Now() + options_.call_timeout));
      grpc::Status status =
          proxy->stub->ReportFailure(&context, request, &response);
      if (!status.ok()) {
        spdlog::debug("failure report to a proxy failed: {}",
                      status.error_message());
      }
    }
  }
}

void ProxyClient::ReportLoop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    mu_.AwaitWithTimeout(
        absl::Condition(
            +[](ProxyClient* c) ABSL_NO_THREAD_SAFETY_ANALYSIS {
              return c->stop_ || !c->reports_.empty();
            },
            this),
        absl::Seconds(1));
    if (stop_) return;
    mu_.Unlock();
    FlushReports();
    mu_.Lock();
  }
}

std::vector<std::unique_ptr<v1::MembershipService::StubInterface>>
NewProxyStubs(const std::vector<std::string>& addresses) {
  std::vector<std::unique_ptr<v1::MembershipService::StubInterface>> stubs;
  for (const std::string& address : addresses) {
    stubs.push_back(v1::MembershipService::NewStub(NewChannel(address)));
  }
  return stubs;
}

}  // namespace shoplist::node
