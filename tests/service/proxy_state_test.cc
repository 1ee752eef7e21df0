// ProxyState on a real LevelDB: what a change publishes, what a restart
// restores, and that readers of the view never wait for the membership's
// synced write.
#include "services/proxy/proxy_state.h"

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "leveldb/env.h"
#include "tests/support/fault_env.h"
#include "tests/support/temp_dir.h"

namespace shoplist::proxy {
namespace {

using shoplist::testing::TempDir;

// Holds every Sync while held, so a test can look at the state while a
// change waits for its disk.
class HeldSyncEnv : public leveldb::EnvWrapper {
 public:
  HeldSyncEnv() : EnvWrapper(leveldb::Env::Default()) {}

  void Hold() {
    absl::MutexLock lock(&mu_);
    held_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    held_ = false;
  }
  // Blocks until a Sync is waiting.
  void AwaitWaitingSync() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* n) { return *n > 0; }, &waiting_));
  }

  leveldb::Status NewWritableFile(const std::string& name,
                                  leveldb::WritableFile** result) override {
    leveldb::Status s = target()->NewWritableFile(name, result);
    if (s.ok()) *result = new File(this, *result);
    return s;
  }
  leveldb::Status NewAppendableFile(const std::string& name,
                                    leveldb::WritableFile** result) override {
    leveldb::Status s = target()->NewAppendableFile(name, result);
    if (s.ok()) *result = new File(this, *result);
    return s;
  }

 private:
  class File : public leveldb::WritableFile {
   public:
    File(HeldSyncEnv* env, leveldb::WritableFile* base)
        : env_(env), base_(base) {}
    leveldb::Status Append(const leveldb::Slice& data) override {
      return base_->Append(data);
    }
    leveldb::Status Close() override { return base_->Close(); }
    leveldb::Status Flush() override { return base_->Flush(); }
    leveldb::Status Sync() override {
      env_->WaitWhileHeld();
      return base_->Sync();
    }

   private:
    HeldSyncEnv* const env_;
    std::unique_ptr<leveldb::WritableFile> base_;
  };

  void WaitWhileHeld() {
    absl::MutexLock lock(&mu_);
    ++waiting_;
    mu_.Await(absl::Condition(
        +[](bool* held) { return !*held; }, &held_));
    --waiting_;
  }

  absl::Mutex mu_;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

ProxyOptions Options(const std::string& dir, leveldb::Env* env = nullptr) {
  ProxyOptions options;
  options.proxy_id = "p0";
  options.data_dir = dir;
  options.env = env;
  // No time-outs during a test: the ticker must not change the view.
  options.tick_interval = absl::Hours(1);
  return options;
}

std::set<std::string> MemberIds(const Snapshot& snapshot) {
  std::set<std::string> ids;
  for (const auto& m : snapshot.view.members()) ids.insert(m.node().id());
  return ids;
}

TEST(ProxyStateTest, AChangePublishesANewerSnapshotToReadersAndListeners) {
  TempDir dir;
  auto state = ProxyState::Open(Options(dir.path()));
  ASSERT_TRUE(state.ok()) << state.status();
  const uint64_t before = (*state)->Current()->version;
  std::vector<std::shared_ptr<const Snapshot>> heard;
  int listener = (*state)->AddListener(
      [&](std::shared_ptr<const Snapshot> s) { heard.push_back(s); });

  ASSERT_TRUE((*state)->Join("n1", "127.0.0.1:7001").ok());
  std::shared_ptr<const Snapshot> now = (*state)->Current();
  EXPECT_GT(now->version, before);
  EXPECT_EQ(now->view.version(), now->version);
  EXPECT_EQ(MemberIds(*now), std::set<std::string>{"n1"});
  EXPECT_EQ(now->ring.members().size(), 1u);
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0], now);

  // A heartbeat that changes nothing publishes nothing.
  ASSERT_TRUE((*state)->Heartbeat("n1").ok());
  EXPECT_EQ((*state)->Current(), now);
  EXPECT_EQ(heard.size(), 1u);

  (*state)->RemoveListener(listener);
  ASSERT_TRUE((*state)->Join("n2", "127.0.0.1:7002").ok());
  EXPECT_EQ(heard.size(), 1u);
}

TEST(ProxyStateTest, ReadersDoNotWaitForTheMembershipsSyncedWrite) {
  TempDir dir;
  HeldSyncEnv env;
  auto state = ProxyState::Open(Options(dir.path(), &env));
  ASSERT_TRUE(state.ok()) << state.status();
  const uint64_t before = (*state)->Current()->version;

  env.Hold();
  std::thread join([&] { EXPECT_TRUE((*state)->Join("n1", "a:1").ok()); });
  env.AwaitWaitingSync();
  // The join holds the table's lock across its sync; a reader must not.
  absl::Notification read;
  std::shared_ptr<const Snapshot> seen;
  std::thread reader([&] {
    seen = (*state)->Current();
    read.Notify();
  });
  const bool answered = read.WaitForNotificationWithTimeout(absl::Seconds(10));
  env.Release();
  reader.join();
  join.join();
  ASSERT_TRUE(answered) << "Current() waited for a disk sync";
  // Published only once durable: the reader saw the view before the join.
  EXPECT_EQ(seen->version, before);
  EXPECT_EQ(MemberIds(*(*state)->Current()), std::set<std::string>{"n1"});
}

TEST(ProxyStateTest, ATableOfAnEarlierVersionLoadsItsLeftNodesWithoutAddress) {
  // Before left/<id> kept the address it had, its value was empty.
  TempDir dir;
  {
    leveldb::Options options;
    options.create_if_missing = true;
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(options, dir.path(), &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    ASSERT_TRUE(db->Put({}, "member/n1", "a:1").ok());
    ASSERT_TRUE(db->Put({}, "left/n2", "").ok());
    ASSERT_TRUE(db->Put({}, "meta/version", "7").ok());
  }
  auto state = ProxyState::Open(Options(dir.path()));
  ASSERT_TRUE(state.ok()) << state.status();
  std::shared_ptr<const Snapshot> restored = (*state)->Current();
  EXPECT_EQ(MemberIds(*restored), std::set<std::string>{"n1"});
  ASSERT_EQ(restored->view.left_size(), 1);
  EXPECT_EQ(restored->view.left(0), "n2");
  ASSERT_EQ(restored->view.left_nodes_size(), 1);
  EXPECT_EQ(restored->view.left_nodes(0).address(), "");
  EXPECT_GT(restored->version, 7u);
}

TEST(ProxyStateTest, ARestartRestoresTheTableAsANewerView) {
  TempDir dir;
  uint64_t version = 0;
  {
    auto state = ProxyState::Open(Options(dir.path()));
    ASSERT_TRUE(state.ok()) << state.status();
    ASSERT_TRUE((*state)->Join("n1", "a:1").ok());
    ASSERT_TRUE((*state)->Join("n2", "a:2").ok());
    ASSERT_TRUE((*state)->Join("n3", "a:3").ok());
    ASSERT_TRUE((*state)->Leave("n2").ok());
    version = (*state)->Current()->version;
  }
  auto state = ProxyState::Open(Options(dir.path()));
  ASSERT_TRUE(state.ok()) << state.status();
  std::shared_ptr<const Snapshot> restored = (*state)->Current();
  EXPECT_EQ(MemberIds(*restored), (std::set<std::string>{"n1", "n3"}));
  std::vector<std::string> left(restored->view.left().begin(),
                                restored->view.left().end());
  EXPECT_EQ(left, std::vector<std::string>{"n2"});
  // With the address it had, to follow its hand-off.
  ASSERT_EQ(restored->view.left_nodes_size(), 1);
  EXPECT_EQ(restored->view.left_nodes(0).id(), "n2");
  EXPECT_EQ(restored->view.left_nodes(0).address(), "a:2");
  // Subscribers must take the restored view as new.
  EXPECT_GT(restored->version, version);
}

TEST(ProxyStateTest, AChangeTheDiskRefusesIsReportedYetPublished) {
  TempDir dir;
  shoplist::testing::FaultEnv env;
  auto state = ProxyState::Open(Options(dir.path(), &env));
  ASSERT_TRUE(state.ok()) << state.status();
  env.SetFull(true);
  absl::Status joined = (*state)->Join("n1", "a:1");
  EXPECT_EQ(joined.code(), absl::StatusCode::kUnavailable) << joined;
  // The cluster goes on routing with the change.
  EXPECT_EQ(MemberIds(*(*state)->Current()), std::set<std::string>{"n1"});
}

}  // namespace
}  // namespace shoplist::proxy
