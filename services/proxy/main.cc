// shoplist-proxy: membership, the ring, and the client gateway.
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "services/common/channels.h"
#include "services/common/flag_names.h"
#include "services/common/logging.h"
#include "services/common/security_flags.h"
#include "services/common/signals.h"
#include "services/proxy/proxy_server.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7000", "Address to serve on");
ABSL_FLAG(std::string, data, "",
          "Directory of the membership LevelDB (required)");
ABSL_FLAG(std::string, id, "",
          "Name of this proxy in views (default: --listen)");
ABSL_FLAG(int, vnodes, 64, "Virtual nodes per member on the ring");
ABSL_FLAG(int, replicas, 3, "N: preference list length for Locate and routing");
ABSL_FLAG(int, heartbeat_timeout_ms, 3000,
          "A node silent this long is marked down");
ABSL_FLAG(int, removal_timeout_s, 86400,
          "A node down this long leaves the ring (its ranges move)");
ABSL_FLAG(std::string, health_listen, "",
          "Also serve grpc.health.v1 alone, in plaintext, on this address "
          "(for probes that do not speak TLS)");
ABSL_FLAG(std::string, metrics_listen, "",
          "Serve Prometheus metrics as text at http://ADDRESS/metrics");
ABSL_FLAG(std::string, log_level, "info",
          "trace, debug, info, warn, error or off");
ABSL_FLAG(std::string, log_format, "text",
          "text, or json: one object per line for log collectors");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Proxy of shoplist.\n  shoplist-proxy --listen HOST:PORT --data DIR "
      "[--vnodes K]");
  shoplist::NormalizeFlagNames(argc, argv);
  absl::ParseCommandLine(argc, argv);
  if (absl::Status s = shoplist::ConfigureLogging(
          absl::GetFlag(FLAGS_log_level), absl::GetFlag(FLAGS_log_format));
      !s.ok()) {
    std::fprintf(stderr, "shoplist-proxy: %s\n",
                 std::string(s.message()).c_str());
    return 2;
  }

  shoplist::BlockTerminationSignals();
  // Debian's Abseil checks lock order on every Mutex acquisition (it is
  // built without NDEBUG); that costs the servers ~2% CPU. Tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  shoplist::proxy::ProxyOptions options;
  options.data_dir = absl::GetFlag(FLAGS_data);
  std::string listen = absl::GetFlag(FLAGS_listen);
  options.proxy_id =
      absl::GetFlag(FLAGS_id).empty() ? listen : absl::GetFlag(FLAGS_id);
  if (options.data_dir.empty()) {
    std::fprintf(stderr, "shoplist-proxy: --data is required\n");
    return 2;
  }
  for (int v : {absl::GetFlag(FLAGS_vnodes), absl::GetFlag(FLAGS_replicas),
                absl::GetFlag(FLAGS_heartbeat_timeout_ms),
                absl::GetFlag(FLAGS_removal_timeout_s)}) {
    if (v < 1) {
      std::fprintf(stderr,
                   "shoplist-proxy: numeric flags must be at least 1\n");
      return 2;
    }
  }
  options.vnodes = absl::GetFlag(FLAGS_vnodes);
  options.replicas = absl::GetFlag(FLAGS_replicas);
  options.membership.heartbeat_timeout =
      absl::Milliseconds(absl::GetFlag(FLAGS_heartbeat_timeout_ms));
  options.membership.removal_timeout =
      absl::Seconds(absl::GetFlag(FLAGS_removal_timeout_s));

  absl::StatusOr<shoplist::SecurityOptions> security =
      shoplist::SecurityOptionsFromFlags();
  if (!security.ok()) {
    std::fprintf(stderr, "shoplist-proxy: %s\n",
                 std::string(security.status().message()).c_str());
    return 2;
  }
  // The gateway's calls to nodes present this proxy's certificate.
  shoplist::SetChannelSecurity(*security);
  shoplist::ServingOptions serving;
  serving.listen = listen;
  serving.security = *security;
  serving.health_listen = absl::GetFlag(FLAGS_health_listen);
  serving.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  auto server = shoplist::proxy::ProxyServer::Start(serving, options);
  if (!server.ok()) {
    std::fprintf(stderr, "shoplist-proxy: %s\n",
                 server.status().ToString().c_str());
    return 1;
  }
  spdlog::info("proxy {} serving on {} (port {}), vnodes {}, N={}",
               options.proxy_id, listen, (*server)->port(), options.vnodes,
               options.replicas);
  int signal = shoplist::WaitForTerminationSignal();
  spdlog::info("proxy {}: signal {}, draining", options.proxy_id, signal);
  (*server)->Shutdown(absl::Seconds(2));
  server->reset();
  spdlog::info("proxy {}: stopped cleanly", options.proxy_id);
  return 0;
}
