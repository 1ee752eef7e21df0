// KeyedSerializer: one task at a time per key, in arrival order, the next
// started by the running one's `finished`; keys independent of each other.
#include "services/node/keyed_serializer.h"

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoplist::node {
namespace {

using ::testing::ElementsAre;

// Tasks that record when they start and keep their `finished` for the test
// to call.
class Recorder {
 public:
  KeyedSerializer::Task Task(std::string name) {
    return [this, name = std::move(name)](KeyedSerializer::Finished finished) {
      absl::MutexLock lock(&mu_);
      started_.push_back(name);
      finished_.push_back(std::move(finished));
    };
  }

  std::vector<std::string> started() {
    absl::MutexLock lock(&mu_);
    return started_;
  }

  // The `finished` of the i-th task to start.
  KeyedSerializer::Finished finished(size_t i) {
    absl::MutexLock lock(&mu_);
    return finished_.at(i);
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> started_ ABSL_GUARDED_BY(mu_);
  std::vector<KeyedSerializer::Finished> finished_ ABSL_GUARDED_BY(mu_);
};

TEST(KeyedSerializerTest, IdleKeyRunsTaskAtOnce) {
  KeyedSerializer serializer;
  Recorder tasks;
  serializer.Run("a", tasks.Task("a1"));
  EXPECT_THAT(tasks.started(), ElementsAre("a1"));
  tasks.finished(0)();
}

TEST(KeyedSerializerTest, SameKeyWaitsUntilRunningTaskFinishes) {
  KeyedSerializer serializer;
  Recorder tasks;
  serializer.Run("a", tasks.Task("a1"));
  serializer.Run("a", tasks.Task("a2"));
  EXPECT_THAT(tasks.started(), ElementsAre("a1"));
  tasks.finished(0)();
  EXPECT_THAT(tasks.started(), ElementsAre("a1", "a2"));
  tasks.finished(1)();
}

TEST(KeyedSerializerTest, SameKeyRunsOneAtATimeInArrivalOrder) {
  KeyedSerializer serializer;
  Recorder tasks;
  serializer.Run("a", tasks.Task("a1"));
  serializer.Run("a", tasks.Task("a2"));
  serializer.Run("a", tasks.Task("a3"));
  serializer.Run("a", tasks.Task("a4"));
  EXPECT_THAT(tasks.started(), ElementsAre("a1"));
  tasks.finished(0)();
  EXPECT_THAT(tasks.started(), ElementsAre("a1", "a2"));
  tasks.finished(1)();
  EXPECT_THAT(tasks.started(), ElementsAre("a1", "a2", "a3"));
  tasks.finished(2)();
  EXPECT_THAT(tasks.started(), ElementsAre("a1", "a2", "a3", "a4"));
  tasks.finished(3)();
}

TEST(KeyedSerializerTest, DifferentKeysDoNotWaitForEachOther) {
  KeyedSerializer serializer;
  Recorder tasks;
  serializer.Run("a", tasks.Task("a1"));
  serializer.Run("b", tasks.Task("b1"));
  serializer.Run("a", tasks.Task("a2"));
  serializer.Run("c", tasks.Task("c1"));
  // a1 still runs; b1 and c1 started anyway, a2 waits.
  EXPECT_THAT(tasks.started(), ElementsAre("a1", "b1", "c1"));
  // Finishing b1 starts nothing of a's.
  tasks.finished(1)();
  EXPECT_THAT(tasks.started(), ElementsAre("a1", "b1", "c1"));
  tasks.finished(0)();
  EXPECT_THAT(tasks.started(), ElementsAre("a1", "b1", "c1", "a2"));
  tasks.finished(2)();
  tasks.finished(3)();
}

TEST(KeyedSerializerTest, DifferentKeysRunAtTheSameTime) {
  KeyedSerializer serializer;
  absl::Notification a_started, release_a;
  // a's task occupies another thread until released.
  std::thread runner([&] {
    serializer.Run("a", [&](KeyedSerializer::Finished finished) {
      a_started.Notify();
      release_a.WaitForNotification();
      finished();
    });
  });
  a_started.WaitForNotification();
  std::atomic<bool> b_ran{false};
  serializer.Run("b", [&](KeyedSerializer::Finished finished) {
    b_ran.store(true);
    finished();
  });
  // b ran while a was still running.
  EXPECT_TRUE(b_ran.load());
  release_a.Notify();
  runner.join();
}

TEST(KeyedSerializerTest, FinishedFromAnotherThreadStartsTheNext) {
  KeyedSerializer serializer;
  Recorder tasks;
  serializer.Run("a", tasks.Task("a1"));
  serializer.Run("a", tasks.Task("a2"));
  std::vector<std::string> seen_by_finisher;
  std::thread finisher([&] {
    tasks.finished(0)();
    seen_by_finisher = tasks.started();
  });
  finisher.join();
  // a2 had started by the time a1's `finished` returned on that thread.
  EXPECT_THAT(seen_by_finisher, ElementsAre("a1", "a2"));
  tasks.finished(1)();
}

TEST(KeyedSerializerTest, KeyIsIdleAgainAfterItsLastTaskFinishes) {
  KeyedSerializer serializer;
  Recorder tasks;
  serializer.Run("a", tasks.Task("a1"));
  serializer.Run("a", tasks.Task("a2"));
  tasks.finished(0)();
  tasks.finished(1)();
  // Nothing runs or waits for "a": a new task starts at once.
  serializer.Run("a", tasks.Task("a3"));
  EXPECT_THAT(tasks.started(), ElementsAre("a1", "a2", "a3"));
  tasks.finished(2)();
  serializer.Run("a", tasks.Task("a4"));
  EXPECT_THAT(tasks.started(), ElementsAre("a1", "a2", "a3", "a4"));
  tasks.finished(3)();
}

TEST(KeyedSerializerTest, ConcurrentRunsOfOneKeyNeverOverlapAndKeepOrder) {
  constexpr int kThreads = 4;
  constexpr int kTasksPerThread = 200;
  KeyedSerializer serializer;
  std::atomic<int> running{0};
  std::atomic<int> overlaps{0};
  absl::Mutex mu;
  std::vector<std::pair<int, int>> ran;  // guarded by mu
  absl::Notification go;

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      go.WaitForNotification();
      for (int i = 0; i < kTasksPerThread; ++i) {
        serializer.Run("a", [&, t, i](KeyedSerializer::Finished finished) {
          if (running.fetch_add(1) != 0) overlaps.fetch_add(1);
          {
            absl::MutexLock lock(&mu);
            ran.emplace_back(t, i);
          }
          running.fetch_sub(1);
          finished();
        });
      }
    });
  }
  go.Notify();
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(overlaps.load(), 0);
  absl::MutexLock lock(&mu);
  ASSERT_EQ(ran.size(), size_t{kThreads * kTasksPerThread});
  // Each thread's tasks ran in the order that thread submitted them.
  std::vector<int> next(kThreads, 0);
  for (const auto& [t, i] : ran) {
    EXPECT_EQ(i, next[t]) << "thread " << t;
    next[t] = i + 1;
  }
  // Every task finished, so the key is idle: the next runs at once.
  bool ran_at_once = false;
  serializer.Run("a", [&](KeyedSerializer::Finished finished) {
    ran_at_once = true;
    finished();
  });
  EXPECT_TRUE(ran_at_once);
}

}  // namespace
}  // namespace shoplist::node
