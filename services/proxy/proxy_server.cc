#include "services/proxy/proxy_server.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "services/common/channels.h"
#include "services/common/metrics.h"
#include "services/proxy/gateway_service.h"
#include "services/proxy/membership_service.h"

namespace shoplist::proxy {

struct ProxyServer::Parts {
  std::unique_ptr<ProxyState> state;
  std::unique_ptr<MembershipServiceImpl> membership;
  std::unique_ptr<GatewayService> gateway;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  // The proxy's own ListService over loopback, for the browsers' watches.
  std::shared_ptr<grpc::Channel> self_channel;
  std::unique_ptr<v1::ListService::Stub> self_stub;
  // After the gateway and the stub, so destroyed before them: its calls go
  // there.
  std::unique_ptr<WebServer> web;
  // Last: destroyed first. The server's interceptors record into its
  // metrics until the server shut down.
  std::unique_ptr<ServerSidecars> sidecars;
  absl::Mutex mu;
  bool shut_down ABSL_GUARDED_BY(mu) = false;
};

absl::StatusOr<std::unique_ptr<ProxyServer>> ProxyServer::Start(
    const std::string& listen, ProxyOptions options) {
  ServingOptions serving;
  serving.listen = listen;
  return Start(std::move(serving), std::move(options));
}

absl::StatusOr<std::unique_ptr<ProxyServer>> ProxyServer::Start(
    ServingOptions serving, ProxyOptions options,
    std::optional<WebOptions> web) {
  auto parts = std::make_unique<Parts>();
  absl::StatusOr<std::unique_ptr<ProxyState>> state =
      ProxyState::Open(std::move(options));
  if (!state.ok()) return state.status();
  parts->state = *std::move(state);
  parts->membership = std::make_unique<MembershipServiceImpl>(
      parts->state.get(), serving.security.cluster_token);
  parts->gateway = std::make_unique<GatewayService>(parts->state.get());

  serving.client_certificates = ClientCertificates::kVerifyIfSent;
  grpc::ServerBuilder builder;
  absl::StatusOr<std::unique_ptr<ServerSidecars>> sidecars =
      ConfigureServerBuilder(serving, &builder, &parts->port);
  if (!sidecars.ok()) return sidecars.status();
  parts->sidecars = *std::move(sidecars);
  if (ServerMetrics* metrics = parts->sidecars->metrics()) {
    parts->gateway->set_call_recorder([metrics](const std::string& method,
                                                grpc::StatusCode code,
                                                double seconds) {
      metrics->RecordCall(method, code, seconds);
    });
    ProxyState* state = parts->state.get();
    using Kind = ServerMetrics::Kind;
    metrics->AddValue(
        "shoplist_ring_version", "Version of this proxy's ring view",
        Kind::kGauge,
        [state] { return static_cast<double>(state->Current()->version); });
    for (auto [name, wanted] :
         {std::pair{"shoplist_members_up", v1::Member::UP},
          std::pair{"shoplist_members_down", v1::Member::DOWN}}) {
      metrics->AddValue(
          name, "Ring members in this state", Kind::kGauge,
          [state, wanted = wanted] {
            double n = 0;
            for (const auto& m : state->Current()->view.members()) {
              if (m.state() == wanted) ++n;
            }
            return n;
          });
    }
  }
  builder.RegisterService(parts->membership.get());
  builder.RegisterService(parts->gateway.get());
  parts->server = builder.BuildAndStart();
  if (parts->server == nullptr || parts->port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", serving.listen));
  }
  if (absl::Status s = parts->sidecars->StartHealth(serving.health_listen);
      !s.ok()) {
    return s;
  }
  if (web) {
    parts->self_channel = NewChannel(absl::StrCat("127.0.0.1:", parts->port));
    parts->self_stub = v1::ListService::NewStub(parts->self_channel);
    absl::StatusOr<std::unique_ptr<WebServer>> started = WebServer::Start(
        *std::move(web), parts->gateway->calls(), parts->self_stub.get());
    if (!started.ok()) return started.status();
    parts->web = *std::move(started);
  }
  return std::unique_ptr<ProxyServer>(new ProxyServer(std::move(parts)));
}

ProxyServer::ProxyServer(std::unique_ptr<Parts> parts)
    : parts_(std::move(parts)) {}

ProxyServer::~ProxyServer() {
  Shutdown(absl::Seconds(5));
  // Calls of a client's Calls stream may still run after the server shut
  // down, and record into the metrics as they end: the gateway, which
  // waits for them, goes before the sidecars.
  parts_->server.reset();
  parts_->web.reset();
  parts_->gateway.reset();
}

void ProxyServer::Shutdown(absl::Duration grace) {
  {
    absl::MutexLock lock(&parts_->mu);
    if (parts_->shut_down) return;
    parts_->shut_down = true;
  }
  // Subscription streams never end by themselves; the deadline cancels
  // them, and subscribers re-open against another proxy.
  parts_->sidecars->Stop();
  // Browsers' calls come back from the gateway before it drains.
  if (parts_->web != nullptr) parts_->web->Stop();
  parts_->gateway->DrainCalls();
  parts_->server->Shutdown(absl::ToChronoTime(absl::Now() + grace));
}

int ProxyServer::port() const { return parts_->port; }
int ProxyServer::web_port() const {
  return parts_->web != nullptr ? parts_->web->port() : 0;
}
ProxyState* ProxyServer::state() { return parts_->state.get(); }

}  // namespace shoplist::proxy
