// shoplist-proxy: membership, the ring, and the client gateway.
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "services/common/server_process.h"
#include "services/common/signals.h"
#include "services/proxy/proxy_server.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7000", "Address to serve on");
ABSL_FLAG(std::string, web_listen, "",
          "Serve the web app and the browser API on HOST:PORT (HTTPS with "
          "--tls-cert; plain HTTP on loopback only); empty: none");
ABSL_FLAG(std::string, web_root, "",
          "Folder of the web app's files (with --web-listen; empty: the API "
          "alone)");
ABSL_FLAG(int, web_max_watches_per_client, 256,
          "Browser watches one client address may hold open at once; more "
          "are refused with 429");
ABSL_FLAG(int, web_max_watches, 20000,
          "Browser watches open at once in all; more are refused with 429");
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

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Proxy of shoplist.\n  shoplist-proxy --listen HOST:PORT --data DIR "
      "[--vnodes K]");
  absl::StatusOr<shoplist::ServingOptions> serving =
      shoplist::StartServerProcess(argc, argv);
  if (!serving.ok()) {
    std::fprintf(stderr, "shoplist-proxy: %s\n",
                 std::string(serving.status().message()).c_str());
    return 2;
  }

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

  serving->listen = listen;
  std::optional<shoplist::proxy::WebOptions> web;
  if (!absl::GetFlag(FLAGS_web_listen).empty()) {
    web.emplace();
    web->listen = absl::GetFlag(FLAGS_web_listen);
    web->root = absl::GetFlag(FLAGS_web_root);
    web->max_watches_per_client =
        absl::GetFlag(FLAGS_web_max_watches_per_client);
    web->max_watches = absl::GetFlag(FLAGS_web_max_watches);
    // The proxy's own certificate: HTTPS when it serves TLS.
    web->cert_pem = serving->security.cert_pem;
    web->key_pem = serving->security.key_pem;
  }
  auto server = shoplist::proxy::ProxyServer::Start(*serving, options, web);
  if (!server.ok()) {
    std::fprintf(stderr, "shoplist-proxy: %s\n",
                 server.status().ToString().c_str());
    return 1;
  }
  spdlog::info("proxy {} serving on {} (port {}), vnodes {}, N={}",
               options.proxy_id, listen, (*server)->port(), options.vnodes,
               options.replicas);
  if (web) {
    spdlog::info("proxy {}: web app on {}://{} (port {})", options.proxy_id,
                 web->cert_pem.empty() ? "http" : "https", web->listen,
                 (*server)->web_port());
  }
  int signal = shoplist::WaitForTerminationSignal();
  spdlog::info("proxy {}: signal {}, draining", options.proxy_id, signal);
  (*server)->Shutdown(absl::Seconds(2));
  server->reset();
  spdlog::info("proxy {}: stopped cleanly", options.proxy_id);
  return 0;
}
