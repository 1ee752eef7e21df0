// ReplicaService in-process: a real gRPC server on an ephemeral loopback
// port in front of a real LevelDB store, called through the generated stub.
#include "services/node/replica_service.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "codec/list_codec.h"
#include "crdt/limits.h"
#include "crdt/list_id.h"
#include "crdt/list_state.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "storage/replica_store.h"
#include "tests/support/lists.h"
#include "tests/support/loopback_server.h"
#include "tests/support/temp_dir.h"

namespace shoplist::node {
namespace {

using shoplist::testing::ListId;
using shoplist::testing::WantedOf;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr crdt::ReplicaId kAlice = 0xA11CE;
constexpr crdt::ReplicaId kBob = 0xB0B;

v1::ListState Encoded(const crdt::ListState& state) {
  v1::ListState message;
  codec::EncodeState(state, &message);
  return message;
}

v1::StoreRequest StoreOf(const std::string& list_id,
                         const crdt::ListState& delta,
                         const std::string& intended_owner = "") {
  v1::StoreRequest request;
  request.set_list_id(list_id);
  *request.mutable_delta() = Encoded(delta);
  request.set_intended_owner(intended_owner);
  return request;
}

class ReplicaServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Changes are observed where the node observes them: the store's merge
    // listener (watchers and digests hang off it).
    absl::StatusOr<std::unique_ptr<storage::ReplicaStore>> store =
        storage::OpenLevelDbStore(
            dir_.path(),
            storage::StoreOptions{
                .on_merge =
                    [this](const std::string& list_id, const crdt::ListState&) {
                      absl::MutexLock lock(&changes_mu_);
                      changes_.push_back(list_id);
                    },
                .state_cache_bytes = storage::kDefaultStateCacheBytes,
                .env = nullptr,
                .on_repair = nullptr,
                .fold = {}});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    service_ =
        std::make_unique<ReplicaServiceImpl>("n1", store_.get(), digests_);

    testing::LoopbackServer started =
        testing::StartLoopbackServer(service_.get());
    server_ = std::move(started.server);
    ASSERT_NE(server_, nullptr);
    stub_ = v1::ReplicaService::NewStub(grpc::CreateChannel(
        started.address(), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
    server_.reset();
    service_.reset();
    store_.reset();
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(30));
    return context;
  }

  grpc::Status Store(const v1::StoreRequest& request) {
    v1::StoreResponse response;
    return stub_->Store(Context().get(), request, &response);
  }

  grpc::Status Fetch(const std::string& list_id, v1::FetchResponse* response,
                     bool owner = false) {
    v1::FetchRequest request;
    request.set_list_id(list_id);
    request.set_owner(owner);
    return stub_->Fetch(Context().get(), request, response);
  }

  // Fetches `list_id` and decodes the state; fails the test unless found.
  crdt::ListState FetchFound(const std::string& list_id, bool owner = false) {
    v1::FetchResponse response;
    grpc::Status status = Fetch(list_id, &response, owner);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(response.found());
    absl::StatusOr<crdt::ListState> state =
        codec::DecodeState(response.state());
    EXPECT_TRUE(state.ok()) << state.status();
    return state.ok() ? *state : crdt::ListState();
  }

  std::vector<std::string> Changes() {
    absl::MutexLock lock(&changes_mu_);
    return changes_;
  }

  // Nothing reached the store for `list_id`: no list, no hint, no watcher.
  void ExpectNothingStored(const std::string& list_id) {
    EXPECT_EQ(store_->Get(list_id).status().code(),
              absl::StatusCode::kNotFound);
    absl::StatusOr<size_t> hints = store_->CountHints();
    ASSERT_TRUE(hints.ok()) << hints.status();
    EXPECT_EQ(*hints, 0u);
    EXPECT_THAT(Changes(), IsEmpty());
  }

  shoplist::testing::TempDir dir_;
  std::unique_ptr<storage::ReplicaStore> store_;
  SharedDigests digests_;
  std::unique_ptr<ReplicaServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ReplicaService::Stub> stub_;
  absl::Mutex changes_mu_;
  std::vector<std::string> changes_ ABSL_GUARDED_BY(changes_mu_);
};

TEST_F(ReplicaServiceTest, StoreThenFetchReturnsTheState) {
  const std::string id = ListId();
  crdt::ListState alice;
  crdt::ListState create = *alice.Create(kAlice, "groceries", 1);
  crdt::ListState add = *alice.Add(kAlice, "milk", 2);

  grpc::Status status = Store(StoreOf(id, create));
  ASSERT_TRUE(status.ok()) << status.error_message();
  status = Store(StoreOf(id, add));
  ASSERT_TRUE(status.ok()) << status.error_message();

  crdt::ListState fetched = FetchFound(id);
  EXPECT_EQ(fetched, alice);
  EXPECT_EQ(fetched.View().title, "groceries");
  EXPECT_EQ(WantedOf(fetched, "milk"), 2);
  EXPECT_THAT(Changes(), ElementsAre(id, id));
  EXPECT_EQ(*store_->Get(id), alice);
}

TEST_F(ReplicaServiceTest, StoreJoinsDeltasOfTwoWriters) {
  const std::string id = ListId();
  crdt::ListState alice;
  crdt::ListState bob;
  ASSERT_TRUE(Store(StoreOf(id, *alice.Add(kAlice, "milk", 2))).ok());
  ASSERT_TRUE(Store(StoreOf(id, *bob.Add(kBob, "milk", 3))).ok());
  EXPECT_EQ(WantedOf(FetchFound(id), "milk"), 5);
}

TEST_F(ReplicaServiceTest, StoreWithSelfAsIntendedOwnerMerges) {
  const std::string id = ListId();
  crdt::ListState alice;
  ASSERT_TRUE(Store(StoreOf(id, *alice.Add(kAlice, "milk", 1), "n1")).ok());
  EXPECT_EQ(*store_->Get(id), alice);
  EXPECT_EQ(*store_->CountHints(), 0u);
  EXPECT_THAT(Changes(), ElementsAre(id));
}

TEST_F(ReplicaServiceTest, FetchOfUnknownListIsNotFound) {
  v1::FetchResponse response;
  grpc::Status status = Fetch(ListId(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.found());
  EXPECT_FALSE(response.has_state());
}

TEST_F(ReplicaServiceTest, FetchOfMalformedIdIsInvalidArgument) {
  v1::FetchResponse response;
  grpc::Status status = Fetch("abc", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ReplicaServiceTest, StoreForAnotherOwnerKeepsAHint) {
  const std::string id = ListId();
  crdt::ListState alice;
  crdt::ListState delta = *alice.Add(kAlice, "milk", 2);
  grpc::Status status = Store(StoreOf(id, delta, "n2"));
  ASSERT_TRUE(status.ok()) << status.error_message();

  absl::StatusOr<size_t> hints = store_->CountHints();
  ASSERT_TRUE(hints.ok()) << hints.status();
  EXPECT_EQ(*hints, 1u);
  absl::StatusOr<std::vector<storage::Hint>> held = store_->Hints(10);
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ((*held)[0].owner, "n2");
  EXPECT_EQ((*held)[0].list_id, id);
  EXPECT_EQ((*held)[0].delta, delta);
  // The list itself is not created on the stand-in.
  EXPECT_EQ(store_->Get(id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Changes(), IsEmpty());

  // A stand-in answers reads with the hints it holds.
  EXPECT_EQ(FetchFound(id), delta);
}

TEST_F(ReplicaServiceTest, FetchJoinsStoredStateAndHints) {
  const std::string id = ListId();
  crdt::ListState alice;
  crdt::ListState bob;
  ASSERT_TRUE(Store(StoreOf(id, *alice.Add(kAlice, "milk", 2))).ok());
  ASSERT_TRUE(Store(StoreOf(id, *bob.Add(kBob, "milk", 3), "n2")).ok());
  crdt::ListState expected = alice;
  expected.Merge(bob);
  EXPECT_EQ(FetchFound(id), expected);
  // Asked as an owner, the replica answers its stored state alone.
  EXPECT_EQ(FetchFound(id, /*owner=*/true), alice);
  v1::FetchResponse response;
  ASSERT_TRUE(Fetch(ListId(), &response, /*owner=*/true).ok());
  EXPECT_FALSE(response.found());
}

TEST_F(ReplicaServiceTest, HandOffMergesEveryHint) {
  const std::string id = ListId();
  const std::string other = ListId();
  crdt::ListState alice;
  crdt::ListState bob;
  crdt::ListState first = *alice.Add(kAlice, "milk", 2);
  crdt::ListState second = *bob.Add(kBob, "milk", 3);
  crdt::ListState third = *bob.Add(kBob, "bread", 1);

  v1::HandOffRequest request;
  request.set_from_node("n3");
  auto* h1 = request.add_hints();
  h1->set_list_id(id);
  *h1->mutable_delta() = Encoded(first);
  auto* h2 = request.add_hints();
  h2->set_list_id(id);
  *h2->mutable_delta() = Encoded(second);
  auto* h3 = request.add_hints();
  h3->set_list_id(other);
  *h3->mutable_delta() = Encoded(third);
  v1::HandOffResponse response;
  grpc::Status status = stub_->HandOff(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();

  crdt::ListState expected = first;
  expected.Merge(second);
  crdt::ListState fetched = FetchFound(id);
  EXPECT_EQ(fetched, expected);
  EXPECT_EQ(WantedOf(fetched, "milk"), 5);
  EXPECT_EQ(FetchFound(other), third);
  // Handed-off hints become the receiver's own data, not hints again.
  EXPECT_EQ(*store_->CountHints(), 0u);
  EXPECT_THAT(Changes(), ElementsAre(id, id, other));
}

TEST_F(ReplicaServiceTest, HandOffWithABadListIdIsInvalidArgument) {
  crdt::ListState alice;
  v1::HandOffRequest request;
  auto* hint = request.add_hints();
  hint->set_list_id("abc");
  *hint->mutable_delta() = Encoded(*alice.Add(kAlice, "milk", 1));
  v1::HandOffResponse response;
  grpc::Status status = stub_->HandOff(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectNothingStored("abc");
}

TEST_F(ReplicaServiceTest, StoreWithShortListIdIsInvalidArgument) {
  crdt::ListState alice;
  grpc::Status status = Store(StoreOf("abc", *alice.Add(kAlice, "milk", 1)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  ExpectNothingStored("abc");
}

TEST_F(ReplicaServiceTest, StoreWithUppercaseListIdIsInvalidArgument) {
  const std::string id = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  ASSERT_EQ(id.size(), crdt::kListIdLength);
  crdt::ListState alice;
  grpc::Status status = Store(StoreOf(id, *alice.Add(kAlice, "milk", 1)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  ExpectNothingStored(id);
}

TEST_F(ReplicaServiceTest, StoreWithDotOutsideContextIsInvalidArgument) {
  const std::string id = ListId();
  crdt::ListState alice;
  v1::StoreRequest request = StoreOf(id, *alice.Add(kAlice, "milk", 1));
  request.mutable_delta()->mutable_items(0)->mutable_entries(0)->set_counter(
      999);
  grpc::Status status = Store(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  ExpectNothingStored(id);
}

TEST_F(ReplicaServiceTest, StoreHintWithDotOutsideContextIsInvalidArgument) {
  const std::string id = ListId();
  crdt::ListState alice;
  v1::StoreRequest request = StoreOf(id, *alice.Add(kAlice, "milk", 1), "n2");
  request.mutable_delta()->mutable_items(0)->mutable_entries(0)->set_counter(
      999);
  grpc::Status status = Store(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  ExpectNothingStored(id);
}

TEST_F(ReplicaServiceTest, StoreWithInvalidIntendedOwnerIsInvalidArgument) {
  const std::string id = ListId();
  crdt::ListState alice;
  grpc::Status status =
      Store(StoreOf(id, *alice.Add(kAlice, "milk", 1), "bad/owner"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  ExpectNothingStored(id);
}

TEST_F(ReplicaServiceTest, OversizedRequestIsRefusedAndServerKeepsServing) {
  const std::string id = ListId();
  crdt::ListState alice;
  v1::StoreRequest big = StoreOf(id, *alice.Create(kAlice, "party", 1));
  big.mutable_delta()->mutable_title()->set_value(std::string(5 << 20, 'x'));
  ASSERT_GT(big.ByteSizeLong(), static_cast<size_t>(crdt::kMaxMessageBytes));
  grpc::Status status = Store(big);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  ExpectNothingStored(id);

  const std::string next = ListId();
  crdt::ListState bob;
  crdt::ListState delta = *bob.Add(kBob, "milk", 1);
  status = Store(StoreOf(next, delta));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(FetchFound(next), delta);
}

}  // namespace
}  // namespace shoplist::node
