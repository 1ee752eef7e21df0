#include "services/node/node_server.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "crdt/limits.h"
#include "grpcpp/grpcpp.h"
#include "ring/node_id.h"
#include "services/common/metrics.h"
#include "services/common/serving.h"
#include "services/node/admin_service.h"
#include "services/node/hint_deliverer.h"
#include "services/node/list_service.h"
#include "services/node/peer_health.h"
#include "services/node/replica_peers.h"
#include "services/node/replica_service.h"
#include "services/node/watch_hub.h"
#include "spdlog/spdlog.h"
#include "storage/replica_store.h"

namespace shoplist::node {

// Declared in order of construction; destroyed in reverse, so the server
// stops before the services and the store it uses.
struct NodeServer::Parts {
  NodeConfig config;
  WatchHub watchers;
  SharedDigests digests;
  std::unique_ptr<storage::ReplicaStore> store;
  std::unique_ptr<ReplicaPeers> peers;
  std::unique_ptr<PeerHealth> health;
  std::unique_ptr<Coordinator> coordinator;
  std::unique_ptr<ReplicaServiceImpl> replica_service;
  std::unique_ptr<ListServiceImpl> list_service;
  std::unique_ptr<AdminServiceImpl> admin_service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<HintDeliverer> hints;
  std::unique_ptr<AntiEntropy> anti_entropy;
  int port = 0;
  // Last: destroyed first. The server's interceptors record into its
  // metrics until the server shut down.
  std::unique_ptr<ServerSidecars> sidecars;
  absl::Time started;
  const RingSource* ring = nullptr;
  absl::Mutex mu;
  // Every part is in place: what AdminService's Status reads.
  bool serving ABSL_GUARDED_BY(mu) = false;
  // Repairs and backups an operator asked for that are running (Shutdown
  // waits for them before the anti-entropy and the store go).
  int admin_jobs ABSL_GUARDED_BY(mu) = 0;
  bool shut_down ABSL_GUARDED_BY(mu) = false;
};

namespace {

// Bytes of the files under `dir`; files that go meanwhile (LevelDB
// compacts as it serves) are skipped.
uint64_t DiskBytes(const std::string& dir) {
  uint64_t bytes = 0;
  std::error_code error;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, error);
       !error && it != std::filesystem::recursive_directory_iterator();
       it.increment(error)) {
    std::error_code size_error;
    const uintmax_t size = it->file_size(size_error);
    if (!size_error && it->is_regular_file(size_error)) bytes += size;
  }
  return bytes;
}

}  // namespace

absl::Status NodeServer::BeginAdminJob(Parts& p) {
  absl::MutexLock lock(&p.mu);
  if (!p.serving || p.shut_down) {
    return absl::UnavailableError("the node is not serving");
  }
  ++p.admin_jobs;
  return absl::OkStatus();
}

void NodeServer::EndAdminJob(Parts& p) {
  absl::MutexLock lock(&p.mu);
  --p.admin_jobs;
}

size_t NodeServer::HandOffAll(const RingView& view) {
  Parts& p = *parts_;
  if (!BeginAdminJob(p).ok()) return 0;
  const size_t delivered = p.anti_entropy->HandOffAll(view);
  EndAdminJob(p);
  return delivered;
}

absl::StatusOr<AntiEntropy::Round> NodeServer::Repair(
    Parts& p, const AntiEntropy::Progress& progress) {
  if (absl::Status s = BeginAdminJob(p); !s.ok()) return s;
  // Shutdown resets the anti-entropy only once no job runs.
  AntiEntropy::Round round = p.anti_entropy->RunOnce(progress);
  EndAdminJob(p);
  return round;
}

absl::Status NodeServer::ExportRecords(
    Parts& p,
    const std::function<bool(absl::string_view, absl::string_view)>& visit) {
  if (absl::Status s = BeginAdminJob(p); !s.ok()) return s;
  absl::Status status = p.store->ExportRecords(visit);
  EndAdminJob(p);
  return status;
}

absl::StatusOr<v1::NodeStatus> NodeServer::StatusOf(Parts& p) {
  v1::NodeStatus status;
  {
    absl::MutexLock lock(&p.mu);
    if (!p.serving) return absl::UnavailableError("the node is starting");
    status.set_draining(p.shut_down);
  }
  absl::StatusOr<size_t> hints = p.store->CountHints();
  if (!hints.ok()) return hints.status();
  status.set_node_id(p.config.id);
  const std::shared_ptr<const RingView> routing = p.ring->Current();
  status.set_ring_version(routing->version);
  status.set_ring_proxy(routing->proxy);
  status.set_replicas(static_cast<uint32_t>(p.config.coordinator.replicas));
  status.set_lists(p.digests.size());
  status.set_hints(*hints);
  if (const absl::Time oldest = p.hints->oldest_pending();
      oldest != absl::InfinitePast()) {
    status.set_oldest_hint_unix_ms(absl::ToUnixMillis(oldest));
  }
  for (const auto& [peer, failures] : p.coordinator->replica_failures()) {
    (*status.mutable_replica_failures())[peer] = failures;
  }
  if (const AntiEntropy::HandOff h = p.anti_entropy->HandOffProgress();
      h.lists > 0 || h.sent > 0) {
    status.mutable_handoff()->set_lists(h.lists);
    status.mutable_handoff()->set_sent(h.sent);
    status.mutable_handoff()->set_delivered(h.delivered);
  }
  status.set_disk_bytes(DiskBytes(p.config.data_dir));
  const AntiEntropy::Round round = p.anti_entropy->LastRound();
  if (round.finished != absl::InfinitePast()) {
    *status.mutable_last_round() = RoundOf(round);
  }
  status.set_lists_repaired_total(p.anti_entropy->lists_repaired());
  status.set_started_unix_ms(absl::ToUnixMillis(p.started));
  absl::StatusOr<uint64_t> replica_id = p.store->ReplicaId();
  if (!replica_id.ok()) return replica_id.status();
  status.set_replica_id(*replica_id);
  return status;
}

// Read at every scrape.
void NodeServer::AddMetricValues(Parts& p, const RingSource* ring) {
  using Kind = ServerMetrics::Kind;
  ServerMetrics& m = *p.sidecars->metrics();
  m.AddValue("shoplist_lists", "Lists this node holds", Kind::kGauge,
             [&p] { return static_cast<double>(p.digests.size()); });
  m.AddValue("shoplist_hints_pending",
             "Hints kept for down owners after the last hand-off round "
             "(counted up to 1,024)",
             Kind::kGauge,
             [&p] { return static_cast<double>(p.hints->pending()); });
  m.AddValue("shoplist_hints_oldest_age_seconds",
             "Age of the oldest hint left after the last hand-off round (0 "
             "for none): how long an owner has missed writes",
             Kind::kGauge, [&p] {
               const absl::Time oldest = p.hints->oldest_pending();
               return oldest == absl::InfinitePast()
                          ? 0.0
                          : absl::ToDoubleSeconds(absl::Now() - oldest);
             });
  m.AddLabeledValues(
      "shoplist_replica_failures_total",
      "Replica calls to each peer that failed or timed out", Kind::kCounter,
      "peer", [&p] {
        ServerMetrics::Labeled by_peer;
        for (const auto& [peer, failures] : p.coordinator->replica_failures()) {
          by_peer.emplace_back(peer, static_cast<double>(failures));
        }
        return by_peer;
      });
  m.AddValue("shoplist_read_digest_misses_total",
             "Digest reads where an owner's copy differed, so its state was "
             "fetched too",
             Kind::kCounter, [&p] {
               return static_cast<double>(p.coordinator->read_digest_misses());
             });
  m.AddValue(
      "shoplist_anti_entropy_repairs_total",
      "Lists that differed from a peer's and were exchanged", Kind::kCounter,
      [&p] { return static_cast<double>(p.anti_entropy->lists_repaired()); });
  m.AddValue("shoplist_ring_version", "Version of the ring view in use",
             Kind::kGauge,
             [ring] { return static_cast<double>(ring->Current()->version); });
  m.AddValue("shoplist_anti_entropy_last_round_timestamp_seconds",
             "When the last anti-entropy round ended (Unix seconds; 0 before "
             "the first)",
             Kind::kGauge, [&p] {
               const absl::Time at = p.anti_entropy->LastRound().finished;
               return at == absl::InfinitePast() ? 0.0
                                                 : absl::ToUnixSeconds(at);
             });
  m.AddValue(
      "shoplist_anti_entropy_last_round_seconds",
      "How long the last anti-entropy round took", Kind::kGauge, [&p] {
        return absl::ToDoubleSeconds(p.anti_entropy->LastRound().duration);
      });
  m.AddValue("shoplist_draining",
             "1 from the start of the node's shutdown: it answers what it "
             "started and refuses new calls",
             Kind::kGauge, [&p] {
               absl::MutexLock lock(&p.mu);
               return p.shut_down ? 1.0 : 0.0;
             });
  m.AddValue(
      "shoplist_data_bytes", "Bytes of the node's data directory", Kind::kGauge,
      [&p] { return static_cast<double>(DiskBytes(p.config.data_dir)); });
  m.AddValue("shoplist_disk_size_bytes",
             "Bytes of the file system that holds the node's data directory",
             Kind::kGauge, [&p] {
               std::error_code error;
               const std::filesystem::space_info space =
                   std::filesystem::space(p.config.data_dir, error);
               return error ? 0.0 : static_cast<double>(space.capacity);
             });
  m.AddValue("shoplist_disk_free_bytes",
             "Bytes free to the node on its data directory's file system",
             Kind::kGauge, [&p] {
               std::error_code error;
               const std::filesystem::space_info space =
                   std::filesystem::space(p.config.data_dir, error);
               return error ? 0.0 : static_cast<double>(space.available);
             });
}

absl::StatusOr<std::unique_ptr<NodeServer>> NodeServer::Start(
    NodeConfig config, const RingSource* ring, FailureSink* failures) {
  if (absl::Status s = ring::ValidateNodeId(config.id); !s.ok()) return s;
  auto parts = std::make_unique<Parts>();
  parts->started = absl::Now();
  parts->ring = ring;
  parts->config = std::move(config);
  NodeConfig& c = parts->config;
  c.coordinator.self_id = c.id;
  if (absl::Status s = ValidateCoordinatorOptions(c.coordinator); !s.ok()) {
    return s;
  }
  storage::StoreOptions store_options;
  store_options.on_merge = [p = parts.get()](const std::string& list_id,
                                             const crdt::ListState& merged) {
    p->digests.Set(list_id, merged);
    p->watchers.Publish(list_id, merged);
  };
  store_options.on_repair = [p = parts.get()] {
    // Lists may be older or gone: digests that still claimed them would
    // keep anti-entropy from refilling them.
    absl::Status s = p->digests.Load(*p->store);
    spdlog::warn("the store repaired its damaged database; digests rebuilt: {}",
                 s.ToString());
  };
  store_options.state_cache_bytes = c.state_cache_bytes;
  store_options.env = c.env;
  absl::StatusOr<std::unique_ptr<storage::ReplicaStore>> store =
      storage::OpenLevelDbStore(c.data_dir, std::move(store_options));
  if (!store.ok()) return store.status();
  parts->store = *std::move(store);
  if (absl::Status s = parts->digests.Load(*parts->store); !s.ok()) return s;
  parts->peers = NewGrpcReplicaPeers();
  parts->health = std::make_unique<PeerHealth>(c.quarantine);
  parts->coordinator = std::make_unique<Coordinator>(
      c.coordinator, parts->store.get(), parts->peers.get(), ring,
      parts->health.get(), failures);
  parts->replica_service = std::make_unique<ReplicaServiceImpl>(
      c.id, parts->store.get(), parts->digests, c.security.cluster_token);
  parts->list_service = std::make_unique<ListServiceImpl>(
      c.id, parts->coordinator.get(), &parts->watchers);
  parts->admin_service = std::make_unique<AdminServiceImpl>(
      c.id, [p = parts.get()] { return StatusOf(*p); },
      [p = parts.get()](const AntiEntropy::Progress& progress) {
        return Repair(*p, progress);
      },
      [p = parts.get()](
          const std::function<bool(absl::string_view, absl::string_view)>&
              visit) { return ExportRecords(*p, visit); },
      c.security.cluster_token);

  ServingOptions serving;
  serving.listen = c.listen;
  serving.security = c.security;
  serving.insecure = c.insecure;
  // Only proxies and other nodes call a node directly.
  serving.client_certificates = ClientCertificates::kRequire;
  grpc::ServerBuilder builder;
  serving.metrics_listen = c.metrics_listen;
  absl::StatusOr<std::unique_ptr<ServerSidecars>> sidecars =
      ConfigureServerBuilder(serving, &builder, &parts->port);
  if (!sidecars.ok()) return sidecars.status();
  parts->sidecars = *std::move(sidecars);
  if (ServerMetrics* metrics = parts->sidecars->metrics()) {
    parts->list_service->set_call_recorder([metrics](const std::string& method,
                                                     grpc::StatusCode code,
                                                     double seconds) {
      metrics->RecordCall(method, code, seconds);
    });
  }
  builder.RegisterService(parts->replica_service.get());
  builder.RegisterService(parts->list_service.get());
  builder.RegisterService(parts->admin_service.get());
  parts->server = builder.BuildAndStart();
  if (parts->server == nullptr || parts->port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", c.listen));
  }
  if (absl::Status s = parts->sidecars->StartHealth(c.health_listen); !s.ok()) {
    return s;
  }
  parts->hints = std::make_unique<HintDeliverer>(
      c.id, parts->store.get(), parts->peers.get(), ring, parts->health.get(),
      c.hint_interval, c.coordinator.replica_timeout);
  parts->hints->Start();
  AntiEntropyOptions anti_entropy;
  anti_entropy.replicas = c.coordinator.replicas;
  anti_entropy.interval = c.anti_entropy_interval;
  anti_entropy.timeout = c.coordinator.replica_timeout;
  parts->anti_entropy =
      std::make_unique<AntiEntropy>(c.id, parts->store.get(), &parts->digests,
                                    parts->peers.get(), ring, anti_entropy);
  parts->anti_entropy->Start();
  if (parts->sidecars->metrics() != nullptr) AddMetricValues(*parts, ring);
  {
    absl::MutexLock lock(&parts->mu);
    parts->serving = true;
  }
  return std::unique_ptr<NodeServer>(new NodeServer(std::move(parts)));
}

NodeServer::NodeServer(std::unique_ptr<Parts> parts)
    : parts_(std::move(parts)) {}

NodeServer::~NodeServer() { Shutdown(absl::Seconds(5)); }

void NodeServer::Shutdown(absl::Duration grace) {
  {
    absl::MutexLock lock(&parts_->mu);
    if (parts_->shut_down) return;
    parts_->shut_down = true;
  }
  parts_->sidecars->Stop();
  // A proxy never closes its Calls stream, nor a peer its store and fetch
  // streams: answered, they end now.
  parts_->list_service->DrainCalls();
  parts_->replica_service->DrainStreams();
  parts_->server->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  parts_->anti_entropy->Stop();
  {
    absl::MutexLock lock(&parts_->mu);
    parts_->mu.Await(absl::Condition(
        +[](int* jobs) { return *jobs == 0; }, &parts_->admin_jobs));
  }
  parts_->anti_entropy.reset();
  parts_->hints.reset();
  // The coordinator's destructor waits for replica calls still in flight.
  parts_->coordinator.reset();
}

void NodeServer::Wait() { parts_->server->Wait(); }

int NodeServer::port() const { return parts_->port; }

}  // namespace shoplist::node
