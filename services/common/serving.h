// How every shoplist server listens: one port for its services (TLS when
// configured) with health checking, reflection and message limits, and an
// optional plaintext port serving only grpc.health.v1, for probes that do
// not speak TLS (kubelet's gRPC probes).
#ifndef SHOPLIST_SERVICES_COMMON_SERVING_H_
#define SHOPLIST_SERVICES_COMMON_SERVING_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "services/common/security.h"

namespace shoplist {

struct ServingOptions {
  std::string listen = "127.0.0.1:0";
  SecurityOptions security;
  ClientCertificates client_certificates = ClientCertificates::kRequire;
  std::string health_listen;   // empty: no separate health port
  std::string metrics_listen;  // Prometheus /metrics; empty: none
};

// Health, reflection, limits and the listening port; `port` receives the
// bound port when the server starts.
void ConfigureServerBuilder(const ServingOptions& options,
                            grpc::ServerBuilder* builder, int* port);

// The plaintext health-only server. It answers SERVING until Stop(), which
// reports NOT_SERVING and then closes it.
class HealthServer {
 public:
  static absl::StatusOr<std::unique_ptr<HealthServer>> Start(
      const std::string& listen);
  ~HealthServer();
  void Stop();
  int port() const { return port_; }

 private:
  HealthServer(std::unique_ptr<grpc::Server> server, int port)
      : server_(std::move(server)), port_(port) {}
  std::unique_ptr<grpc::Server> server_;
  int port_;
  bool stopped_ = false;
};

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_SERVING_H_
