// Anti-entropy and ownership changes with real processes: a node whose data
// folder was wiped is refilled, a node that joins fills its ranges, and a
// node that leaves gracefully hands its lists over before it exits.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "gtest/gtest.h"
#include "ring/ring.h"
#include "shoplist/v1/replica_service.grpc.pb.h"
#include "tests/support/cluster.h"

namespace shoplist {
namespace {

using testing::Cluster;
using testing::Context;
using testing::TempDir;
using testing::WriteLists;

// True when node `i` holds every list of `ids` with its item.
bool Holds(v1::ReplicaService::Stub& node,
           const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    v1::FetchRequest request;
    request.set_list_id(id);
    v1::FetchResponse response;
    if (!node.Fetch(Context(absl::Seconds(2)).get(), request, &response).ok() ||
        !response.found()) {
      return false;
    }
    auto state = codec::DecodeState(response.state());
    if (!state.ok() || !state->items().contains("item-" + id)) return false;
  }
  return true;
}

std::unique_ptr<v1::ReplicaService::Stub> ReplicaStub(const Cluster& cluster,
                                                      int i) {
  return v1::ReplicaService::NewStub(
      testing::FastChannel(cluster.node_address(i)));
}

TEST(AntiEntropyTest, WipedDataFolderIsRefilled) {
  TempDir dir;
  Cluster cluster(1, 3, dir, {"--anti-entropy-ms=300"});
  ASSERT_TRUE(cluster.WaitForView(0, 3, 3));
  std::vector<std::string> ids = WriteLists(cluster, 30);
  auto node2 = ReplicaStub(cluster, 2);
  ASSERT_TRUE(
      testing::WaitFor(absl::Seconds(10), [&] { return Holds(*node2, ids); }));

  cluster.node(2).Kill();
  std::filesystem::remove_all(cluster.node_data(2));
  cluster.StartNode(2);
  absl::Time start = absl::Now();
  // No reads, no hints (nothing was written while it was down): only
  // anti-entropy can bring the lists back.
  bool refilled =
      testing::WaitFor(absl::Seconds(30), [&] { return Holds(*node2, ids); });
  std::printf(
      "refilled %zu lists on a wiped node in %lld ms\n", ids.size(),
      static_cast<long long>(absl::ToInt64Milliseconds(absl::Now() - start)));
  EXPECT_TRUE(refilled);
}

TEST(AntiEntropyTest, JoiningNodeFillsItsRanges) {
  TempDir dir;
  Cluster cluster(1, 3, dir, {"--anti-entropy-ms=300"});
  ASSERT_TRUE(cluster.WaitForView(0, 3, 3));
  std::vector<std::string> ids = WriteLists(cluster, 40);
  int fresh = cluster.AddNode();
  ASSERT_TRUE(cluster.WaitForView(0, 4, 4));
  ring::Ring ring(cluster.Members(), 64);
  std::vector<std::string> owned;
  for (const std::string& id : ids) {
    for (const ring::Member* m : ring.Owners(id, 3)) {
      if (m->id == cluster.node_id(fresh)) owned.push_back(id);
    }
  }
  ASSERT_FALSE(owned.empty());
  auto node = ReplicaStub(cluster, fresh);
  EXPECT_TRUE(
      testing::WaitFor(absl::Seconds(30), [&] { return Holds(*node, owned); }))
      << owned.size() << " lists expected on the new node";
}

TEST(AntiEntropyTest, GracefulLeaveHandsListsToNewOwnersBeforeExit) {
  TempDir dir;
  // Anti-entropy is slow here: what the new owners hold when the leaving
  // node exits came from its hand-off.
  Cluster cluster(1, 4, dir, {"--anti-entropy-ms=600000"});
  ASSERT_TRUE(cluster.WaitForView(0, 4, 4));
  std::vector<std::string> ids = WriteLists(cluster, 30);
  v1::LeaveRequest leave;
  leave.set_node_id(cluster.node_id(3));
  v1::LeaveResponse left;
  ASSERT_TRUE(cluster.membership(0)
                  .Leave(Context(absl::Seconds(5)).get(), leave, &left)
                  .ok());
  EXPECT_EQ(cluster.node(3).Wait(absl::Seconds(30)), 0)
      << "the leaving node should stop cleanly after its hand-off";
  for (int i = 0; i < 3; ++i) {
    auto node = ReplicaStub(cluster, i);
    EXPECT_TRUE(Holds(*node, ids)) << cluster.node_id(i);
  }
}

}  // namespace
}  // namespace shoplist
