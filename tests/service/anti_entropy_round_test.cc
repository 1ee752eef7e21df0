// AntiEntropy against a real peer on loopback: both replicas are real
// LevelDB stores behind real replica services.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "crdt/limits.h"
#include "crdt/list_id.h"
#include "crdt/list_state.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/node/anti_entropy.h"
#include "services/node/replica_peers.h"
#include "services/node/replica_service.h"
#include "services/node/ring_source.h"
#include "storage/replica_store.h"
#include "tests/support/loopback_server.h"
#include "tests/support/temp_dir.h"

namespace shoplist::node {
namespace {

constexpr crdt::ReplicaId kAlice = 0xA11CE;

// A node's store with its digest index kept by the store's merges.
struct Replica {
  shoplist::testing::TempDir dir;
  SharedDigests digests;
  std::unique_ptr<storage::ReplicaStore> store;

  Replica() {
    storage::StoreOptions options;
    options.on_merge = [this](const std::string& id,
                              const crdt::ListState& stored) {
      digests.Set(id, stored);
    };
    store = *storage::OpenLevelDbStore(dir.path(), std::move(options));
  }
};

class AntiEntropyRoundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service_ = std::make_unique<ReplicaServiceImpl>("b", peer_.store.get(),
                                                    peer_.digests);
    shoplist::testing::LoopbackServer started =
        shoplist::testing::StartLoopbackServer(service_.get());
    server_ = std::move(started.server);
    ASSERT_NE(server_, nullptr);
    auto view = std::make_shared<RingView>();
    view->version = 1;
    view->ring = ring::Ring(
        {{"a", "127.0.0.1:1", true}, {"b", started.address(), true}}, 16);
    ring_ = std::make_unique<StaticRingSource>(view);
    peers_ = NewGrpcReplicaPeers();
    AntiEntropyOptions options;
    options.replicas = 2;  // both hold every list
    options.recheck = absl::Milliseconds(20);
    anti_entropy_ =
        std::make_unique<AntiEntropy>("a", self_.store.get(), &self_.digests,
                                      peers_.get(), ring_.get(), options);
  }
  void TearDown() override {
    anti_entropy_.reset();
    peers_.reset();
    if (server_) server_->Shutdown();
  }

  Replica self_;
  Replica peer_;
  std::unique_ptr<ReplicaServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<StaticRingSource> ring_;
  std::unique_ptr<ReplicaPeers> peers_;
  std::unique_ptr<AntiEntropy> anti_entropy_;
};

// A list only one replica holds differs in the round's first comparison
// and still differs a moment later: the same round repairs it, both ways.
TEST_F(AntiEntropyRoundTest, ADivergenceIsRepairedInTheRoundThatFindsIt) {
  const std::string ours = *crdt::NewListId();
  const std::string theirs = *crdt::NewListId();
  crdt::ListState alice;
  crdt::ListState mine = *alice.Create(kAlice, "groceries", 1);
  ASSERT_TRUE(self_.store->Merge(ours, mine).ok());
  crdt::ListState bob;
  crdt::ListState other = *bob.Create(kAlice + 1, "hardware", 2);
  ASSERT_TRUE(peer_.store->Merge(theirs, other).ok());

  AntiEntropy::Round round = anti_entropy_->RunOnce();
  EXPECT_EQ(round.peers, 1u);
  EXPECT_EQ(round.lists_repaired, 2u);
  absl::StatusOr<crdt::ListState> there = peer_.store->Get(ours);
  ASSERT_TRUE(there.ok()) << there.status();
  EXPECT_EQ(*there, mine);
  absl::StatusOr<crdt::ListState> here = self_.store->Get(theirs);
  ASSERT_TRUE(here.ok()) << here.status();
  EXPECT_EQ(*here, other);

  // In sync now: the next round finds nothing to repair.
  EXPECT_EQ(anti_entropy_->RunOnce().lists_repaired, 0u);
}

}  // namespace
}  // namespace shoplist::node
