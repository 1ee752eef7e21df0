// Watcher against the generated gMock ListService stubs: attaching with
// what the home knows, deltas handed over in order, a broken stream
// rotating to the next proxy, refusals that end the watch, Stop during a
// retry, and a reconnect elsewhere in the home that brings it back at once.
#include "clients/core/watcher.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "codec/list_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoplist/v1/list_service_mock.grpc.pb.h"
#include "tests/service/watch_support.h"
#include "tests/support/grpc_status.h"

namespace shoplist::client {
namespace {

using shoplist::testing::FakeWatchReader;
using shoplist::testing::Unavailable;
using ::testing::_;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Return;

using MockStub = NiceMock<v1::MockListServiceStub>;
constexpr char kList[] = "aaaabbbbccccddddeeeeffffgg";

crdt::ListState Change(const std::string& item, int64_t count) {
  crdt::ListState bob;
  return *bob.Add(0xB0B, item, count);
}

class WatcherTest : public ::testing::Test {
 protected:
  void MakeLink(int proxies) {
    std::vector<std::unique_ptr<CloudLink::Stub>> stubs;
    for (int i = 0; i < proxies; ++i) {
      auto stub = std::make_unique<MockStub>();
      ON_CALL(*stub, Ping(_, _, _)).WillByDefault(Return(grpc::Status::OK));
      mocks_.push_back(stub.get());
      stubs.push_back(std::move(stub));
    }
    link_ = std::make_shared<CloudLink>(std::move(stubs));
  }

  Watcher::Callbacks Callbacks(int stop_after = 1 << 30) {
    return Watcher::Callbacks{
        [this]() -> absl::StatusOr<crdt::CausalContext> {
          ++prepared_;
          return known_.context();
        },
        [this, stop_after](const crdt::ListState& delta) {
          received_.push_back(delta);
          return static_cast<int>(received_.size()) < stop_after;
        },
        [this](const absl::Status& why) { interruptions_.push_back(why); }};
  }

  std::vector<MockStub*> mocks_;
  std::shared_ptr<CloudLink> link_;
  crdt::ListState known_;
  int prepared_ = 0;
  std::vector<crdt::ListState> received_;
  std::vector<absl::Status> interruptions_;
};

TEST_F(WatcherTest, AttachesWithWhatTheHomeKnowsAndHandsOverEachDelta) {
  MakeLink(1);
  ASSERT_TRUE(known_.Add(0xA11CE, "milk", 1).ok());
  v1::WatchRequest sent;
  EXPECT_CALL(*mocks_[0], WatchRaw(_, _))
      .WillOnce(Invoke([&](grpc::ClientContext*, const v1::WatchRequest& r) {
        sent = r;
        return new FakeWatchReader({Change("bread", 1), Change("eggs", 6)},
                                   grpc::Status::OK);
      }));
  Watcher watcher(link_, kList, "", Callbacks(/*stop_after=*/2));
  EXPECT_TRUE(watcher.Run().ok());

  EXPECT_EQ(sent.list_id(), kList);
  absl::StatusOr<crdt::CausalContext> known =
      codec::DecodeContext(sent.known());
  ASSERT_TRUE(known.ok());
  EXPECT_EQ(*known, known_.context());
  ASSERT_EQ(received_.size(), 2u);
  EXPECT_EQ(received_[0], Change("bread", 1));
  EXPECT_EQ(received_[1], Change("eggs", 6));
  EXPECT_EQ(watcher.attempts(), 1);
  EXPECT_TRUE(interruptions_.empty());
  EXPECT_TRUE(link_->online());
}

TEST_F(WatcherTest, ABrokenStreamMovesOnToTheNextProxy) {
  MakeLink(2);
  EXPECT_CALL(*mocks_[0], WatchRaw(_, _))
      .WillOnce(Invoke([](grpc::ClientContext*, const v1::WatchRequest&) {
        return new FakeWatchReader({}, Unavailable());
      }));
  EXPECT_CALL(*mocks_[1], WatchRaw(_, _))
      .WillOnce(Invoke([](grpc::ClientContext*, const v1::WatchRequest&) {
        return new FakeWatchReader({Change("tea", 2)}, grpc::Status::OK);
      }));
  Watcher watcher(link_, kList, "", Callbacks(/*stop_after=*/1));
  EXPECT_TRUE(watcher.Run().ok());

  ASSERT_EQ(received_.size(), 1u);
  EXPECT_EQ(received_[0], Change("tea", 2));
  EXPECT_EQ(watcher.attempts(), 2);
  ASSERT_EQ(interruptions_.size(), 1u);
  EXPECT_EQ(interruptions_[0].code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(prepared_, 2);  // asked again what the home knows
  EXPECT_EQ(link_->preferred(), 1u);
}

TEST_F(WatcherTest, AStreamThatEndsCleanlyIsReattached) {
  MakeLink(1);
  EXPECT_CALL(*mocks_[0], WatchRaw(_, _))
      .WillOnce(Invoke([](grpc::ClientContext*, const v1::WatchRequest&) {
        return new FakeWatchReader({Change("a", 1)}, grpc::Status::OK);
      }))
      .WillOnce(Invoke([](grpc::ClientContext*, const v1::WatchRequest&) {
        return new FakeWatchReader({Change("b", 1)}, grpc::Status::OK);
      }));
  Watcher watcher(link_, kList, "", Callbacks(/*stop_after=*/2));
  EXPECT_TRUE(watcher.Run().ok());
  EXPECT_EQ(received_.size(), 2u);
  EXPECT_EQ(watcher.attempts(), 2);
}

TEST_F(WatcherTest, RefusalsEndTheWatchWithTheirStatus) {
  for (grpc::StatusCode code :
       {grpc::StatusCode::NOT_FOUND, grpc::StatusCode::INVALID_ARGUMENT,
        grpc::StatusCode::PERMISSION_DENIED}) {
    mocks_.clear();
    MakeLink(2);
    EXPECT_CALL(*mocks_[0], WatchRaw(_, _))
        .WillOnce(Invoke([code](grpc::ClientContext*, const v1::WatchRequest&) {
          return new FakeWatchReader({}, grpc::Status(code, "refused"));
        }));
    EXPECT_CALL(*mocks_[1], WatchRaw(_, _)).Times(0);
    Watcher watcher(link_, kList, "", Callbacks());
    absl::Status status = watcher.Run();
    EXPECT_EQ(static_cast<int>(status.code()), static_cast<int>(code));
    EXPECT_EQ(watcher.attempts(), 1);
  }
}

TEST_F(WatcherTest, APrepareErrorEndsTheWatchBeforeAnyStream) {
  MakeLink(1);
  EXPECT_CALL(*mocks_[0], WatchRaw(_, _)).Times(0);
  Watcher::Callbacks callbacks = Callbacks();
  callbacks.prepare = []() -> absl::StatusOr<crdt::CausalContext> {
    return absl::NotFoundError("forgotten");
  };
  Watcher watcher(link_, kList, "", callbacks);
  EXPECT_EQ(watcher.Run().code(), absl::StatusCode::kNotFound);
}

TEST_F(WatcherTest, StopEndsAWatchThatWaitsForAProxy) {
  MakeLink(2);
  for (MockStub* mock : mocks_) {
    ON_CALL(*mock, WatchRaw(_, _))
        .WillByDefault(
            Invoke([](grpc::ClientContext*, const v1::WatchRequest&) {
              return new FakeWatchReader({}, Unavailable());
            }));
    ON_CALL(*mock, Ping(_, _, _)).WillByDefault(Return(Unavailable()));
  }
  std::atomic<int> pings{0};
  for (MockStub* mock : mocks_) {
    EXPECT_CALL(*mock, Ping(_, _, _)).WillRepeatedly(Invoke([&](auto...) {
      ++pings;
      return Unavailable();
    }));
  }
  Watcher watcher(link_, kList, "", Callbacks());
  std::thread run([&] { EXPECT_TRUE(watcher.Run().ok()); });
  absl::SleepFor(absl::Milliseconds(1500));
  watcher.Stop();
  run.join();
  EXPECT_FALSE(link_->online());
  // Paced by the back-off (100, 200, 400, 800 ms...) even though every
  // ping fails at once: a handful of tries in 1.5 s, not thousands.
  EXPECT_GE(pings.load(), 2);
  EXPECT_LE(pings.load(), 8);
  EXPECT_EQ(watcher.attempts(), 1);
}

TEST_F(WatcherTest, AnotherCallReachingAProxyBringsTheWatchBackAtOnce) {
  MakeLink(1);
  // Pings never answer: only the home's other call can bring it back.
  ON_CALL(*mocks_[0], Ping(_, _, _)).WillByDefault(Return(Unavailable()));
  absl::Notification attached_again, release;
  EXPECT_CALL(*mocks_[0], WatchRaw(_, _))
      .WillOnce(Invoke([](grpc::ClientContext*, const v1::WatchRequest&) {
        return new FakeWatchReader({}, Unavailable());
      }))
      .WillOnce(Invoke([&](grpc::ClientContext*, const v1::WatchRequest&) {
        attached_again.Notify();
        return new FakeWatchReader({Change("x", 1)}, grpc::Status::OK);
      }));
  std::atomic<int> pings{0};
  EXPECT_CALL(*mocks_[0], Ping(_, _, _)).WillRepeatedly(Invoke([&](auto...) {
    ++pings;
    return Unavailable();
  }));
  Watcher watcher(link_, kList, "", Callbacks(/*stop_after=*/1));
  std::thread run([&] { EXPECT_TRUE(watcher.Run().ok()); });
  // Deep in its back-off: three pings failed (100, 200, 400 ms apart), and
  // none brought the watch back.
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (pings.load() < 3 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_GE(pings.load(), 3);
  EXPECT_FALSE(attached_again.HasBeenNotified());
  link_->Reached(0);  // a sync of the same home got through
  EXPECT_TRUE(attached_again.WaitForNotificationWithTimeout(absl::Seconds(5)));
  run.join();
  EXPECT_EQ(received_.size(), 1u);
}

}  // namespace
}  // namespace shoplist::client
