// ProxyClient against gRPC's generated gMock stubs of MembershipService:
// registration rounds, ring views, failure reports, and (with Start) the
// background subscription that follows a proxy's stream and re-opens it.
#include "services/node/proxy_client.h"

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/test/mock_stream.h"
#include "gtest/gtest.h"
#include "shoplist/v1/membership_service_mock.grpc.pb.h"
#include "tests/support/grpc_status.h"

namespace shoplist::node {
namespace {

using shoplist::testing::Unavailable;
using ::testing::_;
using ::testing::AllOf;
using ::testing::DoAll;
using ::testing::InSequence;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Property;
using ::testing::Return;
using ::testing::SetArgPointee;
using ::testing::StrictMock;

using MockStub = v1::MockMembershipServiceStub;
using MockReader = ::grpc::testing::MockClientReader<v1::RingView>;
using Stubs =
    std::vector<std::unique_ptr<v1::MembershipService::StubInterface>>;

constexpr char kSelfId[] = "node-1";
constexpr char kSelfAddress[] = "127.0.0.1:7101";

v1::NodeInfo Self() {
  v1::NodeInfo self;
  self.set_id(kSelfId);
  self.set_address(kSelfAddress);
  return self;
}

struct MemberSpec {
  std::string id;
  v1::Member::State state;
};

v1::RingView View(uint64_t version, const std::vector<MemberSpec>& members,
                  uint32_t vnodes = 8) {
  v1::RingView view;
  view.set_version(version);
  view.set_vnodes(vnodes);
  view.set_proxy("p0");
  for (const MemberSpec& m : members) {
    v1::Member* out = view.add_members();
    out->mutable_node()->set_id(m.id);
    out->mutable_node()->set_address(m.id + ".local:7000");
    out->set_state(m.state);
  }
  return view;
}

auto JoinOf(const std::string& id, const std::string& address) {
  return Property(&v1::JoinRequest::node,
                  AllOf(Property(&v1::NodeInfo::id, id),
                        Property(&v1::NodeInfo::address, address)));
}

auto HeartbeatOf(const std::string& id) {
  return Property(&v1::HeartbeatRequest::node_id, id);
}

auto ReportOf(const std::string& node_id, const std::string& reporter,
              const std::string& reason) {
  return AllOf(Property(&v1::ReportFailureRequest::node_id, node_id),
               Property(&v1::ReportFailureRequest::reporter, reporter),
               Property(&v1::ReportFailureRequest::reason, reason));
}

// Builds `count` stubs of mock type M, handing ownership to the returned
// vector and the raw pointers to `mocks`.
template <typename M>
Stubs MakeStubs(int count, std::vector<M*>* mocks) {
  Stubs stubs;
  for (int i = 0; i < count; ++i) {
    auto stub = std::make_unique<M>();
    mocks->push_back(stub.get());
    stubs.push_back(std::move(stub));
  }
  return stubs;
}

// --- Registration ---------------------------------------------------------

TEST(ProxyClientRegisterTest, JoinsFirstWithOwnNodeInfoThenHeartbeats) {
  std::vector<StrictMock<MockStub>*> mocks;
  ProxyClient client(Self(), MakeStubs(1, &mocks));
  {
    InSequence seq;
    EXPECT_CALL(*mocks[0], Join(_, JoinOf(kSelfId, kSelfAddress), _))
        .WillOnce(Return(grpc::Status::OK));
    EXPECT_CALL(*mocks[0], Heartbeat(_, HeartbeatOf(kSelfId), _))
        .Times(2)
        .WillRepeatedly(Return(grpc::Status::OK));
  }
  EXPECT_TRUE(client.RegisterOnce(0).ok());
  EXPECT_TRUE(client.RegisterOnce(0).ok());
  EXPECT_TRUE(client.RegisterOnce(0).ok());
}

TEST(ProxyClientRegisterTest, HeartbeatNotFoundMakesNextRoundJoinAgain) {
  std::vector<StrictMock<MockStub>*> mocks;
  ProxyClient client(Self(), MakeStubs(1, &mocks));
  {
    InSequence seq;
    EXPECT_CALL(*mocks[0], Join(_, JoinOf(kSelfId, kSelfAddress), _))
        .WillOnce(Return(grpc::Status::OK));
    EXPECT_CALL(*mocks[0], Heartbeat(_, HeartbeatOf(kSelfId), _))
        .WillOnce(Return(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                      "node node-1 is not a member")));
    EXPECT_CALL(*mocks[0], Join(_, JoinOf(kSelfId, kSelfAddress), _))
        .WillOnce(Return(grpc::Status::OK));
    EXPECT_CALL(*mocks[0], Heartbeat(_, HeartbeatOf(kSelfId), _))
        .WillOnce(Return(grpc::Status::OK));
  }
  EXPECT_TRUE(client.RegisterOnce(0).ok());
  // The proxy answered: no reason to stop following its view (a Leave's
  // view may be on its way), and the join waits for the next round.
  EXPECT_TRUE(client.RegisterOnce(0).ok());
  EXPECT_TRUE(client.RegisterOnce(0).ok());
  EXPECT_TRUE(client.RegisterOnce(0).ok());
}

TEST(ProxyClientRegisterTest, ANodeThatLeftNeitherHeartbeatsNorJoinsAgain) {
  std::vector<StrictMock<MockStub>*> mocks;
  ProxyClient client(Self(), MakeStubs(1, &mocks));
  int left = 0;
  client.set_on_left([&](std::shared_ptr<const RingView>) { ++left; });
  EXPECT_CALL(*mocks[0], Join(_, JoinOf(kSelfId, kSelfAddress), _))
      .WillOnce(Return(grpc::Status::OK));
  EXPECT_TRUE(client.RegisterOnce(0).ok());
  ASSERT_TRUE(client.OnView(0, View(1, {{kSelfId, v1::Member::UP}})));
  v1::RingView gone = View(2, {});
  gone.add_left(kSelfId);
  ASSERT_TRUE(client.OnView(0, gone));
  EXPECT_EQ(left, 1);
  // It hands off, then stops: a heartbeat would be refused, and the join
  // after it would undo the Leave. The strict mock fails on either.
  EXPECT_TRUE(client.RegisterOnce(0).ok());
  EXPECT_TRUE(client.RegisterOnce(0).ok());
}

TEST(ProxyClientRegisterTest, FailedJoinIsRetriedAsJoin) {
  std::vector<StrictMock<MockStub>*> mocks;
  ProxyClient client(Self(), MakeStubs(1, &mocks));
  {
    InSequence seq;
    EXPECT_CALL(*mocks[0], Join(_, JoinOf(kSelfId, kSelfAddress), _))
        .Times(2)
        .WillRepeatedly(Return(Unavailable()));
    EXPECT_CALL(*mocks[0], Join(_, JoinOf(kSelfId, kSelfAddress), _))
        .WillOnce(Return(grpc::Status::OK));
    EXPECT_CALL(*mocks[0], Heartbeat(_, HeartbeatOf(kSelfId), _))
        .WillOnce(Return(grpc::Status::OK));
  }
  EXPECT_EQ(client.RegisterOnce(0).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(client.RegisterOnce(0).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(client.RegisterOnce(0).ok());
  EXPECT_TRUE(client.RegisterOnce(0).ok());
}

TEST(ProxyClientRegisterTest, HeartbeatUnavailableKeepsHeartbeating) {
  std::vector<StrictMock<MockStub>*> mocks;
  ProxyClient client(Self(), MakeStubs(1, &mocks));
  {
    InSequence seq;
    EXPECT_CALL(*mocks[0], Join(_, _, _)).WillOnce(Return(grpc::Status::OK));
    EXPECT_CALL(*mocks[0], Heartbeat(_, HeartbeatOf(kSelfId), _))
        .WillOnce(Return(Unavailable()));
    EXPECT_CALL(*mocks[0], Heartbeat(_, HeartbeatOf(kSelfId), _))
        .WillOnce(Return(grpc::Status::OK));
  }
  EXPECT_TRUE(client.RegisterOnce(0).ok());
  EXPECT_FALSE(client.RegisterOnce(0).ok());
  EXPECT_TRUE(client.RegisterOnce(0).ok());
}

TEST(ProxyClientRegisterTest, EachProxyIsJoinedOnItsOwn) {
  std::vector<StrictMock<MockStub>*> mocks;
  ProxyClient client(Self(), MakeStubs(2, &mocks));
  {
    InSequence seq;
    EXPECT_CALL(*mocks[0], Join(_, JoinOf(kSelfId, kSelfAddress), _))
        .WillOnce(Return(grpc::Status::OK));
    EXPECT_CALL(*mocks[1], Join(_, JoinOf(kSelfId, kSelfAddress), _))
        .WillOnce(Return(grpc::Status::OK));
    EXPECT_CALL(*mocks[1], Heartbeat(_, HeartbeatOf(kSelfId), _))
        .WillOnce(Return(grpc::Status::OK));
    EXPECT_CALL(*mocks[0], Heartbeat(_, HeartbeatOf(kSelfId), _))
        .WillOnce(Return(grpc::Status::OK));
  }
  EXPECT_TRUE(client.RegisterOnce(0).ok());
  EXPECT_TRUE(client.RegisterOnce(1).ok());
  EXPECT_TRUE(client.RegisterOnce(1).ok());
  EXPECT_TRUE(client.RegisterOnce(0).ok());
}

// --- Ring views -----------------------------------------------------------

TEST(ProxyClientViewTest, CurrentBeforeAnyViewIsEmptyRingNeverNull) {
  std::vector<StrictMock<MockStub>*> mocks;
  ProxyClient client(Self(), MakeStubs(2, &mocks));
  std::shared_ptr<const RingView> current = client.Current();
  ASSERT_NE(current, nullptr);
  EXPECT_TRUE(current->ring.empty());
  EXPECT_EQ(current->version, 0u);
  EXPECT_FALSE(client.WaitForView(absl::Milliseconds(50)));
}

TEST(ProxyClientViewTest, CurrentWithNoProxiesIsEmptyRing) {
  ProxyClient client(Self(), Stubs());
  std::shared_ptr<const RingView> current = client.Current();
  ASSERT_NE(current, nullptr);
  EXPECT_TRUE(current->ring.empty());
}

TEST(ProxyClientViewTest, ViewBuildsRingWithMembersAndUpFlags) {
  std::vector<StrictMock<MockStub>*> mocks;
  ProxyClient client(Self(), MakeStubs(1, &mocks));
  EXPECT_TRUE(client.OnView(0, View(5,
                                    {{"n0", v1::Member::UP},
                                     {"n1", v1::Member::DOWN},
                                     {"n2", v1::Member::UP}},
                                    /*vnodes=*/16)));
  std::shared_ptr<const RingView> current = client.Current();
  ASSERT_NE(current, nullptr);
  EXPECT_EQ(current->version, 5u);
  EXPECT_EQ(current->ring.vnodes(), 16u);
  EXPECT_EQ(current->ring.members(),
            (std::vector<ring::Member>{{"n0", "n0.local:7000", true},
                                       {"n1", "n1.local:7000", false},
                                       {"n2", "n2.local:7000", true}}));
  EXPECT_TRUE(client.WaitForView(absl::Seconds(1)));
}

TEST(ProxyClientViewTest, UnspecifiedStateIsNotUp) {
  std::vector<StrictMock<MockStub>*> mocks;
  ProxyClient client(Self(), MakeStubs(1, &mocks));
  EXPECT_TRUE(
      client.OnView(0, View(1, {{"n0", v1::Member::UP},
                                {"n1", v1::Member::STATE_UNSPECIFIED}})));
  const ring::Member* n1 = client.Current()->ring.Find("n1");
  ASSERT_NE(n1, nullptr);
  EXPECT_FALSE(n1->up);
}

TEST(ProxyClientViewTest, StaleOrEqualVersionIsIgnored) {
  std::vector<StrictMock<MockStub>*> mocks;
  ProxyClient client(Self(), MakeStubs(1, &mocks));
  ASSERT_TRUE(client.OnView(
      0, View(5, {{"n0", v1::Member::UP}, {"n1", v1::Member::UP}})));
  std::shared_ptr<const RingView> held = client.Current();

  // Same version, different content: ignored.
  EXPECT_FALSE(client.OnView(0, View(5, {{"n9", v1::Member::UP}})));
  // Older: ignored.
  EXPECT_FALSE(client.OnView(0, View(4, {{"n8", v1::Member::DOWN}})));
  EXPECT_EQ(client.Current(), held);
  EXPECT_EQ(client.Current()->version, 5u);
  EXPECT_NE(client.Current()->ring.Find("n0"), nullptr);
  EXPECT_EQ(client.Current()->ring.Find("n9"), nullptr);
  EXPECT_EQ(client.Current()->ring.Find("n8"), nullptr);

  // Newer: taken.
  EXPECT_TRUE(client.OnView(0, View(6, {{"n9", v1::Member::UP}})));
  EXPECT_EQ(client.Current()->version, 6u);
  EXPECT_NE(client.Current()->ring.Find("n9"), nullptr);
  EXPECT_EQ(client.Current()->ring.Find("n0"), nullptr);
}

TEST(ProxyClientViewTest, VersionsAreTrackedPerProxy) {
  std::vector<StrictMock<MockStub>*> mocks;
  ProxyClient client(Self(), MakeStubs(2, &mocks));
  EXPECT_TRUE(client.OnView(0, View(5, {{"n0", v1::Member::UP}})));
  // Proxy 1 has its own counter: an older number from it is not stale.
  EXPECT_TRUE(client.OnView(1, View(3, {{"n1", v1::Member::UP}})));
  EXPECT_FALSE(client.OnView(1, View(3, {{"n1", v1::Member::UP}})));
  EXPECT_FALSE(client.OnView(0, View(4, {{"n0", v1::Member::UP}})));
}

// --- Failure reports ------------------------------------------------------

class ProxyClientReportTest : public ::testing::Test {
 protected:
  ProxyClientReportTest() {
    ProxyClientOptions options;
    options.report_interval = absl::Hours(1);
    client_ =
        std::make_unique<ProxyClient>(Self(), MakeStubs(3, &mocks_), options);
  }

  std::vector<StrictMock<MockStub>*> mocks_;
  std::unique_ptr<ProxyClient> client_;
};

TEST_F(ProxyClientReportTest, ReportGoesToEveryProxy) {
  for (StrictMock<MockStub>* mock : mocks_) {
    EXPECT_CALL(*mock,
                ReportFailure(_, ReportOf("n2", kSelfId, "store timed out"), _))
        .WillOnce(Return(grpc::Status::OK));
  }
  client_->ReportFailure("n2", "store timed out");
  client_->FlushReports();
}

TEST_F(ProxyClientReportTest, NothingQueuedSendsNothing) {
  client_->FlushReports();  // StrictMock: any call fails the test.
}

TEST_F(ProxyClientReportTest, FailingProxyDoesNotStopTheOthers) {
  EXPECT_CALL(*mocks_[0], ReportFailure(_, ReportOf("n2", kSelfId, "r"), _))
      .WillOnce(Return(Unavailable()));
  EXPECT_CALL(*mocks_[1], ReportFailure(_, ReportOf("n2", kSelfId, "r"), _))
      .WillOnce(Return(grpc::Status::OK));
  EXPECT_CALL(*mocks_[2], ReportFailure(_, ReportOf("n2", kSelfId, "r"), _))
      .WillOnce(Return(grpc::Status::OK));
  client_->ReportFailure("n2", "r");
  client_->FlushReports();
}

TEST_F(ProxyClientReportTest, RepeatWithinIntervalIsDroppedOtherNodeIsNot) {
  for (StrictMock<MockStub>* mock : mocks_) {
    EXPECT_CALL(*mock, ReportFailure(_, ReportOf("n2", kSelfId, "first"), _))
        .WillOnce(Return(grpc::Status::OK));
  }
  client_->ReportFailure("n2", "first");
  client_->FlushReports();
  for (StrictMock<MockStub>* mock : mocks_) {
    ::testing::Mock::VerifyAndClearExpectations(mock);
  }

  // Same node within the hour: dropped, whether flushed apart or together.
  client_->ReportFailure("n2", "second");
  client_->FlushReports();
  for (StrictMock<MockStub>* mock : mocks_) {
    ::testing::Mock::VerifyAndClearExpectations(mock);
  }

  for (StrictMock<MockStub>* mock : mocks_) {
    EXPECT_CALL(*mock, ReportFailure(_, ReportOf("n3", kSelfId, "other"), _))
        .WillOnce(Return(grpc::Status::OK));
  }
  client_->ReportFailure("n3", "other");
  client_->ReportFailure("n2", "third");
  client_->ReportFailure("n3", "other again");
  client_->FlushReports();
}

// --- Background threads ---------------------------------------------------

TEST(ProxyClientStartTest, FollowsStreamThenReopensIt) {
  std::atomic<int> reopened{0};
  std::vector<NiceMock<MockStub>*> mocks;
  Stubs stubs = MakeStubs(1, &mocks);
  NiceMock<MockStub>& stub = *mocks[0];
  ON_CALL(stub, Join(_, _, _)).WillByDefault(Return(grpc::Status::OK));
  ON_CALL(stub, Heartbeat(_, _, _)).WillByDefault(Return(grpc::Status::OK));
  ON_CALL(stub, ReportFailure(_, _, _)).WillByDefault(Return(grpc::Status::OK));

  // Owned by the client once SubscribeRaw hands it out.
  auto* first = new NiceMock<MockReader>();
  {
    InSequence seq;
    EXPECT_CALL(*first, Read(_))
        .WillOnce(DoAll(SetArgPointee<0>(View(1, {{"n0", v1::Member::UP}})),
                        Return(true)))
        .WillOnce(DoAll(SetArgPointee<0>(View(2, {{"n0", v1::Member::UP},
                                                  {"n1", v1::Member::UP}})),
                        Return(true)))
        .WillOnce(Return(false));
    EXPECT_CALL(*first, Finish()).WillOnce(Return(Unavailable()));
  }
  EXPECT_CALL(
      stub, SubscribeRaw(_, Property(&v1::SubscribeRequest::node_id, kSelfId)))
      .WillOnce(Return(first))
      .WillRepeatedly(
          Invoke([&reopened](grpc::ClientContext*, const v1::SubscribeRequest&)
                     -> grpc::ClientReaderInterface<v1::RingView>* {
            reopened.fetch_add(1);
            // Read returns false at once; Finish returns OK.
            return new NiceMock<MockReader>();
          }));

  ProxyClientOptions options;
  options.min_backoff = absl::Milliseconds(10);
  options.max_backoff = absl::Milliseconds(50);
  options.heartbeat_interval = absl::Milliseconds(50);
  ProxyClient client(Self(), std::move(stubs), options);
  client.Start();

  EXPECT_TRUE(client.WaitForView(absl::Seconds(5)));
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (client.Current()->version < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(client.Current()->version, 2u);
  EXPECT_EQ(client.Current()->ring.members().size(), 2u);

  while (reopened.load() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_GE(reopened.load(), 1);
  // The stream is gone, but the last view is still served.
  EXPECT_EQ(client.Current()->version, 2u);
  // The destructor stops every thread.
}

TEST(ProxyClientStartTest, RegistersInTheBackground) {
  std::atomic<int> joins{0};
  std::atomic<int> heartbeats{0};
  std::vector<NiceMock<MockStub>*> mocks;
  Stubs stubs = MakeStubs(1, &mocks);
  NiceMock<MockStub>& stub = *mocks[0];
  ON_CALL(stub, Join(_, JoinOf(kSelfId, kSelfAddress), _))
      .WillByDefault(Invoke([&joins](auto*, auto&, auto*) {
        joins.fetch_add(1);
        return grpc::Status::OK;
      }));
  ON_CALL(stub, Heartbeat(_, HeartbeatOf(kSelfId), _))
      .WillByDefault(Invoke([&heartbeats](auto*, auto&, auto*) {
        heartbeats.fetch_add(1);
        return grpc::Status::OK;
      }));
  ON_CALL(stub, SubscribeRaw(_, _))
      .WillByDefault(
          Invoke([](grpc::ClientContext*, const v1::SubscribeRequest&)
                     -> grpc::ClientReaderInterface<v1::RingView>* {
            return new NiceMock<MockReader>();
          }));

  ProxyClientOptions options;
  options.min_backoff = absl::Milliseconds(10);
  options.max_backoff = absl::Milliseconds(50);
  options.heartbeat_interval = absl::Milliseconds(10);
  absl::Time started = absl::Now();
  {
    ProxyClient client(Self(), std::move(stubs), options);
    client.Start();
    absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (heartbeats.load() < 2 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  EXPECT_EQ(joins.load(), 1);
  EXPECT_GE(heartbeats.load(), 2);
  EXPECT_LT(absl::Now() - started, absl::Seconds(5));
}

// Two proxies stream views until `release`; proxy 0's Join answers
// `proxy0_join`.
class TwoStreamsTest : public ::testing::Test {
 protected:
  // A reader that delivers `view` once, then blocks until release.
  grpc::ClientReaderInterface<v1::RingView>* Streaming(v1::RingView view) {
    auto* reader = new NiceMock<MockReader>();
    ON_CALL(*reader, Read(_))
        .WillByDefault(
            Invoke([this, view, sent = false](v1::RingView* out) mutable {
              if (!sent) {
                sent = true;
                *out = view;
                delivered_.fetch_add(1);
                return true;
              }
              release_.WaitForNotification();
              return false;
            }));
    return reader;
  }

  std::unique_ptr<ProxyClient> Start(grpc::Status proxy0_join,
                                     v1::RingView view0, v1::RingView view1) {
    std::vector<NiceMock<MockStub>*> mocks;
    Stubs stubs = MakeStubs(2, &mocks);
    for (int i = 0; i < 2; ++i) {
      ON_CALL(*mocks[i], Join(_, _, _))
          .WillByDefault(Return(i == 0 ? proxy0_join : grpc::Status::OK));
      ON_CALL(*mocks[i], Heartbeat(_, _, _))
          .WillByDefault(Return(grpc::Status::OK));
      v1::RingView view = i == 0 ? view0 : view1;
      ON_CALL(*mocks[i], SubscribeRaw(_, _))
          .WillByDefault(Invoke(
              [this, view](grpc::ClientContext*, const v1::SubscribeRequest&) {
                return Streaming(view);
              }));
    }
    ProxyClientOptions options;
    options.min_backoff = absl::Milliseconds(10);
    options.max_backoff = absl::Milliseconds(20);
    options.heartbeat_interval = absl::Milliseconds(10);
    auto client =
        std::make_unique<ProxyClient>(Self(), std::move(stubs), options);
    client->Start();
    return client;
  }

  // Waits until the view holds `id`.
  bool Follows(ProxyClient& client, const std::string& id) {
    absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (absl::Now() < deadline) {
      if (delivered_.load() >= 2 &&
          client.Current()->ring.Find(id) != nullptr) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

  absl::Notification release_;
  std::atomic<int> delivered_{0};
};

TEST_F(TwoStreamsTest, AProxyThatSeesThisNodeDownIsFollowedLast) {
  // Proxy 0 cannot hear this node (it thinks it down) but still streams.
  std::unique_ptr<ProxyClient> client =
      Start(grpc::Status::OK,
            View(7, {{kSelfId, v1::Member::DOWN}, {"n0", v1::Member::UP}}),
            View(3, {{kSelfId, v1::Member::UP}, {"n2", v1::Member::UP}}));
  EXPECT_TRUE(Follows(*client, "n2"));
  release_.Notify();
}

TEST_F(TwoStreamsTest, AProxyThatDoesNotAnswerIsNotFollowed) {
  // Proxy 0's stream looks open (a partition sends no reset), but its
  // calls fail: its view is no longer followed.
  std::unique_ptr<ProxyClient> client =
      Start(Unavailable(),
            View(7, {{kSelfId, v1::Member::UP}, {"n0", v1::Member::UP}}),
            View(3, {{kSelfId, v1::Member::UP}, {"n2", v1::Member::UP}}));
  EXPECT_TRUE(Follows(*client, "n2"));
  release_.Notify();
}

}  // namespace
}  // namespace shoplist::node
