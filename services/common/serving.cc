#include "services/common/serving.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "crdt/limits.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace shoplist {

absl::StatusOr<std::unique_ptr<ServerSidecars>> ConfigureServerBuilder(
    const ServingOptions& options, grpc::ServerBuilder* builder, int* port) {
  if (absl::Status s =
          CheckExposure(options.listen, options.security, options.insecure);
      !s.ok()) {
    return s;
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // gRPC's built-in health service carries no descriptors; linking the
  // health proto's lets reflection (grpcurl) describe it.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  builder->AddListeningPort(
      options.listen,
      MakeServerCredentials(options.security, options.client_certificates),
      port);
  builder->SetMaxReceiveMessageSize(crdt::kMaxMessageBytes);
  builder->SetMaxSendMessageSize(crdt::kMaxMessageBytes);
  auto sidecars = std::unique_ptr<ServerSidecars>(new ServerSidecars());
  if (!options.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<ServerMetrics>> metrics =
        ServerMetrics::Start(options.metrics_listen);
    if (!metrics.ok()) return metrics.status();
    sidecars->metrics_ = *std::move(metrics);
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(sidecars->metrics_->NewInterceptorFactory());
    builder->experimental().SetInterceptorCreators(std::move(interceptors));
  }
  return sidecars;
}

ServerSidecars::~ServerSidecars() { Stop(); }

absl::Status ServerSidecars::StartHealth(const std::string& health_listen) {
  if (health_listen.empty()) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<HealthServer>> health =
      HealthServer::Start(health_listen);
  if (!health.ok()) return health.status();
  health_ = *std::move(health);
  return absl::OkStatus();
}

void ServerSidecars::Stop() {
  if (health_) health_->Stop();
  if (metrics_) metrics_->StopServing();
}

absl::StatusOr<std::unique_ptr<HealthServer>> HealthServer::Start(
    const std::string& listen) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve health checks on ", listen));
  }
  return std::unique_ptr<HealthServer>(
      new HealthServer(std::move(server), port));
}

HealthServer::~HealthServer() { Stop(); }

void HealthServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
}

}  // namespace shoplist
