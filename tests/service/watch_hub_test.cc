// WatchHub: Publish reaches exactly the watchers of the published list, and
// a removed watcher is never called again, even when Remove races a Publish
// on another thread.
#include "services/node/watch_hub.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "crdt/list_state.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoplist::node {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr crdt::ReplicaId kAlice = 0xA11CE;

// A state holding `count` of `item`.
crdt::ListState StateWith(const std::string& item, int64_t count) {
  crdt::ListState state;
  absl::StatusOr<crdt::ListState> delta = state.Add(kAlice, item, count);
  EXPECT_TRUE(delta.ok()) << delta.status();
  return state;
}

// A callback that appends every state it gets to `*got`. Callbacks run on
// the publishing thread; these tests publish from the test's own thread.
WatchHub::Callback Into(std::vector<crdt::ListState>* got) {
  return [got](const crdt::ListState& merged) { got->push_back(merged); };
}

TEST(WatchHubTest, PublishReachesOnlyWatchersOfThatList) {
  WatchHub hub;
  std::vector<crdt::ListState> first, second, other;
  hub.Add("list-a", Into(&first));
  hub.Add("list-a", Into(&second));
  hub.Add("list-b", Into(&other));

  const crdt::ListState milk = StateWith("milk", 2);
  hub.Publish("list-a", milk);
  EXPECT_THAT(first, ElementsAre(milk));
  EXPECT_THAT(second, ElementsAre(milk));
  EXPECT_THAT(other, IsEmpty());

  const crdt::ListState eggs = StateWith("eggs", 6);
  hub.Publish("list-b", eggs);
  EXPECT_THAT(first, ElementsAre(milk));
  EXPECT_THAT(other, ElementsAre(eggs));
}

TEST(WatchHubTest, PublishWithoutWatchersDoesNothing) {
  WatchHub hub;
  std::vector<crdt::ListState> got;
  hub.Add("list-a", Into(&got));
  hub.Publish("list-c", StateWith("milk", 1));
  EXPECT_THAT(got, IsEmpty());
}

TEST(WatchHubTest, SizeCountsWatchersOfEveryList) {
  WatchHub hub;
  EXPECT_EQ(hub.size(), 0u);
  std::vector<crdt::ListState> got;
  int a = hub.Add("list-a", Into(&got));
  int b = hub.Add("list-a", Into(&got));
  int c = hub.Add("list-b", Into(&got));
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);
  EXPECT_NE(a, c);
  EXPECT_EQ(hub.size(), 3u);
  hub.Remove(b);
  EXPECT_EQ(hub.size(), 2u);
  // Removing an unknown or already removed id changes nothing.
  hub.Remove(b);
  hub.Remove(c + 100);
  EXPECT_EQ(hub.size(), 2u);
  hub.Remove(a);
  hub.Remove(c);
  EXPECT_EQ(hub.size(), 0u);
}

TEST(WatchHubTest, RemovedWatcherIsNotCalledOthersStillAre) {
  WatchHub hub;
  std::vector<crdt::ListState> removed, kept;
  int id = hub.Add("list-a", Into(&removed));
  hub.Add("list-a", Into(&kept));
  const crdt::ListState before = StateWith("milk", 1);
  hub.Publish("list-a", before);
  hub.Remove(id);
  const crdt::ListState after = StateWith("milk", 3);
  hub.Publish("list-a", after);
  EXPECT_THAT(removed, ElementsAre(before));
  EXPECT_THAT(kept, ElementsAre(before, after));
}

TEST(WatchHubTest, RemoveOfOneWatcherKeepsAnotherOfTheSameList) {
  // Two watchers of one list share the list's key: Remove must take out
  // the right one whichever was added first.
  WatchHub hub;
  std::vector<crdt::ListState> first, second;
  hub.Add("list-a", Into(&first));
  int later = hub.Add("list-a", Into(&second));
  hub.Remove(later);
  const crdt::ListState milk = StateWith("milk", 1);
  hub.Publish("list-a", milk);
  EXPECT_THAT(first, ElementsAre(milk));
  EXPECT_THAT(second, IsEmpty());
}

TEST(WatchHubTest, CallbackNeverRunsAfterRemoveRacingPublish) {
  constexpr int kRounds = 300;
  WatchHub hub;
  const crdt::ListState milk = StateWith("milk", 1);
  std::atomic<bool> stop{false};
  std::atomic<int> late_calls{0};
  // Publishes to list-a over and over while the test adds and removes
  // watchers of it.
  std::thread publisher([&] {
    while (!stop.load()) hub.Publish("list-a", milk);
  });

  for (int round = 0; round < kRounds; ++round) {
    // Shared with the callback, so a call after Remove is seen and does no
    // harm.
    auto removed = std::make_shared<std::atomic<bool>>(false);
    auto called = std::make_shared<absl::Notification>();
    int id = hub.Add("list-a",
                     [removed, called, &late_calls](const crdt::ListState&) {
                       if (removed->load()) late_calls.fetch_add(1);
                       if (!called->HasBeenNotified()) called->Notify();
                       std::this_thread::yield();
                       if (removed->load()) late_calls.fetch_add(1);
                     });
    // Remove while publishes to this watcher are under way.
    called->WaitForNotification();
    hub.Remove(id);
    removed->store(true);
  }
  stop.store(true);
  publisher.join();
  EXPECT_EQ(late_calls.load(), 0);
  EXPECT_EQ(hub.size(), 0u);
}

}  // namespace
}  // namespace shoplist::node
