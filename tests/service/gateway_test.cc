// The proxy's ListService gateway in-process, in front of three mocked
// nodes: each node is a real gRPC server on an ephemeral loopback port
// serving a gMock'd synchronous ListService, so each test decides how every
// node answers and checks which nodes were called. Those nodes have no
// Calls (as nodes of an older version): the gateway falls back to unary
// calls. GatewayBatchTest's nodes serve Calls only.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/common/call_batches.h"
#include "services/proxy/proxy_server.h"
#include "shoplist/v1/list_service.grpc.pb.h"
#include "tests/support/lists.h"
#include "tests/support/loopback_server.h"
#include "tests/support/temp_dir.h"

namespace shoplist::proxy {
namespace {

using shoplist::testing::ListId;
using ::testing::_;
using ::testing::AllOf;
using ::testing::InSequence;
using ::testing::Invoke;
using ::testing::Property;
using ::testing::Return;
using ::testing::StrictMock;

class MockListService : public v1::ListService::Service {
 public:
  MOCK_METHOD(grpc::Status, Get,
              (grpc::ServerContext*, const v1::GetRequest*, v1::GetResponse*),
              (override));
  MOCK_METHOD(grpc::Status, Sync,
              (grpc::ServerContext*, const v1::SyncRequest*, v1::SyncResponse*),
              (override));
  MOCK_METHOD(grpc::Status, Apply,
              (grpc::ServerContext*, const v1::ApplyRequest*,
               v1::ApplyResponse*),
              (override));
};

grpc::Status Unavailable(const std::string& who) {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, who + " is unreachable");
}

// The proxy under test, on a port the kernel picks, N=3.
absl::StatusOr<std::unique_ptr<ProxyServer>> StartProxy(
    const shoplist::testing::TempDir& dir) {
  ProxyOptions options;
  options.data_dir = dir.Sub("proxy");
  options.proxy_id = "p";
  options.vnodes = 16;
  options.replicas = 3;
  // The test's nodes never heartbeat; keep them up for the whole test.
  options.membership.heartbeat_timeout = absl::Hours(1);
  return ProxyServer::Start("127.0.0.1:0", options);
}

struct Node {
  std::string id;
  std::string address;
  std::unique_ptr<StrictMock<MockListService>> service;
  std::unique_ptr<grpc::Server> server;
};

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) {
      Node& node = nodes_[i];
      node.id = absl::StrCat("n", i);
      node.service = std::make_unique<StrictMock<MockListService>>();
      testing::LoopbackServer started =
          testing::StartLoopbackServer(node.service.get());
      node.server = std::move(started.server);
      ASSERT_NE(node.server, nullptr);
      node.address = started.address();
    }

    absl::StatusOr<std::unique_ptr<ProxyServer>> proxy = StartProxy(dir_);
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = *std::move(proxy);
    stub_ = v1::ListService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", proxy_->port()),
                            grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    proxy_.reset();
    for (Node& node : nodes_) {
      if (node.server != nullptr) {
        node.server->Shutdown(std::chrono::system_clock::now() +
                              std::chrono::seconds(2));
      }
      node.server.reset();
    }
  }

  void JoinNodes() {
    for (const Node& node : nodes_) {
      absl::Status s = proxy_->state()->Join(node.id, node.address);
      ASSERT_TRUE(s.ok()) << s;
    }
  }

  Node* NodeById(const std::string& id) {
    for (Node& node : nodes_) {
      if (node.id == id) return &node;
    }
    return nullptr;
  }

  // The nodes of the list's preference list, coordinator first, as the
  // proxy's current ring computes it.
  std::vector<Node*> Order(const std::string& list_id) {
    std::vector<Node*> order;
    for (const ring::Placement& p :
         proxy_->state()->Current()->ring.PreferenceList(list_id, 3)) {
      Node* node = NodeById(p.node_id);
      EXPECT_NE(node, nullptr) << p.node_id;
      if (node == nullptr) continue;
      EXPECT_EQ(node->address, p.address);
      order.push_back(node);
    }
    return order;
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
    return context;
  }

  grpc::Status Get(const std::string& list_id, v1::GetResponse* response) {
    v1::GetRequest request;
    request.set_list_id(list_id);
    return stub_->Get(Context().get(), request, response);
  }

  grpc::Status Sync(const std::string& list_id, v1::SyncResponse* response) {
    v1::SyncRequest request;
    request.set_list_id(list_id);
    request.set_create(true);
    return stub_->Sync(Context().get(), request, response);
  }

  grpc::Status Apply(const std::string& list_id, v1::ApplyResponse* response) {
    v1::ApplyRequest request;
    request.set_list_id(list_id);
    request.mutable_operation()->mutable_add()->set_item("milk");
    request.mutable_operation()->mutable_add()->set_count(2);
    return stub_->Apply(Context().get(), request, response);
  }

  shoplist::testing::TempDir dir_;
  Node nodes_[3];
  std::unique_ptr<ProxyServer> proxy_;
  std::unique_ptr<v1::ListService::Stub> stub_;
};

auto GetOf(const std::string& list_id) {
  return Property(&v1::GetRequest::list_id, list_id);
}
auto SyncOf(const std::string& list_id) {
  return AllOf(Property(&v1::SyncRequest::list_id, list_id),
               Property(&v1::SyncRequest::create, true));
}
auto ApplyOf(const std::string& list_id) {
  return Property(&v1::ApplyRequest::list_id, list_id);
}

TEST_F(GatewayTest, GetGoesToCoordinatorOnly) {
  JoinNodes();
  std::string id = ListId();
  std::vector<Node*> order = Order(id);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_CALL(*order[0]->service, Get(_, GetOf(id), _))
      .WillOnce(Invoke([](grpc::ServerContext*, const v1::GetRequest*,
                          v1::GetResponse* response) {
        response->mutable_view()->set_title("x");
        response->set_replies(2);
        return grpc::Status::OK;
      }));
  EXPECT_CALL(*order[1]->service, Get(_, _, _)).Times(0);
  EXPECT_CALL(*order[2]->service, Get(_, _, _)).Times(0);

  v1::GetResponse response;
  grpc::Status status = Get(id, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.view().title(), "x");
  EXPECT_EQ(response.replies(), 2u);
}

TEST_F(GatewayTest, GetGoesToSecondWhenFirstIsUnavailable) {
  JoinNodes();
  std::string id = ListId();
  std::vector<Node*> order = Order(id);
  ASSERT_EQ(order.size(), 3u);
  {
    InSequence seq;
    EXPECT_CALL(*order[0]->service, Get(_, GetOf(id), _))
        .WillOnce(Return(Unavailable(order[0]->id)));
    EXPECT_CALL(*order[1]->service, Get(_, GetOf(id), _))
        .WillOnce(Invoke([](grpc::ServerContext*, const v1::GetRequest*,
                            v1::GetResponse* response) {
          response->mutable_view()->set_title("from second");
          return grpc::Status::OK;
        }));
  }
  EXPECT_CALL(*order[2]->service, Get(_, _, _)).Times(0);

  v1::GetResponse response;
  grpc::Status status = Get(id, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.view().title(), "from second");
}

TEST_F(GatewayTest, GetIsUnavailableWhenAllThreeAre) {
  JoinNodes();
  std::string id = ListId();
  std::vector<Node*> order = Order(id);
  ASSERT_EQ(order.size(), 3u);
  {
    InSequence seq;
    for (Node* node : order) {
      EXPECT_CALL(*node->service, Get(_, GetOf(id), _))
          .WillOnce(Return(Unavailable(node->id)));
    }
  }
  v1::GetResponse response;
  grpc::Status status = Get(id, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

class GatewayErrorTest
    : public GatewayTest,
      public ::testing::WithParamInterface<grpc::StatusCode> {};

TEST_P(GatewayErrorTest, NonRetryableErrorIsReturnedAsIs) {
  JoinNodes();
  std::string id = ListId();
  std::vector<Node*> order = Order(id);
  ASSERT_EQ(order.size(), 3u);
  grpc::StatusCode code = GetParam();
  EXPECT_CALL(*order[0]->service, Get(_, GetOf(id), _))
      .WillOnce(Return(grpc::Status(code, "coordinator says no")));
  EXPECT_CALL(*order[1]->service, Get(_, _, _)).Times(0);
  EXPECT_CALL(*order[2]->service, Get(_, _, _)).Times(0);

  v1::GetResponse response;
  grpc::Status status = Get(id, &response);
  EXPECT_EQ(status.error_code(), code);
  EXPECT_EQ(status.error_message(), "coordinator says no");
}

INSTANTIATE_TEST_SUITE_P(Codes, GatewayErrorTest,
                         ::testing::Values(grpc::StatusCode::NOT_FOUND,
                                           grpc::StatusCode::INVALID_ARGUMENT));

TEST_F(GatewayTest, SyncIsRetriedDownTheList) {
  JoinNodes();
  std::string id = ListId();
  std::vector<Node*> order = Order(id);
  ASSERT_EQ(order.size(), 3u);
  {
    InSequence seq;
    EXPECT_CALL(*order[0]->service, Sync(_, SyncOf(id), _))
        .WillOnce(Return(Unavailable(order[0]->id)));
    EXPECT_CALL(*order[1]->service, Sync(_, SyncOf(id), _))
        .WillOnce(Return(Unavailable(order[1]->id)));
    EXPECT_CALL(*order[2]->service, Sync(_, SyncOf(id), _))
        .WillOnce(Invoke([](grpc::ServerContext*, const v1::SyncRequest*,
                            v1::SyncResponse* response) {
          response->set_acks(2);
          return grpc::Status::OK;
        }));
  }
  v1::SyncResponse response;
  grpc::Status status = Sync(id, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.acks(), 2u);
}

TEST_F(GatewayTest, ApplyGoesToCoordinator) {
  JoinNodes();
  std::string id = ListId();
  std::vector<Node*> order = Order(id);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_CALL(*order[0]->service, Apply(_, ApplyOf(id), _))
      .WillOnce(Invoke([](grpc::ServerContext*, const v1::ApplyRequest* request,
                          v1::ApplyResponse* response) {
        EXPECT_EQ(request->operation().add().item(), "milk");
        response->set_acks(3);
        return grpc::Status::OK;
      }));
  v1::ApplyResponse response;
  grpc::Status status = Apply(id, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.acks(), 3u);
}

TEST_F(GatewayTest, ApplyIsNotRetried) {
  JoinNodes();
  std::string id = ListId();
  std::vector<Node*> order = Order(id);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_CALL(*order[0]->service, Apply(_, ApplyOf(id), _))
      .WillOnce(Return(Unavailable(order[0]->id)));
  EXPECT_CALL(*order[1]->service, Apply(_, _, _)).Times(0);
  EXPECT_CALL(*order[2]->service, Apply(_, _, _)).Times(0);

  v1::ApplyResponse response;
  grpc::Status status = Apply(id, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GatewayTest, DownCoordinatorIsSkipped) {
  JoinNodes();
  std::string id = ListId();
  std::vector<Node*> order = Order(id);
  ASSERT_EQ(order.size(), 3u);
  absl::Status s = proxy_->state()->ReportFailure(order[0]->id);
  ASSERT_TRUE(s.ok()) << s;
  std::vector<Node*> now = Order(id);
  ASSERT_FALSE(now.empty());
  EXPECT_EQ(now[0], order[1]);

  EXPECT_CALL(*order[0]->service, Get(_, _, _)).Times(0);
  EXPECT_CALL(*order[0]->service, Sync(_, _, _)).Times(0);
  EXPECT_CALL(*order[0]->service, Apply(_, _, _)).Times(0);
  EXPECT_CALL(*order[1]->service, Get(_, GetOf(id), _))
      .WillOnce(Invoke([](grpc::ServerContext*, const v1::GetRequest*,
                          v1::GetResponse* response) {
        response->mutable_view()->set_title("y");
        return grpc::Status::OK;
      }));
  EXPECT_CALL(*order[1]->service, Sync(_, SyncOf(id), _))
      .WillOnce(Return(grpc::Status::OK));
  EXPECT_CALL(*order[1]->service, Apply(_, ApplyOf(id), _))
      .WillOnce(Return(grpc::Status::OK));

  v1::GetResponse get;
  grpc::Status status = Get(id, &get);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(get.view().title(), "y");
  v1::SyncResponse sync;
  status = Sync(id, &sync);
  EXPECT_TRUE(status.ok()) << status.error_message();
  v1::ApplyResponse apply;
  status = Apply(id, &apply);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(GatewayTest, MalformedListIdIsInvalidArgumentAndReachesNoNode) {
  JoinNodes();
  // StrictMock nodes: any call fails the test.
  std::string upper = absl::AsciiStrToUpper(ListId());
  for (const std::string& bad :
       {std::string(""), std::string("not-a-list-id"), upper, ListId() + "a"}) {
    v1::GetResponse get;
    EXPECT_EQ(Get(bad, &get).error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << "'" << bad << "'";
    v1::SyncResponse sync;
    EXPECT_EQ(Sync(bad, &sync).error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << "'" << bad << "'";
    v1::ApplyResponse apply;
    EXPECT_EQ(Apply(bad, &apply).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << "'" << bad << "'";
  }
}

TEST_F(GatewayTest, NoMembersIsUnavailable) {
  // A fresh proxy: nobody joined.
  ASSERT_TRUE(proxy_->state()->Current()->ring.empty());
  std::string id = ListId();
  v1::GetResponse get;
  EXPECT_EQ(Get(id, &get).error_code(), grpc::StatusCode::UNAVAILABLE);
  v1::SyncResponse sync;
  EXPECT_EQ(Sync(id, &sync).error_code(), grpc::StatusCode::UNAVAILABLE);
  v1::ApplyResponse apply;
  EXPECT_EQ(Apply(id, &apply).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GatewayTest, PingIsAnsweredByTheProxy) {
  JoinNodes();
  v1::PingRequest request;
  request.set_payload("hello");
  v1::PingResponse response;
  grpc::Status status = stub_->Ping(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.server(), "p");
  EXPECT_EQ(response.payload(), "hello");
}

// A node that serves ListService.Calls only, answering every call at once
// with its index in `replies` (Get) or `acks` (Sync, Apply).
class BatchingNode final : public v1::ListService::CallbackService,
                           private CallHandler {
 public:
  explicit BatchingNode(uint32_t index) : index_(index) {}
  grpc::ServerBidiReactor<v1::CallBatch, v1::ReplyBatch>* Calls(
      grpc::CallbackServerContext* /*context*/) override {
    ++streams;
    return NewCallsReactor(this, {});
  }
  std::atomic<int> streams{0};
  std::atomic<int> calls{0};

 private:
  void Serve(const v1::Call& call, v1::Reply* reply, Done done) override {
    ++calls;
    if (call.has_get()) reply->mutable_get()->set_replies(index_);
    if (call.has_sync()) reply->mutable_sync()->set_acks(index_);
    if (call.has_apply()) reply->mutable_apply()->set_acks(index_);
    done(grpc::Status::OK);
  }
  const uint32_t index_;
};

class GatewayBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ProxyServer>> proxy = StartProxy(dir_);
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = *std::move(proxy);
    for (uint32_t i = 0; i < 3; ++i) {
      nodes_.push_back(std::make_unique<BatchingNode>(i + 1));
      testing::LoopbackServer started =
          testing::StartLoopbackServer(nodes_.back().get());
      ASSERT_NE(started.server, nullptr);
      servers_.push_back(std::move(started.server));
      ids_.push_back(absl::StrCat("n", i));
      ASSERT_TRUE(proxy_->state()->Join(ids_.back(), started.address()).ok());
    }
    stub_ = v1::ListService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", proxy_->port()),
                            grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    proxy_.reset();
    for (auto& server : servers_) {
      if (server != nullptr) {
        server->Shutdown(std::chrono::system_clock::now() +
                         std::chrono::seconds(2));
      }
    }
  }

  // Index into nodes_ of the list's coordinator, then the next owners.
  std::vector<int> Order(const std::string& list_id) {
    std::vector<int> order;
    for (const ring::Placement& p :
         proxy_->state()->Current()->ring.PreferenceList(list_id, 3)) {
      for (size_t i = 0; i < ids_.size(); ++i) {
        if (ids_[i] == p.node_id) order.push_back(static_cast<int>(i));
      }
    }
    return order;
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
    return context;
  }

  shoplist::testing::TempDir dir_;
  std::unique_ptr<ProxyServer> proxy_;
  std::vector<std::unique_ptr<BatchingNode>> nodes_;
  std::vector<std::unique_ptr<grpc::Server>> servers_;
  std::vector<std::string> ids_;
  std::unique_ptr<v1::ListService::Stub> stub_;
};

TEST_F(GatewayBatchTest, CallsReachTheCoordinatorOverOneStream) {
  const std::string id = ListId();
  const std::vector<int> order = Order(id);
  ASSERT_EQ(order.size(), 3u);
  // Many calls at once, through the proxy's unary methods.
  constexpr int kCalls = 40;
  std::atomic<int> ok{0}, wrong{0}, finished{0};
  absl::Notification all;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<v1::GetResponse> responses(kCalls);
  v1::GetRequest request;
  request.set_list_id(id);
  for (int i = 0; i < kCalls; ++i) {
    contexts.push_back(Context());
    stub_->async()->Get(contexts.back().get(), &request, &responses[i],
                        [&, i](grpc::Status status) {
                          const bool right =
                              status.ok() &&
                              responses[i].replies() ==
                                  static_cast<uint32_t>(order[0] + 1);
                          ++(right ? ok : wrong);
                          // One callback, the last, notifies: two reading
                          // ok + wrong at once could both see kCalls.
                          if (++finished == kCalls) all.Notify();
                        });
  }
  ASSERT_TRUE(all.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_EQ(ok.load(), kCalls);
  EXPECT_EQ(nodes_[order[0]]->calls.load(), kCalls);
  EXPECT_EQ(nodes_[order[0]]->streams.load(), 1);
  EXPECT_EQ(nodes_[order[1]]->calls.load(), 0);
  EXPECT_EQ(nodes_[order[2]]->calls.load(), 0);
}

TEST_F(GatewayBatchTest, AnUnreachableNodesCallsFailOverAsUnaryOnesDo) {
  const std::string id = ListId();
  const std::vector<int> order = Order(id);
  ASSERT_EQ(order.size(), 3u);
  servers_[order[0]]->Shutdown(std::chrono::system_clock::now());
  servers_[order[0]].reset();

  v1::GetRequest get;
  get.set_list_id(id);
  v1::GetResponse got;
  grpc::Status status = stub_->Get(Context().get(), get, &got);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(got.replies(), static_cast<uint32_t>(order[1] + 1));

  // An Apply is not sent to another node: it may have been applied.
  v1::ApplyRequest apply;
  apply.set_list_id(id);
  apply.mutable_operation()->mutable_add()->set_item("milk");
  v1::ApplyResponse applied;
  EXPECT_EQ(stub_->Apply(Context().get(), apply, &applied).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(nodes_[order[1]]->calls.load(), 1);  // the Get only
  EXPECT_EQ(nodes_[order[2]]->calls.load(), 0);
}

}  // namespace
}  // namespace shoplist::proxy
