// Disk faults under the node's store, on real LevelDB through FaultEnv
// (tests/support/fault_env.h):
// - power loss at many points of a concurrent workload: what was
//   acknowledged survives, and nothing unacknowledged leaves a state that
//   does not decode;
// - a full disk: writes are refused with UNAVAILABLE and never
//   acknowledged, reads go on, and writes resume when space returns;
// - a damaged table file: the lists in it answer DATA_LOSS, the others
//   are served, and a whole state from a replica refills a damaged one.
#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "crdt/list_id.h"
#include "crdt/list_state.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "services/proxy/proxy_state.h"
#include "storage/recovering_db.h"
#include "storage/replica_store.h"
#include "tests/support/fault_env.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace shoplist::storage {
namespace {

using ::shoplist::testing::FaultEnv;
using ::shoplist::testing::TempDir;

constexpr crdt::ReplicaId kWriter = 0xD15C;

StoreOptions OnEnv(leveldb::Env* env) {
  StoreOptions options;
  options.env = env;
  return options;
}

// Large lists whose logs fold often: past 6 records, and when quiet for
// 2 ms, so that power goes while logs are appended and folded.
StoreOptions FoldingOnEnv(leveldb::Env* env) {
  StoreOptions options = OnEnv(env);
  options.fold = {.max_log_records = 6, .quiet = absl::Milliseconds(2)};
  return options;
}

// What the workload had acknowledged when the power went.
struct Acknowledged {
  absl::Mutex mu;
  std::map<std::string, std::vector<crdt::ListState>> deltas;  // by list
  std::map<std::string, std::vector<crdt::ListState>> hints;
  std::map<std::string, uint64_t> counters;  // largest reserved, by list
  uint64_t replica_id = 0;
  int merges = 0;
};

// One run: `ops` random writes (bursts of concurrent merges, hints,
// counters) to a few lists; acknowledgements count only while powered.
// With `initial_items`, each list is first written with that many items
// (over 1 KiB from about 25: later writes append to its log).
void Workload(ReplicaStore& store, FaultEnv& env, uint32_t seed, int ops,
              Acknowledged& acked, int initial_items = 0) {
  std::mt19937 rng(seed);
  std::vector<std::string> lists;
  for (int i = 0; i < 6; ++i) lists.push_back(*crdt::NewListId());
  std::map<std::string, crdt::ListState> mine;  // the writer's own replicas
  absl::StatusOr<uint64_t> id = store.ReplicaId();
  if (id.ok() && !env.powered_off()) acked.replica_id = *id;
  int counter = 0;
  for (int i = 0; i < initial_items; ++i) {
    for (const std::string& list : lists) {
      crdt::ListState delta =
          *mine[list].Add(kWriter, absl::StrCat("stock ", i), 1);
      if (i + 1 < initial_items) continue;
      // The whole list at once, as a replica's state arrives.
      if (store.Merge(list, mine[list]).ok() && !env.powered_off()) {
        absl::MutexLock lock(&acked.mu);
        acked.deltas[list].push_back(mine[list]);
        ++acked.merges;
      }
    }
  }
  for (int done = 0; done < ops;) {
    const int kind = static_cast<int>(rng() % 10);
    const std::string& list = lists[rng() % lists.size()];
    if (kind < 7) {
      // A burst of merges the commit thread groups into one fsync.
      const int burst = 1 + static_cast<int>(rng() % 8);
      std::atomic<int> pending{burst};
      absl::Notification all_done;
      for (int b = 0; b < burst; ++b, ++done) {
        const std::string& to = lists[rng() % lists.size()];
        crdt::ListState delta =
            *mine[to].Add(kWriter, absl::StrCat("item", ++counter), 1);
        store.MergeAsync(
            to, delta,
            [&, to, delta](const absl::StatusOr<crdt::ListState>& merged) {
              if (merged.ok() && !env.powered_off()) {
                absl::MutexLock lock(&acked.mu);
                acked.deltas[to].push_back(delta);
                ++acked.merges;
              }
              if (--pending == 0) all_done.Notify();
            },
            nullptr);
      }
      all_done.WaitForNotification();
    } else if (kind < 9) {
      crdt::ListState delta =
          *mine[list].Add(kWriter, absl::StrCat("hinted", ++counter), 1);
      if (store.AddHint("n9", list, delta).ok() && !env.powered_off()) {
        absl::MutexLock lock(&acked.mu);
        acked.hints[list].push_back(delta);
      }
      ++done;
    } else {
      absl::StatusOr<uint64_t> c = store.ReserveCounter(list, 0, 2);
      if (c.ok() && !env.powered_off()) {
        absl::MutexLock lock(&acked.mu);
        acked.counters[list] = std::max(acked.counters[list], *c + 1);
      }
      ++done;
    }
  }
}

// Everything acknowledged is in the store, and every stored state decodes.
void CheckSurvived(ReplicaStore& store, Acknowledged& acked, int* checked,
                   int* with_logs = nullptr) {
  absl::MutexLock lock(&acked.mu);
  for (const auto& [list, deltas] : acked.deltas) {
    absl::StatusOr<crdt::ListState> state = store.Get(list);
    ASSERT_TRUE(state.ok()) << list << ": " << state.status();
    for (const crdt::ListState& delta : deltas) {
      crdt::ListState with = *state;
      with.Merge(delta);
      EXPECT_EQ(with, *state)
          << "an acknowledged merge into " << list << " was lost";
      ++*checked;
    }
  }
  for (const auto& [list, deltas] : acked.hints) {
    absl::StatusOr<std::optional<crdt::ListState>> held = store.HintsFor(list);
    ASSERT_TRUE(held.ok()) << held.status();
    ASSERT_TRUE(held->has_value()) << "acknowledged hints for " << list;
    for (const crdt::ListState& delta : deltas) {
      crdt::ListState with = **held;
      with.Merge(delta);
      EXPECT_EQ(with, **held) << "an acknowledged hint was lost";
      ++*checked;
    }
  }
  for (const auto& [list, last] : acked.counters) {
    absl::StatusOr<uint64_t> next = store.ReserveCounter(list, 0, 1);
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_GT(*next, last) << "a reserved counter was handed out again";
    ++*checked;
  }
  if (acked.replica_id != 0) {
    absl::StatusOr<uint64_t> id = store.ReplicaId();
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(*id, acked.replica_id) << "the replica id changed";
  }
  // Nothing unacknowledged left a state that does not decode.
  int lists = 0;
  ASSERT_TRUE(
      store
          .ScanLists([&](const std::string& id, const StoredList& stored) {
            EXPECT_TRUE(store.Get(id).ok()) << id;
            ++lists;
            if (with_logs && !stored.log.empty()) ++*with_logs;
          })
          .ok());
  EXPECT_TRUE(store.CountHints().ok());
}

// Power lost at kPoints syncs spread over a run of the workload; with
// `initial_items`, on large lists whose writes go to their logs.
void PowerLossAtManyPoints(int initial_items,
                           StoreOptions (*options)(leveldb::Env*)) {
  constexpr int kOps = 150;
  // How many syncs a whole run makes, to spread the crash points over it.
  int total_syncs = 0;
  {
    TempDir dir;
    FaultEnv env;
    auto store = OpenLevelDbStore(dir.path(), options(&env));
    ASSERT_TRUE(store.ok()) << store.status();
    Acknowledged acked;
    Workload(**store, env, 1, kOps, acked, initial_items);
    total_syncs = env.syncs();
  }
  ASSERT_GT(total_syncs, 20);
  constexpr int kPoints = 40;
  int checked = 0, acknowledged = 0, reopened = 0, with_logs = 0;
  for (int p = 0; p < kPoints; ++p) {
    const int at_sync = 1 + p * total_syncs / kPoints;
    SCOPED_TRACE(::testing::Message() << "power lost at sync " << at_sync);
    TempDir dir;
    FaultEnv env;
    Acknowledged acked;
    {
      auto store = OpenLevelDbStore(dir.path(), options(&env));
      ASSERT_TRUE(store.ok()) << store.status();
      env.PowerOffAtSync(at_sync);
      Workload(**store, env, 100 + p, kOps, acked, initial_items);
    }  // closed: what it writes on the way out is lost too
    ASSERT_TRUE(env.DropUnsyncedData().ok());
    auto store = OpenLevelDbStore(dir.path());
    ASSERT_TRUE(store.ok()) << "after the power loss: " << store.status();
    ++reopened;
    CheckSurvived(**store, acked, &checked, &with_logs);
    acknowledged += acked.merges;
    // And it takes writes again.
    crdt::ListState fresh;
    EXPECT_TRUE(
        (*store)->Merge(*crdt::NewListId(), *fresh.Add(kWriter, "x", 1)).ok());
  }
  std::printf(
      "power loss: %d crash points over %d syncs, %d acknowledged merges, %d "
      "acknowledged effects checked after reopening, 0 lost; %d lists "
      "reopened with a log\n",
      reopened, total_syncs, acknowledged, checked, with_logs);
  EXPECT_EQ(reopened, kPoints);
  EXPECT_GT(checked, kPoints * 10);
  if (initial_items > 0) {
    EXPECT_GT(with_logs, 0) << "no log was exercised";
  }
}

TEST(DiskFaultTest, PowerLossAtManyPointsKeepsEveryAcknowledgedWrite) {
  PowerLossAtManyPoints(/*initial_items=*/0, &OnEnv);
}

// The same on lists large enough to keep logs, folded every few writes and
// whenever the workload pauses: neither an append nor a fold cut short
// loses what was acknowledged.
TEST(DiskFaultTest, PowerLossAtManyPointsKeepsEveryWriteToListLogs) {
  PowerLossAtManyPoints(/*initial_items=*/700, &FoldingOnEnv);
}

TEST(DiskFaultTest, AFullDiskRefusesWritesKeepsReadsAndRecovers) {
  TempDir dir;
  FaultEnv env;
  auto opened = OpenLevelDbStore(dir.path(), OnEnv(&env));
  ASSERT_TRUE(opened.ok()) << opened.status();
  ReplicaStore& store = **opened;
  const std::string list = *crdt::NewListId();
  crdt::ListState alice;
  ASSERT_TRUE(store.Merge(list, *alice.Add(kWriter, "milk", 1)).ok());
  const crdt::ListState stored = alice;

  env.SetFull(true);
  crdt::ListState eggs = *alice.Add(kWriter, "eggs", 1);
  absl::StatusOr<crdt::ListState> refused = store.Merge(list, eggs);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable)
      << refused.status();
  EXPECT_NE(refused.status().message().find("No space left"), std::string::npos)
      << refused.status();
  // Every kind of write is refused; reads still answer what is stored.
  EXPECT_EQ(store.AddHint("n2", list, eggs).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.ReserveCounter(list, 0, 1).status().code(),
            absl::StatusCode::kUnavailable);
  absl::StatusOr<crdt::ListState> read = store.Get(list);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, stored);

  env.SetFull(false);
  absl::StatusOr<crdt::ListState> resumed;
  const bool recovered = shoplist::testing::WaitFor(absl::Seconds(10), [&] {
    resumed = store.Merge(list, eggs);
    return resumed.ok();
  });
  ASSERT_TRUE(recovered) << resumed.status();
  EXPECT_EQ(*resumed, alice);
  opened->reset();
  auto reopened = OpenLevelDbStore(dir.path());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(*(*reopened)->Get(list), alice);
}

// Flips bytes in the middle of every table file of `dir`.
int DamageTables(const std::string& dir) {
  int damaged = 0;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = d != nullptr ? readdir(d) : nullptr) {
    std::string name = e->d_name;
    if (name.size() < 4 || name.substr(name.size() - 4) != ".ldb") continue;
    std::fstream file(dir + "/" + name,
                      std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(0, std::ios::end);
    const std::streamoff size = file.tellg();
    for (std::streamoff at = size / 8; at < size / 3; at += 97) {
      file.seekp(at);
      file.put('\x5a');
    }
    ++damaged;
  }
  if (d != nullptr) closedir(d);
  return damaged;
}

TEST(DiskFaultTest, ADamagedTableLosesItsListsOnlyAndReplicasRefillThem) {
  TempDir dir;
  std::map<std::string, crdt::ListState> lists;
  {
    auto store = OpenLevelDbStore(dir.path());
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 0; i < 200; ++i) {
      crdt::ListState s;
      s.Merge(*s.Create(kWriter, absl::StrCat("list ", i), 1));
      for (int k = 0; k < 5; ++k) {
        s.Merge(*s.Add(kWriter, absl::StrCat("item", k), 1 + k));
      }
      const std::string id = *crdt::NewListId();
      ASSERT_TRUE((*store)->Merge(id, s).ok());
      lists[id] = s;
    }
  }
  // Reopening turns the log into a table file.
  ASSERT_TRUE(OpenLevelDbStore(dir.path()).ok());
  ASSERT_GT(DamageTables(dir.path()), 0);

  auto store = OpenLevelDbStore(dir.path());
  ASSERT_TRUE(store.ok()) << store.status();
  int lost = 0, served = 0;
  for (const auto& [id, state] : lists) {
    absl::StatusOr<crdt::ListState> got = (*store)->Get(id);
    if (got.ok()) {
      EXPECT_EQ(*got, state) << id;
      ++served;
    } else {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss)
          << got.status();
      ++lost;
    }
  }
  std::printf("damaged table: %d lists answer DATA_LOSS, %d are served\n", lost,
              served);
  EXPECT_GT(lost, 0);
  EXPECT_GT(served, 0);
  // What anti-entropy does: a replica's whole state refills each one.
  for (const auto& [id, state] : lists) {
    ASSERT_TRUE((*store)->Merge(id, state).ok()) << id;
    absl::StatusOr<crdt::ListState> got = (*store)->Get(id);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, state);
  }
}

// LevelDB stops taking writes after a compaction reads a damaged block;
// RecoveringDb repairs the database and goes on, when asked to
// (repair_on_corruption); else every later write is DATA_LOSS (the CLI's
// home, which must not reuse dots).
void WriteThenDamageTables(const std::string& dir) {
  {
    auto db = RecoveringDb::Open(dir);
    ASSERT_TRUE(db.ok()) << db.status();
    for (int i = 0; i < 2000; ++i) {
      leveldb::WriteBatch write;
      write.Put(absl::StrCat("key", i), std::string(100, 'a' + i % 26));
      ASSERT_TRUE((*db)->Write(&write, "put").ok());
    }
  }
  {
    auto db = RecoveringDb::Open(dir);
    ASSERT_TRUE(db.ok());
  }
  ASSERT_GT(DamageTables(dir), 0);
}

TEST(DiskFaultTest, WithoutRepairADamagedBlockStopsWritesAsDataLoss) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(WriteThenDamageTables(dir.path()));
  auto db = RecoveringDb::Open(dir.path());
  ASSERT_TRUE(db.ok()) << db.status();
  (*(*db)->Get())->CompactRange(nullptr, nullptr);
  leveldb::WriteBatch write;
  write.Put("after", "compaction");
  absl::Status status = (*db)->Write(&write, "put");
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  // Still refused a while later: nothing was repaired behind the caller.
  absl::SleepFor(absl::Milliseconds(300));
  status = (*db)->Write(&write, "put");
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
}

TEST(DiskFaultTest, WritesGoOnAfterACompactionHitsADamagedBlock) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(WriteThenDamageTables(dir.path()));
  DbOptions repairing;
  repairing.repair_on_corruption = true;
  auto db = RecoveringDb::Open(dir.path(), repairing);
  ASSERT_TRUE(db.ok()) << db.status();
  (*(*db)->Get())->CompactRange(nullptr, nullptr);
  leveldb::WriteBatch write;
  write.Put("after", "compaction");
  absl::Status first = (*db)->Write(&write, "put");
  absl::Status status = first;
  const bool wrote = shoplist::testing::WaitFor(absl::Seconds(10), [&] {
    if (status.ok()) return true;
    status = (*db)->Write(&write, "put");
    return status.ok();
  });
  EXPECT_TRUE(wrote) << "first: " << first << ", last: " << status;
  std::string value;
  EXPECT_TRUE(
      (*(*db)->Get())->Get(leveldb::ReadOptions(), "after", &value).ok());
  EXPECT_EQ(value, "compaction");
}

// The proxy's membership: a join it acknowledged is there after a power
// loss, at any point.
TEST(DiskFaultTest, PowerLossKeepsEveryAcknowledgedJoin) {
  // Powers off at the `at_sync`-th sync after opening (0: never).
  auto run = [](const std::string& dir, FaultEnv& env, int at_sync,
                std::vector<std::string>* acked) {
    proxy::ProxyOptions options;
    options.proxy_id = "p0";
    options.data_dir = dir;
    options.env = &env;
    auto state = proxy::ProxyState::Open(options);
    ASSERT_TRUE(state.ok()) << state.status();
    if (at_sync > 0) env.PowerOffAtSync(at_sync);
    for (int i = 0; i < 12; ++i) {
      const std::string id = absl::StrCat("n", i);
      if ((*state)->Join(id, absl::StrCat("127.0.0.1:", 7100 + i)).ok() &&
          !env.powered_off()) {
        acked->push_back(id);
      }
    }
  };
  int total_syncs = 0;
  {
    TempDir dir;
    FaultEnv env;
    std::vector<std::string> acked;
    const int before = env.syncs();
    run(dir.path(), env, 0, &acked);
    total_syncs = env.syncs() - before;
  }
  ASSERT_GT(total_syncs, 5);
  int checked = 0;
  for (int at_sync = 1; at_sync <= total_syncs; ++at_sync) {
    SCOPED_TRACE(::testing::Message() << "power lost at sync " << at_sync);
    TempDir dir;
    FaultEnv env;
    std::vector<std::string> acked;
    run(dir.path(), env, at_sync, &acked);
    ASSERT_TRUE(env.DropUnsyncedData().ok());
    proxy::ProxyOptions options;
    options.proxy_id = "p0";
    options.data_dir = dir.path();
    auto state = proxy::ProxyState::Open(options);
    ASSERT_TRUE(state.ok()) << "after the power loss: " << state.status();
    std::set<std::string> members;
    for (const auto& m : (*state)->Current()->view.members()) {
      members.insert(m.node().id());
    }
    for (const std::string& id : acked) {
      EXPECT_TRUE(members.count(id)) << id << " was acknowledged and lost";
      ++checked;
    }
  }
  std::printf("proxy power loss: %d crash points, %d joins checked, 0 lost\n",
              total_syncs, checked);
  EXPECT_GT(checked, total_syncs);
}

}  // namespace
}  // namespace shoplist::storage
