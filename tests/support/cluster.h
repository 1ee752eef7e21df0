// A local cluster of real shoplist-proxy and shoplist-node processes for
// system tests: free loopback ports, data and logs in a TempDir, every
// process stopped by PID when the Cluster goes away.
#ifndef SHOPLIST_TESTS_SUPPORT_CLUSTER_H_
#define SHOPLIST_TESTS_SUPPORT_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "ring/ring.h"
#include "shoplist/v1/list_service.grpc.pb.h"
#include "shoplist/v1/membership_service.grpc.pb.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace shoplist::testing {

// A channel that reconnects quickly: servers start after their clients.
std::shared_ptr<grpc::Channel> FastChannel(const std::string& address);

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout,
                                             bool wait = false);

struct ClusterOptions {
  // Every server runs as a user of its own (proxy p: kProxyUid + p, node i:
  // kNodeUid + i), so a partition can cut any pair. Needs root.
  bool separate_uids = false;
  std::vector<std::string> proxy_args;
  // The programs servers start from (empty: this build's); UseBinaries
  // changes them for later starts (an upgrade).
  std::string node_binary;
  std::string proxy_binary;
};
inline constexpr int kProxyUid = 20000;
inline constexpr int kNodeUid = 21000;

class Cluster {
 public:
  // Starts `proxies` proxies and `nodes` nodes registered with all of them;
  // every node also gets `node_args`.
  Cluster(int proxies, int nodes, const TempDir& dir,
          std::vector<std::string> node_args = {}, ClusterOptions options = {});

  void StartProxy(int i);
  // Later starts run these programs (empty: this build's).
  void UseBinaries(std::string node, std::string proxy);
  // Adds and starts one more node; returns its index.
  int AddNode();
  void StartNode(int i);
  // Gives node `i` a new address (a new machine) for its next start.
  void MoveNode(int i);

  // Waits until proxy `p` reports `total` members with `up` of them up,
  // each of those holding a ring.
  bool WaitForView(int p, size_t total, size_t up);
  // The first view a fresh subscription to proxy `p` delivers.
  bool LatestView(int p, v1::RingView* view);

  v1::MembershipService::Stub& membership(int p) { return *membership_[p]; }
  v1::ListService::Stub& gateway(int p) { return *gateway_[p]; }
  ChildProcess& proxy(int p) { return *proxy_processes_[p]; }
  ChildProcess& node(int i) { return *node_processes_[i]; }
  const std::string& node_id(int i) const { return node_ids_[i]; }
  const std::string& node_address(int i) const { return node_addresses_[i]; }
  std::string node_data(int i) const { return dir_.Sub(node_ids_[i]); }
  int nodes() const { return static_cast<int>(node_ids_.size()); }
  int proxies() const { return static_cast<int>(proxy_addresses_.size()); }
  // The members as the proxies see them when all are up.
  std::vector<ring::Member> Members() const;
  const std::string& proxy_address(int p) const { return proxy_addresses_[p]; }
  // The user a server runs as (-1: the test's own).
  int proxy_uid(int p) const;
  int node_uid(int i) const;

  // The ListService of node `i` itself (reads coordinated there).
  v1::ListService::Stub& node_lists(int i) { return *node_lists_[i]; }

 private:
  const TempDir& dir_;
  const std::vector<std::string> node_args_;
  const ClusterOptions options_;
  std::string node_binary_;
  std::string proxy_binary_;
  std::vector<std::string> proxy_addresses_, node_ids_, node_addresses_;
  std::vector<std::unique_ptr<ChildProcess>> proxy_processes_, node_processes_;
  std::vector<std::unique_ptr<v1::MembershipService::Stub>> membership_;
  std::vector<std::unique_ptr<v1::ListService::Stub>> gateway_;
  std::vector<std::unique_ptr<v1::ListService::Stub>> node_lists_;
};

// Creates `count` lists through proxy 0 (or `via`, a node's ListService,
// which then coordinates them), each with one item named "item-<its id>";
// returns their ids. A write that fails fails the test.
std::vector<std::string> WriteLists(Cluster& cluster, int count,
                                    v1::ListService::Stub* via = nullptr);

}  // namespace shoplist::testing

#endif  // SHOPLIST_TESTS_SUPPORT_CLUSTER_H_
