#include "services/common/metrics.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace shoplist {

// Per-RPC request counts and latency histograms.
class ServerMetrics::Rpcs {
 public:
  explicit Rpcs(prometheus::Registry& registry)
      : requests_(prometheus::BuildCounter()
                      .Name("shoplist_rpc_requests_total")
                      .Help("RPCs handled, by method and status code")
                      .Register(registry)),
        latency_(prometheus::BuildHistogram()
                     .Name("shoplist_rpc_latency_seconds")
                     .Help("Time from a call's start to its status, by "
                           "method (streams: their whole life)")
                     .Register(registry)) {}

  void Record(const std::string& method, grpc::StatusCode code,
              double seconds) {
    requests_.Add({{"method", method}, {"code", CodeName(code)}}).Increment();
    latency_.Add({{"method", method}}, Buckets()).Observe(seconds);
  }

 private:
  static const prometheus::Histogram::BucketBoundaries& Buckets() {
    static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
        0.1,    0.25,  0.5,    1,     2.5,  10};
    return *buckets;
  }
  static std::string CodeName(grpc::StatusCode code) {
    static const char* const kNames[] = {"OK",
                                         "CANCELLED",
                                         "UNKNOWN",
                                         "INVALID_ARGUMENT",
                                         "DEADLINE_EXCEEDED",
                                         "NOT_FOUND",
                                         "ALREADY_EXISTS",
                                         "PERMISSION_DENIED",
                                         "RESOURCE_EXHAUSTED",
                                         "FAILED_PRECONDITION",
                                         "ABORTED",
                                         "OUT_OF_RANGE",
                                         "UNIMPLEMENTED",
                                         "INTERNAL",
                                         "UNAVAILABLE",
                                         "DATA_LOSS",
                                         "UNAUTHENTICATED"};
    int i = static_cast<int>(code);
    if (i >= 0 && i < static_cast<int>(std::size(kNames))) return kNames[i];
    return absl::StrCat(i);
  }

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
};

// Values computed at scrape time.
class ServerMetrics::Values final : public prometheus::Collectable {
 public:
  // `label` empty: `read` returns one value, under an empty label value.
  void Add(const std::string& name, const std::string& help, Kind kind,
           const std::string& label, std::function<Labeled()> read) {
    absl::MutexLock lock(&mu_);
    values_.push_back({name, help, kind, label, std::move(read)});
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    absl::MutexLock lock(&mu_);
    std::vector<prometheus::MetricFamily> families;
    for (const Value& v : values_) {
      prometheus::MetricFamily family;
      family.name = v.name;
      family.help = v.help;
      family.type = v.kind == Kind::kCounter ? prometheus::MetricType::Counter
                                             : prometheus::MetricType::Gauge;
      for (const auto& [label_value, value] : v.read()) {
        prometheus::ClientMetric metric;
        if (!v.label.empty()) metric.label.push_back({v.label, label_value});
        if (v.kind == Kind::kCounter) {
          metric.counter.value = value;
        } else {
          metric.gauge.value = value;
        }
        family.metric.push_back(std::move(metric));
      }
      families.push_back(std::move(family));
    }
    return families;
  }

 private:
  struct Value {
    std::string name, help;
    Kind kind;
    std::string label;
    std::function<Labeled()> read;
  };
  mutable absl::Mutex mu_;
  std::vector<Value> values_ ABSL_GUARDED_BY(mu_);
};

namespace {

class RpcInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcInterceptor(ServerMetrics::Rpcs* rpcs, std::string method)
      : rpcs_(rpcs), method_(std::move(method)), start_(absl::Now()) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      rpcs_->Record(method_, methods->GetSendStatus().error_code(),
                    absl::ToDoubleSeconds(absl::Now() - start_));
    }
    methods->Proceed();
  }

 private:
  ServerMetrics::Rpcs* const rpcs_;
  const std::string method_;
  const absl::Time start_;
};

class RpcInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcInterceptorFactory(ServerMetrics::Rpcs* rpcs) : rpcs_(rpcs) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcInterceptor(rpcs_, info->method());
  }

 private:
  ServerMetrics::Rpcs* const rpcs_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ServerMetrics>> ServerMetrics::Start(
    const std::string& listen) {
  std::unique_ptr<ServerMetrics> metrics(new ServerMetrics());
  metrics->registry_ = std::make_shared<prometheus::Registry>();
  metrics->values_ = std::make_shared<Values>();
  metrics->rpcs_ = std::make_unique<Rpcs>(*metrics->registry_);
  try {
    // civetweb reports a port it cannot bind by throwing.
    metrics->exposer_ = std::make_unique<prometheus::Exposer>(listen);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", listen, ": ", e.what()));
  }
  metrics->exposer_->RegisterCollectable(metrics->registry_);
  metrics->exposer_->RegisterCollectable(metrics->values_);
  return metrics;
}

ServerMetrics::~ServerMetrics() {
  // The HTTP server stops first: no scrape reads a value being destroyed.
  exposer_.reset();
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
ServerMetrics::NewInterceptorFactory() {
  return std::make_unique<RpcInterceptorFactory>(rpcs_.get());
}

void ServerMetrics::RecordCall(const std::string& method, grpc::StatusCode code,
                               double seconds) {
  rpcs_->Record(method, code, seconds);
}

void ServerMetrics::AddValue(const std::string& name, const std::string& help,
                             Kind kind, std::function<double()> read) {
  values_->Add(name, help, kind, "", [read = std::move(read)]() -> Labeled {
    return {{"", read()}};
  });
}

void ServerMetrics::AddLabeledValues(const std::string& name,
                                     const std::string& help, Kind kind,
                                     const std::string& label,
                                     std::function<Labeled()> read) {
  values_->Add(name, help, kind, label, std::move(read));
}

void ServerMetrics::StopServing() { exposer_.reset(); }

int ServerMetrics::port() const {
  if (exposer_ == nullptr) return 0;
  std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace shoplist
