// Real shoplist-node processes on loopback: writes through one node, reads
// through another, SIGKILL during a stream of writes, restarts, hinted
// hand-off, clean SIGTERM, bad input. Every process is stopped by PID.
#include <signal.h>

#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "access/capability.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ring/ring.h"
#include "shoplist/v1/list_service.grpc.pb.h"
#include "shoplist/v1/replica_service.grpc.pb.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace shoplist {
namespace {

using testing::ChildProcess;
using testing::Context;
using testing::TempDir;

constexpr int kVnodes = 64;

class NodeCluster {
 public:
  // N = min(3, nodes), R = W = min(2, N).
  NodeCluster(int nodes, const TempDir& dir)
      : dir_(dir),
        replication_(std::min(3, nodes)),
        quorum_(std::min(2, replication_)) {
    std::vector<std::string> members;
    for (int i = 0; i < nodes; ++i) {
      ids_.push_back("node-" + std::to_string(i));
      addresses_.push_back(absl::StrCat("127.0.0.1:", testing::FreePort()));
      members.push_back(ids_.back() + "=" + addresses_.back());
      ring_members_.push_back({ids_.back(), addresses_.back(), true});
    }
    members_ = absl::StrJoin(members, ",");
    processes_.resize(nodes);
    for (int i = 0; i < nodes; ++i) {
      auto channel = testing::FastChannel(addresses_[i]);
      lists_.push_back(v1::ListService::NewStub(channel));
      replica_stubs_.push_back(v1::ReplicaService::NewStub(channel));
      Start(i);
    }
    for (int i = 0; i < nodes; ++i) EXPECT_TRUE(WaitServing(i)) << ids_[i];
  }

  void Start(int i) {
    processes_[i] = std::make_unique<ChildProcess>(
        std::vector<std::string>{
            SHOPLIST_NODE_BINARY, "--id=" + ids_[i],
            "--listen=" + addresses_[i], "--members=" + members_,
            "--data=" + dir_.Sub(ids_[i]), absl::StrCat("--vnodes=", kVnodes),
            absl::StrCat("--replicas=", replication_),
            absl::StrCat("--read-quorum=", quorum_),
            absl::StrCat("--write-quorum=", quorum_),
            "--replica-timeout-ms=1000"},
        dir_.Sub(ids_[i] + ".log"));
  }

  bool WaitServing(int i) {
    return testing::WaitFor(absl::Seconds(20), [&] {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
      // Failing fast while the channel connects would cancel each attempt.
      context.set_wait_for_ready(true);
      v1::PingRequest request;
      v1::PingResponse response;
      return lists_[i]->Ping(&context, request, &response).ok();
    });
  }

  ChildProcess& process(int i) { return *processes_[i]; }
  v1::ListService::Stub& list(int i) { return *lists_[i]; }
  v1::ReplicaService::Stub& replica(int i) { return *replica_stubs_[i]; }
  int IndexOf(const std::string& id) const {
    for (size_t i = 0; i < ids_.size(); ++i) {
      if (ids_[i] == id) return static_cast<int>(i);
    }
    return -1;
  }
  // The list's owners, computed the way the nodes do.
  std::vector<int> Owners(const std::string& list_id) const {
    ring::Ring ring(ring_members_, kVnodes);
    std::vector<int> owners;
    for (const ring::Member* m : ring.Owners(list_id, 3)) {
      owners.push_back(IndexOf(m->id));
    }
    return owners;
  }
  std::string Log(int i) const {
    std::ifstream in(dir_.Sub(ids_[i] + ".log"));
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  const TempDir& dir_;
  const int replication_;
  const int quorum_;
  std::vector<std::string> ids_, addresses_;
  std::vector<ring::Member> ring_members_;
  std::string members_;
  std::vector<std::unique_ptr<ChildProcess>> processes_;
  std::vector<std::unique_ptr<v1::ListService::Stub>> lists_;
  std::vector<std::unique_ptr<v1::ReplicaService::Stub>> replica_stubs_;
};

grpc::Status Sync(v1::ListService::Stub& stub, const std::string& list_id,
                  const crdt::ListState& delta, bool create,
                  v1::SyncResponse* response, const std::string& secret = "") {
  v1::SyncRequest request;
  request.set_list_id(list_id);
  request.set_create(create);
  request.set_secret(secret);
  codec::EncodeState(delta, request.mutable_delta());
  return stub.Sync(Context(absl::Seconds(5)).get(), request, response);
}

absl::StatusOr<crdt::ListView> Get(v1::ListService::Stub& stub,
                                   const std::string& list_id,
                                   const std::string& secret = "") {
  v1::GetRequest request;
  request.set_list_id(list_id);
  request.set_secret(secret);
  v1::GetResponse response;
  grpc::Status status =
      stub.Get(Context(absl::Seconds(5)).get(), request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  absl::StatusOr<crdt::ListState> state = codec::DecodeState(response.state());
  if (!state.ok()) return state.status();
  return state->View();
}

TEST(NodeClusterTest, WriteThroughOneNodeReadThroughAnother) {
  TempDir dir;
  NodeCluster cluster(3, dir);
  const std::string id = *crdt::NewListId();

  v1::ApplyRequest apply;
  apply.set_list_id(id);
  apply.mutable_operation()->mutable_create()->set_title("groceries");
  v1::ApplyResponse applied;
  ASSERT_TRUE(cluster.list(0)
                  .Apply(Context(absl::Seconds(5)).get(), apply, &applied)
                  .ok());
  apply.mutable_operation()->mutable_add()->set_item("milk");
  apply.mutable_operation()->mutable_add()->set_count(2);
  grpc::Status status =
      cluster.list(0).Apply(Context(absl::Seconds(5)).get(), apply, &applied);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GE(applied.acks(), 2u);

  crdt::ListState client;
  crdt::ListState delta = *client.Add(0xC11E47, "bread", 1);
  v1::SyncResponse synced;
  ASSERT_TRUE(Sync(cluster.list(1), id, delta, false, &synced).ok());

  absl::StatusOr<crdt::ListView> view = Get(cluster.list(2), id);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->title, "groceries");
  ASSERT_EQ(view->items.size(), 2u);
  EXPECT_EQ(view->items[0].name, "bread");
  EXPECT_EQ(view->items[1].name, "milk");
  EXPECT_EQ(view->items[1].wanted, 2);
}

// A node answers a read of the copy it stores with bytes kept from the
// last read of that copy: every write must show in the next read, whether
// it comes as a unary Get or in a Calls batch, and both must agree.
TEST(NodeClusterTest, ReadsAnsweredFromKeptEncodingsFollowEveryWrite) {
  TempDir dir;
  NodeCluster cluster(3, dir);
  const std::string id = *crdt::NewListId();
  const int coordinator = cluster.Owners(id)[0];
  v1::ListService::Stub& node = cluster.list(coordinator);
  v1::ApplyRequest apply;
  apply.set_list_id(id);
  apply.mutable_operation()->mutable_create()->set_title("groceries");
  v1::ApplyResponse applied;
  ASSERT_TRUE(
      node.Apply(Context(absl::Seconds(5)).get(), apply, &applied).ok());

  grpc::ClientContext batch_context;
  auto batches = node.Calls(&batch_context);
  for (int i = 0; i < 4; ++i) {
    v1::GetRequest get;
    get.set_list_id(id);
    v1::GetResponse first, again;
    ASSERT_TRUE(node.Get(Context(absl::Seconds(5)).get(), get, &first).ok());
    ASSERT_TRUE(node.Get(Context(absl::Seconds(5)).get(), get, &again).ok());
    v1::CallBatch batch;
    v1::Call* call = batch.add_calls();
    call->set_id(i + 1);
    *call->mutable_get() = get;
    ASSERT_TRUE(batches->Write(batch));
    v1::ReplyBatch replies;
    ASSERT_TRUE(batches->Read(&replies));
    ASSERT_EQ(replies.replies_size(), 1);
    ASSERT_EQ(replies.replies(0).code(), 0) << replies.replies(0).message();
    const v1::GetResponse& batched = replies.replies(0).get();

    for (const v1::GetResponse* r :
         std::vector<const v1::GetResponse*>{&first, &again, &batched}) {
      EXPECT_GE(r->replies(), 2u);
      EXPECT_EQ(r->view().items_size(), i);
      absl::StatusOr<crdt::ListState> state = codec::DecodeState(r->state());
      ASSERT_TRUE(state.ok()) << state.status();
      EXPECT_EQ(state->View().items.size(), static_cast<size_t>(i));
      EXPECT_EQ(r->state().SerializeAsString(),
                first.state().SerializeAsString());
      EXPECT_EQ(r->view().SerializeAsString(),
                first.view().SerializeAsString());
    }
    apply.mutable_operation()->mutable_add()->set_item(
        absl::StrCat("item ", i));
    apply.mutable_operation()->mutable_add()->set_count(1);
    grpc::Status added =
        node.Apply(Context(absl::Seconds(5)).get(), apply, &applied);
    ASSERT_TRUE(added.ok()) << added.error_message();
  }
  batches->WritesDone();
  EXPECT_TRUE(batches->Finish().ok());
}

TEST(NodeClusterTest, AcknowledgedWritesSurviveSigkillAndHintsReachTheNode) {
  TempDir dir;
  NodeCluster cluster(4, dir);
  const std::string id = *crdt::NewListId();
  std::vector<int> owners = cluster.Owners(id);
  const int entry = owners[0];
  const int victim = owners[1];

  crdt::ListState client;
  const crdt::ReplicaId me = 0xC11E47;
  v1::SyncResponse response;
  ASSERT_TRUE(Sync(cluster.list(entry), id, *client.Create(me, "stream", 1),
                   true, &response)
                  .ok());

  std::set<std::string> acked;
  std::set<std::string> acked_while_down;
  constexpr int kWrites = 200;
  for (int i = 0; i < kWrites; ++i) {
    if (i == 60) cluster.process(victim).Kill();  // SIGKILL, mid-stream
    if (i == 140) {
      cluster.Start(victim);
      ASSERT_TRUE(cluster.WaitServing(victim));
    }
    std::string item = "item-" + std::to_string(i);
    crdt::ListState delta = *client.Add(me, item, 1);
    if (Sync(cluster.list(entry), id, delta, false, &response).ok()) {
      acked.insert(item);
      if (i >= 60 && i < 140) acked_while_down.insert(item);
    }
  }
  std::printf(
      "writes: %d attempted, %zu acknowledged, %zu while a replica "
      "was down\n",
      kWrites, acked.size(), acked_while_down.size());
  // Sloppy quorum: losing one node of four never blocks writes.
  EXPECT_EQ(acked.size(), static_cast<size_t>(kWrites));

  // Hinted hand-off: what the victim missed reaches it after its restart,
  // without any read touching the list.
  bool delivered = testing::WaitFor(absl::Seconds(20), [&] {
    v1::FetchRequest request;
    request.set_list_id(id);
    v1::FetchResponse fetched;
    if (!cluster.replica(victim)
             .Fetch(Context(absl::Seconds(2)).get(), request, &fetched)
             .ok() ||
        !fetched.found()) {
      return false;
    }
    crdt::ListView view = codec::DecodeState(fetched.state())->View();
    size_t have = 0;
    for (const auto& item : view.items)
      have += acked_while_down.count(item.name);
    return have == acked_while_down.size();
  });
  EXPECT_TRUE(delivered) << "hints did not reach the restarted node";

  // Every acknowledged write is readable, through every node.
  for (int via = 0; via < 4; ++via) {
    absl::StatusOr<crdt::ListView> view = Get(cluster.list(via), id);
    ASSERT_TRUE(view.ok()) << view.status();
    std::set<std::string> present;
    for (const auto& item : view->items) {
      if (item.wanted == 1) present.insert(item.name);
    }
    for (const std::string& item : acked) {
      EXPECT_TRUE(present.count(item))
          << item << " lost (read via " << via << ")";
    }
  }
}

// --- Links (docs/sharing.md): the nodes decide, not the clients ---

// A replica write as a coordinator sends it, with the proof of `secret`.
grpc::Status StoreWithProof(v1::ReplicaService::Stub& stub,
                            const std::string& list_id,
                            const crdt::ListState& delta,
                            const std::string& secret) {
  v1::StoreRequest request;
  request.set_list_id(list_id);
  codec::EncodeState(delta, request.mutable_delta());
  const access::SecretHash proof = access::HashSecret(secret);
  request.set_proof(access::ProofBytes(proof));
  v1::StoreResponse response;
  return stub.Store(Context(absl::Seconds(5)).get(), request, &response);
}

std::optional<crdt::ListState> Fetch(v1::ReplicaService::Stub& stub,
                                     const std::string& list_id) {
  v1::FetchRequest request;
  request.set_list_id(list_id);
  v1::FetchResponse response;
  if (!stub.Fetch(Context(absl::Seconds(2)).get(), request, &response).ok() ||
      !response.found()) {
    return std::nullopt;
  }
  absl::StatusOr<crdt::ListState> state = codec::DecodeState(response.state());
  if (!state.ok()) return std::nullopt;
  return *std::move(state);
}

grpc::StatusCode WatchEnd(v1::ListService::Stub& stub,
                          const std::string& list_id,
                          const std::string& secret) {
  v1::WatchRequest request;
  request.set_list_id(list_id);
  request.set_secret(secret);
  auto context = Context(absl::Seconds(3));
  auto reader = stub.Watch(context.get(), request);
  v1::WatchEvent event;
  while (reader->Read(&event)) {
  }
  return reader->Finish().error_code();
}

constexpr crdt::ReplicaId kOwner = 0x0A;
constexpr crdt::ReplicaId kForger = 0xF0;

TEST(NodeClusterTest, EveryNodeRefusesWhatALinkDoesNotGrant) {
  TempDir dir;
  NodeCluster cluster(3, dir);
  const std::string id = *crdt::NewListId();
  const access::NewAccess made = *access::MakeAccess();
  crdt::ListState owner;
  crdt::ListState create = *owner.Create(kOwner, "flat", 1);
  create.Merge(*owner.SetAccess(kOwner, access::EncodeGrants(made.grants)));
  create.Merge(*owner.Add(kOwner, "milk", 1));
  v1::SyncResponse response;
  ASSERT_TRUE(
      Sync(cluster.list(0), id, create, true, &response, made.owner_secret)
          .ok());

  for (int via = 0; via < 3; ++via) {
    SCOPED_TRACE(absl::StrCat("via node ", via));
    // No proof: the list does not exist.
    EXPECT_EQ(Get(cluster.list(via), id).status().code(),
              absl::StatusCode::kNotFound);
    EXPECT_EQ(Sync(cluster.list(via), id, crdt::ListState(), false, &response)
                  .error_code(),
              grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(WatchEnd(cluster.list(via), id, ""), grpc::StatusCode::NOT_FOUND);
    // A read link reads, and its forged change is refused whole.
    absl::StatusOr<crdt::ListView> seen =
        Get(cluster.list(via), id, made.read_secret);
    ASSERT_TRUE(seen.ok()) << seen.status();
    EXPECT_EQ(seen->items.size(), 1u);
    crdt::ListState forger = owner;
    EXPECT_EQ(Sync(cluster.list(via), id, *forger.Add(kForger, "forged", 9),
                   false, &response, made.read_secret)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    v1::ApplyRequest apply;
    apply.set_list_id(id);
    apply.set_secret(made.read_secret);
    apply.mutable_operation()->mutable_add()->set_item("forged");
    apply.mutable_operation()->mutable_add()->set_count(1);
    v1::ApplyResponse applied;
    EXPECT_EQ(cluster.list(via)
                  .Apply(Context(absl::Seconds(5)).get(), apply, &applied)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    // An edit link cannot change who may use the list, nor delete it.
    const access::NewAccess mine = *access::MakeAccess();
    forger = owner;
    crdt::ListState takeover = *forger.Add(kForger, "forged", 1);
    takeover.Merge(
        *forger.SetAccess(kForger, access::EncodeGrants(mine.grants)));
    EXPECT_EQ(Sync(cluster.list(via), id, takeover, false, &response,
                   made.edit_secret)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    forger = owner;
    EXPECT_EQ(Sync(cluster.list(via), id, forger.Delete(), false, &response,
                   made.edit_secret)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  // Nothing forged reached any replica.
  for (int i = 0; i < 3; ++i) {
    std::optional<crdt::ListState> stored = Fetch(cluster.replica(i), id);
    ASSERT_TRUE(stored.has_value()) << i;
    EXPECT_EQ(stored->View().items.size(), 1u) << i;
    EXPECT_EQ(stored->access().value, access::EncodeGrants(made.grants)) << i;
    EXPECT_FALSE(stored->deleted()) << i;
  }
}

TEST(NodeClusterTest, ARevokedLinkIsRefusedByEveryReplicaOnceItHasMergedIt) {
  TempDir dir;
  NodeCluster cluster(3, dir);  // N = 3: every node holds the list
  const std::string id = *crdt::NewListId();
  const access::NewAccess made = *access::MakeAccess();
  crdt::ListState owner;
  crdt::ListState create = *owner.Create(kOwner, "flat", 1);
  create.Merge(*owner.SetAccess(kOwner, access::EncodeGrants(made.grants)));
  v1::SyncResponse response;
  ASSERT_TRUE(
      Sync(cluster.list(0), id, create, true, &response, made.owner_secret)
          .ok());
  crdt::ListState flatmate = owner;
  ASSERT_TRUE(Sync(cluster.list(1), id, *flatmate.Add(kForger, "beer", 1),
                   false, &response, made.edit_secret)
                  .ok());

  // Node 2 is down while the owner revokes.
  cluster.process(2).Kill();
  const access::NewAccess next =
      *access::Revoke(made.grants, made.owner_secret);
  owner.Merge(flatmate);
  ASSERT_TRUE(Sync(cluster.list(0), id,
                   *owner.SetAccess(kOwner, access::EncodeGrants(next.grants)),
                   false, &response, next.owner_secret)
                  .ok());
  for (int via : {0, 1}) {
    EXPECT_EQ(Sync(cluster.list(via), id, *flatmate.Add(kForger, "more", 1),
                   false, &response, made.edit_secret)
                  .error_code(),
              grpc::StatusCode::NOT_FOUND)
        << via;
  }
  cluster.Start(2);
  ASSERT_TRUE(cluster.WaitServing(2));
  // The window: node 2 has not heard of the revocation, and takes the old
  // link's write...
  ASSERT_EQ(Fetch(cluster.replica(2), id)->access().value,
            access::EncodeGrants(made.grants));
  ASSERT_TRUE(StoreWithProof(cluster.replica(2), id,
                             *flatmate.Add(kForger, "window", 1),
                             made.edit_secret)
                  .ok());
  // ...until a read repairs it.
  ASSERT_TRUE(Get(cluster.list(0), id, next.owner_secret).ok());
  ASSERT_TRUE(testing::WaitFor(absl::Seconds(10), [&] {
    std::optional<crdt::ListState> there = Fetch(cluster.replica(2), id);
    return there && there->access().value == access::EncodeGrants(next.grants);
  }));
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(absl::StrCat("node ", i));
    EXPECT_EQ(
        StoreWithProof(cluster.replica(i), id,
                       *flatmate.Add(kForger, "after", 1), made.edit_secret)
            .error_code(),
        grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(Sync(cluster.list(i), id, *flatmate.Add(kForger, "after", 1),
                   false, &response, made.edit_secret)
                  .error_code(),
              grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(WatchEnd(cluster.list(i), id, made.edit_secret),
              grpc::StatusCode::NOT_FOUND);
    EXPECT_TRUE(StoreWithProof(cluster.replica(i), id,
                               *owner.Add(kOwner, absl::StrCat("new", i), 1),
                               next.edit_secret)
                    .ok());
  }
  // What a replica took before it knew survives; nothing after does.
  absl::StatusOr<crdt::ListView> view =
      Get(cluster.list(1), id, next.read_secret);
  ASSERT_TRUE(view.ok()) << view.status();
  std::set<std::string> names;
  for (const auto& item : view->items) names.insert(item.name);
  EXPECT_TRUE(names.count("beer"));
  EXPECT_TRUE(names.count("window"));
  EXPECT_FALSE(names.count("more"));
  EXPECT_FALSE(names.count("after"));
}

TEST(NodeClusterTest, SigtermDrainsAndExitsCleanly) {
  TempDir dir;
  NodeCluster cluster(1, dir);
  cluster.process(0).Signal(SIGTERM);
  EXPECT_EQ(cluster.process(0).Wait(absl::Seconds(15)), 0);
  EXPECT_NE(cluster.Log(0).find("stopped cleanly"), std::string::npos);
}

TEST(NodeClusterTest, BadInputGetsClearErrorsAndTheNodeKeepsServing) {
  TempDir dir;
  NodeCluster cluster(1, dir);
  v1::ListService::Stub& stub = cluster.list(0);

  v1::GetRequest get;
  get.set_list_id("not-a-list-id");
  v1::GetResponse got;
  EXPECT_EQ(stub.Get(Context(absl::Seconds(5)).get(), get, &got).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  get.set_list_id(*crdt::NewListId());
  EXPECT_EQ(stub.Get(Context(absl::Seconds(5)).get(), get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);

  crdt::ListState client;
  v1::SyncRequest sync;
  sync.set_list_id(get.list_id());
  codec::EncodeState(*client.Add(1, "milk", 1), sync.mutable_delta());
  sync.mutable_delta()->mutable_items(0)->mutable_entries(0)->set_counter(99);
  v1::SyncResponse synced;
  EXPECT_EQ(
      stub.Sync(Context(absl::Seconds(5)).get(), sync, &synced).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(stub.Get(Context(absl::Seconds(5)).get(), get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND)
      << "a rejected write must store nothing";

  v1::ApplyRequest apply;
  apply.set_list_id(get.list_id());
  apply.mutable_operation()->mutable_create()->set_title("ok");
  v1::ApplyResponse applied;
  ASSERT_TRUE(
      stub.Apply(Context(absl::Seconds(5)).get(), apply, &applied).ok());
  apply.mutable_operation()->mutable_add()->set_item("milk");
  apply.mutable_operation()->mutable_add()->set_count(-1);
  EXPECT_EQ(
      stub.Apply(Context(absl::Seconds(5)).get(), apply, &applied).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  apply.mutable_operation()->mutable_rename()->set_title(
      std::string(8 << 20, 'x'));
  EXPECT_EQ(
      stub.Apply(Context(absl::Seconds(5)).get(), apply, &applied).error_code(),
      grpc::StatusCode::RESOURCE_EXHAUSTED);
  apply.mutable_operation()->mutable_rename()->set_title("still fine");
  EXPECT_TRUE(
      stub.Apply(Context(absl::Seconds(5)).get(), apply, &applied).ok());
  EXPECT_EQ(applied.view().title(), "still fine");
  EXPECT_TRUE(cluster.process(0).running());
}

}  // namespace
}  // namespace shoplist
