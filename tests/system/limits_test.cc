// Every input limit of the client-facing service, through a real proxy and
// real nodes: each refusal has a clear status, and a refused request leaves
// the list as it was.
#include "crdt/limits.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "crdt/list_state.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "shoplist/v1/list_service.grpc.pb.h"
#include "tests/support/cluster.h"
#include "tests/support/temp_dir.h"

namespace shoplist::testing {
namespace {

class LimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    cluster_ = new Cluster(1, 3, *dir_);
    ASSERT_TRUE(cluster_->WaitForView(0, 3, 3));
  }
  static void TearDownTestSuite() {
    delete cluster_;
    delete dir_;
  }

  v1::ListService::Stub& lists() { return cluster_->gateway(0); }

  grpc::Status Apply(const std::string& list_id, v1::Operation operation) {
    v1::ApplyRequest request;
    request.set_list_id(list_id);
    *request.mutable_operation() = std::move(operation);
    v1::ApplyResponse response;
    return lists().Apply(Context(absl::Seconds(10), true).get(), request,
                         &response);
  }
  static v1::Operation Create(const std::string& title) {
    v1::Operation op;
    op.mutable_create()->set_title(title);
    return op;
  }
  static v1::Operation Add(const std::string& item, int64_t count) {
    v1::Operation op;
    op.mutable_add()->set_item(item);
    op.mutable_add()->set_count(count);
    return op;
  }
  v1::ListView View(const std::string& list_id) {
    v1::GetRequest request;
    request.set_list_id(list_id);
    v1::GetResponse response;
    grpc::Status s =
        lists().Get(Context(absl::Seconds(10), true).get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.view();
  }
  std::string NewList() {
    std::string id = *crdt::NewListId();
    EXPECT_TRUE(Apply(id, Create("groceries")).ok());
    EXPECT_TRUE(Apply(id, Add("milk", 2)).ok());
    return id;
  }
  // Sends `request` with the byte `from` of its encoding replaced by `to`:
  // the C++ protobuf library refuses to encode invalid UTF-8 in a string
  // field, but other clients might send it.
  grpc::Status ApplyPatched(const v1::ApplyRequest& request, char from,
                            char to) {
    std::string bytes = request.SerializeAsString();
    size_t at = bytes.find(from);
    EXPECT_NE(at, std::string::npos);
    bytes[at] = to;
    grpc::Slice slice(bytes);
    grpc::ByteBuffer in(&slice, 1), out;
    grpc::GenericStub stub(grpc::CreateChannel(
        cluster_->proxy_address(0), grpc::InsecureChannelCredentials()));
    auto context = Context(absl::Seconds(10), true);
    absl::Notification done;
    grpc::Status result;
    stub.UnaryCall(context.get(), "/shoplist.v1.ListService/Apply", {}, &in,
                   &out, [&](grpc::Status s) {
                     result = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    return result;
  }

  static void ExpectRefused(const grpc::Status& status, grpc::StatusCode code,
                            const std::string& words) {
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    EXPECT_NE(status.error_message().find(words), std::string::npos)
        << "'" << status.error_message() << "' does not say '" << words << "'";
  }

  static TempDir* dir_;
  static Cluster* cluster_;
};

TempDir* LimitsTest::dir_ = nullptr;
Cluster* LimitsTest::cluster_ = nullptr;

TEST_F(LimitsTest, MalformedListIdsAreInvalidArgument) {
  for (const std::string& id :
       {std::string(), std::string("NOT-AN-ID"), std::string(27, 'a'),
        std::string(25, 'a'), std::string(26, '1')}) {
    ExpectRefused(Apply(id, Add("milk", 1)), grpc::StatusCode::INVALID_ARGUMENT,
                  "list id");
    v1::GetRequest get;
    get.set_list_id(id);
    v1::GetResponse got;
    EXPECT_EQ(
        lists().Get(Context(absl::Seconds(5)).get(), get, &got).error_code(),
        grpc::StatusCode::INVALID_ARGUMENT)
        << "'" << id << "'";
  }
}

TEST_F(LimitsTest, NamesAndTitlesAreAtMost256BytesOfUtf8) {
  const std::string id = NewList();
  const std::string longest(crdt::kMaxNameBytes, 'x');
  EXPECT_TRUE(Apply(id, Add(longest, 1)).ok());
  ExpectRefused(Apply(id, Add(longest + "x", 1)),
                grpc::StatusCode::INVALID_ARGUMENT, "limit is 256");
  v1::ApplyRequest broken;
  broken.set_list_id(id);
  *broken.mutable_operation() = Add("cafX", 1);
  // Invalid UTF-8 in a proto3 string field does not parse, so no handler
  // sees it: gRPC 1.51's callback API refuses such a call itself, with
  // UNIMPLEMENTED and no message (it drops the parse error). Nothing of it
  // is applied.
  EXPECT_EQ(ApplyPatched(broken, 'X', '\xc3').error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  ExpectRefused(Apply(id, Add("", 1)), grpc::StatusCode::INVALID_ARGUMENT,
                "empty");
  v1::Operation rename;
  rename.mutable_rename()->set_title(longest + "x");
  ExpectRefused(Apply(id, rename), grpc::StatusCode::INVALID_ARGUMENT,
                "limit is 256");
  broken.set_list_id(*crdt::NewListId());
  *broken.mutable_operation() = Create("titleX");
  EXPECT_EQ(ApplyPatched(broken, 'X', '\xff').error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  // Unicode counts in bytes: 128 two-byte letters fit, 129 do not.
  std::string umlauts;
  for (int i = 0; i < 128; ++i) umlauts += "\xc3\xa4";
  EXPECT_TRUE(Apply(id, Add(umlauts, 1)).ok());
  ExpectRefused(Apply(id, Add(umlauts + "\xc3\xa4", 1)),
                grpc::StatusCode::INVALID_ARGUMENT, "limit is 256");

  v1::ListView view = View(id);
  EXPECT_EQ(view.title(), "groceries");
  EXPECT_EQ(view.items_size(), 3);  // milk, the longest name, the umlauts
}

TEST_F(LimitsTest, CountsAreBetweenOneAndAMillion) {
  const std::string id = NewList();
  for (int64_t count : {int64_t{0}, int64_t{-1}, crdt::kMaxOperationCount + 1,
                        std::numeric_limits<int64_t>::max(),
                        std::numeric_limits<int64_t>::min()}) {
    ExpectRefused(Apply(id, Add("milk", count)),
                  grpc::StatusCode::INVALID_ARGUMENT,
                  "must be between 1 and 1000000");
    v1::Operation buy;
    buy.mutable_buy()->set_item("milk");
    buy.mutable_buy()->set_count(count);
    if (count != 0) {  // 0 buys everything still wanted
      EXPECT_EQ(Apply(id, buy).error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << count;
    }
  }
  EXPECT_TRUE(Apply(id, Add("milk", crdt::kMaxOperationCount)).ok());
  v1::ListView view = View(id);
  ASSERT_EQ(view.items_size(), 1);
  EXPECT_EQ(view.items(0).wanted(), 2 + crdt::kMaxOperationCount);
  EXPECT_EQ(view.items(0).bought(), 0);
}

TEST_F(LimitsTest, AListHoldsAtMostTenThousandItems) {
  const std::string id = *crdt::NewListId();
  // 10,000 items in one Sync, as a client that was offline would send them.
  crdt::ListState mine;
  crdt::ListState delta = *mine.Create(crdt::Writer(0xAB), "big", 1);
  for (size_t i = 0; i < crdt::kMaxItems; ++i) {
    delta.Merge(*mine.Add(crdt::Writer(0xAB), absl::StrCat("item-", i), 1));
  }
  v1::SyncRequest sync;
  sync.set_list_id(id);
  sync.set_create(true);
  codec::EncodeState(delta, sync.mutable_delta());
  v1::SyncResponse synced;
  grpc::Status s =
      lists().Sync(Context(absl::Seconds(30), true).get(), sync, &synced);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(View(id).items_size(), static_cast<int>(crdt::kMaxItems));

  ExpectRefused(Apply(id, Add("one-too-many", 1)),
                grpc::StatusCode::RESOURCE_EXHAUSTED, "at most 10000 items");
  // An item already there can still change.
  EXPECT_TRUE(Apply(id, Add("item-7", 1)).ok());
  EXPECT_EQ(View(id).items_size(), static_cast<int>(crdt::kMaxItems));
}

TEST_F(LimitsTest, MessagesOverFourMebibytesAreRefused) {
  v1::GetRequest get;
  get.set_list_id(std::string(crdt::kMaxMessageBytes + 1, 'a'));
  v1::GetResponse got;
  EXPECT_EQ(
      lists().Get(Context(absl::Seconds(10)).get(), get, &got).error_code(),
      grpc::StatusCode::RESOURCE_EXHAUSTED);
  // The servers are fine afterwards.
  EXPECT_EQ(View(NewList()).items_size(), 1);
}

TEST_F(LimitsTest, AnOperationMustBeSet) {
  ExpectRefused(Apply(NewList(), v1::Operation()),
                grpc::StatusCode::INVALID_ARGUMENT, "set one of");
}

}  // namespace
}  // namespace shoplist::testing
