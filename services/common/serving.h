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
#include "services/common/metrics.h"
#include "services/common/security.h"

namespace shoplist {

struct ServingOptions {
  std::string listen = "127.0.0.1:0";
  SecurityOptions security;
  ClientCertificates client_certificates = ClientCertificates::kRequire;
  std::string health_listen;   // empty: no separate health port
  std::string metrics_listen;  // Prometheus /metrics; empty: none
  // Serve a non-loopback `listen` without token or TLS (CheckExposure).
  bool insecure = false;
};

class ServerSidecars;

// Health, reflection, limits and the listening port (`port` receives the
// bound port when the server starts), and the metrics endpoint with its
// interceptor when `options.metrics_listen` is set. FAILED_PRECONDITION
// when the port would be open to others without authentication
// (CheckExposure).
absl::StatusOr<std::unique_ptr<ServerSidecars>> ConfigureServerBuilder(
    const ServingOptions& options, grpc::ServerBuilder* builder, int* port);

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

// What a server runs beside its gRPC port, each when configured: the
// metrics endpoint (started by ConfigureServerBuilder, as its interceptor
// must be installed before the server is built) and the health port.
class ServerSidecars {
 public:
  ~ServerSidecars();
  // After the server started: the plaintext health port.
  absl::Status StartHealth(const std::string& health_listen);
  // Null when metrics are off.
  ServerMetrics* metrics() { return metrics_.get(); }
  // The first step of a shutdown: health says NOT_SERVING, scrapes end
  // (before what metric values read goes away). Interceptors keep working
  // until the server is gone.
  void Stop();

 private:
  friend absl::StatusOr<std::unique_ptr<ServerSidecars>> ConfigureServerBuilder(
      const ServingOptions&, grpc::ServerBuilder*, int*);
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<HealthServer> health_;
};

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_SERVING_H_
