// shoplist-node: a storage node. See README.md for the flags in context.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/server_process.h"
#include "services/common/signals.h"
#include "services/node/node_server.h"
#include "services/node/proxy_client.h"
#include "services/node/ring_source.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, id, "", "Stable node name, e.g. node-0 (required)");
ABSL_FLAG(std::string, listen, "127.0.0.1:7001", "Address to serve on");
ABSL_FLAG(std::string, advertise, "",
          "Address other nodes and clients use to reach this node "
          "(default: --listen)");
ABSL_FLAG(std::string, proxy, "",
          "Proxies to register with and take the ring from: HOST:PORT,...");
ABSL_FLAG(std::string, members, "",
          "Without --proxy: a fixed ring, id=host:port,... (this node "
          "included)");
ABSL_FLAG(std::string, data, "", "Directory of this node's LevelDB (required)");
ABSL_FLAG(int, replicas, 3, "N: replicas of each list");
ABSL_FLAG(int, read_quorum, 2, "R: replies a read waits for");
ABSL_FLAG(int, write_quorum, 2,
          "W: durable acknowledgements a write waits for");
ABSL_FLAG(int, vnodes, 64, "Virtual nodes per member on the ring");
ABSL_FLAG(int, replica_timeout_ms, 2000, "Deadline of each replica call");
ABSL_FLAG(int, anti_entropy_ms, 5000,
          "Interval between anti-entropy rounds with the other replicas");
ABSL_FLAG(int, state_cache_mib, 16,
          "Stored MiB of recent lists kept decoded in memory (about ten "
          "times that in RAM)");

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "shoplist-node: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Storage node of shoplist.\n  shoplist-node --id NAME --listen "
      "HOST:PORT --members id=host:port,... --data DIR");
  absl::StatusOr<shoplist::ServingOptions> serving =
      shoplist::StartServerProcess(argc, argv);
  if (!serving.ok()) return Fail(std::string(serving.status().message()));

  using shoplist::node::NodeConfig;
  NodeConfig config;
  config.id = absl::GetFlag(FLAGS_id);
  config.listen = absl::GetFlag(FLAGS_listen);
  config.data_dir = absl::GetFlag(FLAGS_data);
  config.health_listen = serving->health_listen;
  config.metrics_listen = serving->metrics_listen;
  config.security = serving->security;
  config.insecure = serving->insecure;
  if (absl::GetFlag(FLAGS_state_cache_mib) < 0) {
    return Fail("--state-cache-mib must not be negative");
  }
  config.state_cache_bytes =
      static_cast<size_t>(absl::GetFlag(FLAGS_state_cache_mib)) << 20;
  if (config.id.empty()) return Fail("--id is required");
  if (config.data_dir.empty()) return Fail("--data is required");
  for (int v : {absl::GetFlag(FLAGS_replicas), absl::GetFlag(FLAGS_read_quorum),
                absl::GetFlag(FLAGS_write_quorum), absl::GetFlag(FLAGS_vnodes),
                absl::GetFlag(FLAGS_replica_timeout_ms)}) {
    if (v < 1) return Fail("numeric flags must be at least 1");
  }
  config.coordinator.replicas = absl::GetFlag(FLAGS_replicas);
  config.coordinator.read_quorum = absl::GetFlag(FLAGS_read_quorum);
  config.coordinator.write_quorum = absl::GetFlag(FLAGS_write_quorum);
  config.coordinator.replica_timeout =
      absl::Milliseconds(absl::GetFlag(FLAGS_replica_timeout_ms));
  if (absl::GetFlag(FLAGS_anti_entropy_ms) < 1) {
    return Fail("--anti-entropy-ms must be at least 1");
  }
  config.anti_entropy_interval =
      absl::Milliseconds(absl::GetFlag(FLAGS_anti_entropy_ms));

  std::string advertise = absl::GetFlag(FLAGS_advertise);
  if (advertise.empty()) advertise = config.listen;
  const std::string proxies_flag = absl::GetFlag(FLAGS_proxy);
  const std::string members_flag = absl::GetFlag(FLAGS_members);
  if (proxies_flag.empty() == members_flag.empty()) {
    return Fail("give exactly one of --proxy and --members");
  }

  std::unique_ptr<shoplist::node::ProxyClient> proxies;
  std::unique_ptr<shoplist::node::StaticRingSource> fixed;
  const shoplist::node::RingSource* ring = nullptr;
  shoplist::node::FailureSink* failures = nullptr;
  if (!proxies_flag.empty()) {
    std::vector<std::string> addresses =
        absl::StrSplit(proxies_flag, ',', absl::SkipEmpty());
    shoplist::v1::NodeInfo self;
    self.set_id(config.id);
    self.set_address(advertise);
    proxies = std::make_unique<shoplist::node::ProxyClient>(
        self, shoplist::node::NewProxyStubs(addresses));
    ring = proxies.get();
    failures = proxies.get();
  } else {
    auto members = shoplist::node::ParseMembers(members_flag);
    if (!members.ok()) return Fail(std::string(members.status().message()));
    bool listed = false;
    for (const auto& m : *members) listed |= m.id == config.id;
    if (!listed) members->push_back({config.id, advertise, true});
    auto view = std::make_shared<shoplist::node::RingView>();
    view->version = 1;
    view->ring = shoplist::ring::Ring(*members, absl::GetFlag(FLAGS_vnodes));
    fixed = std::make_unique<shoplist::node::StaticRingSource>(view);
    ring = fixed.get();
  }

  auto server = shoplist::node::NodeServer::Start(config, ring, failures);
  if (!server.ok()) return Fail(server.status().ToString());
  if (proxies != nullptr) {
    // A graceful Leave: hand every list to its new owners, then stop as on
    // SIGTERM.
    shoplist::node::NodeServer* node = server->get();
    proxies->set_on_left(
        [node](std::shared_ptr<const shoplist::node::RingView> view) {
          spdlog::info("this node left the ring; handing off its lists");
          node->HandOffAll(*view);
          kill(getpid(), SIGTERM);
        });
    // Serve first (the proxies may route to this node as soon as it
    // joins), then register.
    proxies->Start();
    if (!proxies->WaitForView(absl::Seconds(10))) {
      spdlog::warn(
          "node {}: no ring view from any proxy yet; will keep "
          "trying",
          config.id);
    }
  }
  spdlog::info("node {} serving on {} (port {}), {} member(s), N={} R={} W={}",
               config.id, config.listen, (*server)->port(),
               ring->Current()->ring.members().size(),
               config.coordinator.replicas, config.coordinator.read_quorum,
               config.coordinator.write_quorum);

  int signal = shoplist::WaitForTerminationSignal();
  spdlog::info("node {}: signal {}, draining", config.id, signal);
  (*server)->Shutdown(absl::Seconds(5));
  server->reset();
  proxies.reset();
  spdlog::info("node {}: stopped cleanly", config.id);
  return 0;
}
