#include "tests/support/cluster.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "gtest/gtest.h"

namespace shoplist::testing {

std::shared_ptr<grpc::Channel> FastChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout,
                                             bool wait) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  context->set_wait_for_ready(wait);
  return context;
}

Cluster::Cluster(int proxies, int nodes, const TempDir& dir,
                 std::vector<std::string> node_args, ClusterOptions options)
    : dir_(dir),
      node_args_(std::move(node_args)),
      options_(std::move(options)) {
  UseBinaries(options_.node_binary, options_.proxy_binary);
  // Servers under users of their own create their folders here.
  if (options_.separate_uids) chmod(dir_.path().c_str(), 0777);
  for (int i = 0; i < proxies; ++i) {
    proxy_addresses_.push_back(absl::StrCat("127.0.0.1:", FreePort()));
    auto channel = FastChannel(proxy_addresses_.back());
    membership_.push_back(v1::MembershipService::NewStub(channel));
    gateway_.push_back(v1::ListService::NewStub(channel));
  }
  proxy_processes_.resize(proxies);
  for (int i = 0; i < proxies; ++i) StartProxy(i);
  for (int i = 0; i < nodes; ++i) AddNode();
}

int Cluster::proxy_uid(int p) const {
  return options_.separate_uids ? kProxyUid + p : -1;
}

int Cluster::node_uid(int i) const {
  return options_.separate_uids ? kNodeUid + i : -1;
}

void Cluster::UseBinaries(std::string node, std::string proxy) {
  node_binary_ = node.empty() ? SHOPLIST_NODE_BINARY : std::move(node);
  proxy_binary_ = proxy.empty() ? SHOPLIST_PROXY_BINARY : std::move(proxy);
}

void Cluster::StartProxy(int i) {
  std::vector<std::string> argv = {
      proxy_binary_,
      "--listen=" + proxy_addresses_[i],
      "--data=" + dir_.Sub(absl::StrCat("proxy-", i)),
      absl::StrCat("--id=proxy-", i),
      "--vnodes=64",
      "--heartbeat-timeout-ms=1500"};
  argv.insert(argv.end(), options_.proxy_args.begin(),
              options_.proxy_args.end());
  proxy_processes_[i] = std::make_unique<ChildProcess>(
      argv, dir_.Sub(absl::StrCat("proxy-", i, ".log")), proxy_uid(i));
}

int Cluster::AddNode() {
  int i = static_cast<int>(node_ids_.size());
  node_ids_.push_back(absl::StrCat("node-", i));
  node_addresses_.push_back(absl::StrCat("127.0.0.1:", FreePort()));
  node_lists_.push_back(
      v1::ListService::NewStub(FastChannel(node_addresses_.back())));
  node_processes_.emplace_back();
  StartNode(i);
  return i;
}

void Cluster::StartNode(int i) {
  std::vector<std::string> argv = {
      node_binary_,
      "--id=" + node_ids_[i],
      "--listen=" + node_addresses_[i],
      "--proxy=" + absl::StrJoin(proxy_addresses_, ","),
      "--data=" + dir_.Sub(node_ids_[i]),
      "--replica-timeout-ms=1000"};
  argv.insert(argv.end(), node_args_.begin(), node_args_.end());
  node_processes_[i] = std::make_unique<ChildProcess>(
      argv, dir_.Sub(node_ids_[i] + ".log"), node_uid(i));
}

void Cluster::MoveNode(int i) {
  node_addresses_[i] = absl::StrCat("127.0.0.1:", FreePort());
  node_lists_[i] = v1::ListService::NewStub(FastChannel(node_addresses_[i]));
}

std::vector<ring::Member> Cluster::Members() const {
  std::vector<ring::Member> members;
  for (size_t i = 0; i < node_ids_.size(); ++i) {
    members.push_back({node_ids_[i], node_addresses_[i], true});
  }
  return members;
}

bool Cluster::WaitForView(int p, size_t total, size_t up) {
  return WaitFor(absl::Seconds(30), [&] {
    v1::RingView view;
    if (!LatestView(p, &view)) return false;
    size_t n_up = 0;
    for (const auto& m : view.members()) n_up += m.state() == v1::Member::UP;
    if (static_cast<size_t>(view.members_size()) != total || n_up != up) {
      return false;
    }
    // A node the proxy counts up coordinates once the ring reaches it.
    for (const auto& m : view.members()) {
      if (m.state() != v1::Member::UP) continue;
      for (int i = 0; i < nodes(); ++i) {
        if (node_ids_[i] != m.node().id()) continue;
        v1::PingResponse pong;
        if (!node_lists_[i]
                 ->Ping(Context(absl::Seconds(2)).get(), {}, &pong)
                 .ok() ||
            pong.ring_version() == 0) {
          return false;
        }
      }
    }
    return true;
  });
}

bool Cluster::LatestView(int p, v1::RingView* view) {
  auto context = Context(absl::Seconds(2), true);
  auto reader = membership_[p]->Subscribe(context.get(), {});
  bool ok = reader->Read(view);
  context->TryCancel();
  reader->Finish();
  return ok;
}

std::vector<std::string> WriteLists(Cluster& cluster, int count,
                                    v1::ListService::Stub* via) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    std::string id = *crdt::NewListId();
    crdt::ListState client;
    crdt::ListState delta = *client.Create(0xC11E47, "list", 1);
    delta.Merge(*client.Add(0xC11E47, "item-" + id, 1));
    v1::SyncRequest request;
    request.set_list_id(id);
    request.set_create(true);
    codec::EncodeState(delta, request.mutable_delta());
    v1::SyncResponse response;
    grpc::Status status =
        (via != nullptr ? *via : cluster.gateway(0))
            .Sync(Context(absl::Seconds(5)).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    ids.push_back(id);
  }
  return ids;
}

}  // namespace shoplist::testing
