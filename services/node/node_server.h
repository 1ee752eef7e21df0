// A running storage node: LevelDB store, coordinator, hinted hand-off and
// one gRPC server with ListService, ReplicaService, health and reflection.
// Used by main() and, in-process on an ephemeral port, by service tests.
#ifndef SHOPLIST_SERVICES_NODE_NODE_SERVER_H_
#define SHOPLIST_SERVICES_NODE_NODE_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/security.h"
#include "services/node/anti_entropy.h"
#include "services/node/coordinator.h"
#include "services/node/peer_health.h"
#include "services/node/ring_source.h"
#include "shoplist/v1/admin_service.pb.h"

namespace shoplist::node {

struct NodeConfig {
  std::string id;
  std::string listen = "127.0.0.1:0";
  std::string data_dir;
  size_t state_cache_bytes = storage::kDefaultStateCacheBytes;
  // The store's file system; null is the real one (tests inject faults).
  leveldb::Env* env = nullptr;
  SecurityOptions security;  // TLS (client certificates required with a CA)
  // Serve a non-loopback `listen` without token or TLS (CheckExposure).
  bool insecure = false;
  std::string health_listen;       // plaintext health-only port; empty: none
  std::string metrics_listen;      // Prometheus /metrics; empty: none
  CoordinatorOptions coordinator;  // self_id is filled from `id`
  absl::Duration quarantine = absl::Seconds(2);
  absl::Duration hint_interval = absl::Milliseconds(500);
  absl::Duration anti_entropy_interval = absl::Seconds(5);
};

class NodeServer {
 public:
  // Opens the store and starts serving. `ring` and `failures` (may be
  // null) must outlive the server.
  static absl::StatusOr<std::unique_ptr<NodeServer>> Start(
      NodeConfig config, const RingSource* ring, FailureSink* failures);
  ~NodeServer();

  // Stops accepting calls, lets in-flight ones finish (up to `grace`), then
  // stops background work. The store closes when the server is destroyed.
  void Shutdown(absl::Duration grace);
  // Blocks until Shutdown() completed.
  void Wait();

  // This node left the ring: sends every list it stores to its owners under
  // `view` (AntiEntropy::HandOffAll), then returns the lists that reached
  // one. A Shutdown meanwhile ends it early and waits for it; refused
  // (0) once Shutdown started. Any thread.
  size_t HandOffAll(const RingView& view);

  int port() const;

 private:
  struct Parts;
  // What a node reports to Prometheus besides its RPCs.
  static void AddMetricValues(Parts& parts, const RingSource* ring);
  // An operator's repair or backup, or a hand-off: refused unless the node
  // serves, and counted until EndAdminJob, so that Shutdown waits for it.
  static absl::Status BeginAdminJob(Parts& parts);
  static void EndAdminJob(Parts& parts);
  // What AdminService's Status answers, and runs its Repair.
  static absl::StatusOr<v1::NodeStatus> StatusOf(Parts& parts);
  static absl::StatusOr<AntiEntropy::Round> Repair(
      Parts& parts, const AntiEntropy::Progress& progress);
  // What AdminService's Backup reads.
  static absl::Status ExportRecords(
      Parts& parts,
      const std::function<bool(absl::string_view, absl::string_view)>& visit);
  explicit NodeServer(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_NODE_SERVER_H_
