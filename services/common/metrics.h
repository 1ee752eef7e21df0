// Prometheus metrics of one server process, served as text at
// http://<listen>/metrics: requests and latency of every RPC (by method and
// status code, recorded by a server interceptor), plus values the process
// computes when scraped (hints pending, lists held, ring version...).
#ifndef SHOPLIST_SERVICES_COMMON_METRICS_H_
#define SHOPLIST_SERVICES_COMMON_METRICS_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/server_interceptor.h"

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace shoplist {

class ServerMetrics {
 public:
  enum class Kind { kCounter, kGauge };

  // Serves /metrics on `listen` (HOST:PORT; port 0 picks one).
  static absl::StatusOr<std::unique_ptr<ServerMetrics>> Start(
      const std::string& listen);
  ~ServerMetrics();

  // Records every call of a server built with it. The factory refers to
  // this object, which must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  NewInterceptorFactory();

  // Records one call that the interceptor does not see: a call of a Calls
  // batch (call_batches.h), under its unary method's name.
  void RecordCall(const std::string& method, grpc::StatusCode code,
                  double seconds);

  // A value read at every scrape. `read` must be safe to call from the
  // HTTP thread until this object is destroyed.
  void AddValue(const std::string& name, const std::string& help, Kind kind,
                std::function<double()> read);

  // A family of values read at every scrape, one per value of the label
  // `label` (a counter per peer, say): `read` returns (label value, value)
  // pairs, the same rules as AddValue otherwise.
  using Labeled = std::vector<std::pair<std::string, double>>;
  void AddLabeledValues(const std::string& name, const std::string& help,
                        Kind kind, const std::string& label,
                        std::function<Labeled()> read);

  // Stops the HTTP endpoint; interceptors keep recording. Call before
  // what the values read goes away.
  void StopServing();

  int port() const;

 public:
  class Rpcs;  // defined in metrics.cc; named by its interceptors

 private:
  class Values;
  ServerMetrics() = default;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Values> values_;
  std::unique_ptr<Rpcs> rpcs_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_METRICS_H_
