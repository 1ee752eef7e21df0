// A stored list's log (storage/leveldb_replica_store.h) against a real
// LevelDB in a temporary directory: a write to a large list appends its
// delta and leaves the base alone; duplicates append nothing; the log is
// folded when it passes half its base, past its record bound, and when
// the list goes quiet; logs survive reopening without their records being
// overwritten; readers (Get, the digest, the access record, a scan) see
// base and log joined; a damaged record is kept aside and refilled; and a
// node directory of each stored format loads (tests/fixtures).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "codec/list_codec.h"
#include "crdt/limits.h"
#include "crdt/list_state.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "merkle/state_digest.h"
#include "storage/replica_store.h"
#include "tests/support/lists.h"
#include "tests/support/temp_dir.h"

namespace shoplist::storage {
namespace {

using shoplist::testing::ListId;
using shoplist::testing::WantedOf;

constexpr crdt::ReplicaId kAlice = 0xA11CE;
constexpr crdt::ReplicaId kBob = 0xB0B;
// Large enough that its base is not rewritten with a write (over 1 KiB).
constexpr int kLargeItems = 800;

std::string Encode(const crdt::ListState& state) {
  v1::ListState message;
  codec::EncodeState(state, &message);
  return message.SerializeAsString();
}

size_t LogBytes(const StoredList& stored) {
  size_t n = 0;
  for (const std::string& record : stored.log) n += record.size();
  return n;
}

class ListLogTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    StoreOptions options;
    options.fold = fold_;
    options.state_cache_bytes = cache_bytes_;
    absl::StatusOr<std::unique_ptr<ReplicaStore>> store =
        OpenLevelDbStore(dir_.path(), std::move(options));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void Reopen() {
    store_.reset();
    Open();
  }

  // A list of kLargeItems items, stored; `model` is the writer's replica.
  std::string StoreLargeList(crdt::ListState& model) {
    const std::string id = ListId();
    crdt::ListState create = *model.Create(kAlice, "big", 1);
    for (int i = 0; i < kLargeItems; ++i) {
      create.Merge(*model.Add(kAlice, absl::StrCat("item number ", i), 1));
    }
    EXPECT_TRUE(store_->Merge(id, create).ok());
    return id;
  }

  // Writes `bytes` as record `seq` of `list_id`'s log with LevelDB
  // directly, the store closed meanwhile (LevelDB locks its directory).
  void PutRawRecord(const std::string& list_id, absl::string_view seq,
                    const std::string& bytes) {
    store_.reset();
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), dir_.path(), &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    const std::string key =
        absl::StrCat("list/", list_id, std::string(1, '\0'), seq);
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), key, bytes).ok());
    db.reset();
    Open();
  }

  // Folds run on the commit thread after a batch's answers: a merge queued
  // behind them returns once they are done.
  void Settle() {
    crdt::ListState other;
    ASSERT_TRUE(store_->Merge(settle_id_, *other.Create(kBob, "x", 1)).ok());
  }

  StoredList Stored(const std::string& id) {
    absl::StatusOr<StoredList> stored = store_->GetStored(id);
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? *std::move(stored) : StoredList();
  }

  void ExpectStoredIs(const std::string& id, const crdt::ListState& model) {
    absl::StatusOr<crdt::ListState> got = store_->Get(id);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, model);
    // The digest of the parts is the digest of their join.
    absl::StatusOr<std::string> digest = StoredDigest(Stored(id), id);
    ASSERT_TRUE(digest.ok()) << digest.status();
    EXPECT_EQ(*digest, *StoredDigest(Encode(model), id));
  }

  size_t cache_bytes_ = kDefaultStateCacheBytes;
  FoldPolicy fold_{.max_log_records = 1024, .quiet = absl::InfiniteDuration()};
  shoplist::testing::TempDir dir_;
  std::unique_ptr<ReplicaStore> store_;
  const std::string settle_id_ = ListId();
};

TEST_F(ListLogTest, AWriteToALargeListAppendsItsDeltaAndLeavesTheBase) {
  crdt::ListState model;
  const std::string id = StoreLargeList(model);
  Settle();
  const StoredList created = Stored(id);
  EXPECT_TRUE(created.log.empty()) << "a new list is stored as its base";
  EXPECT_GT(created.base.size(), 4u << 10);

  crdt::ListState delta = *model.Add(kBob, "eggs", 6);
  absl::StatusOr<crdt::ListState> merged = store_->Merge(id, delta);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(*merged, model);
  const StoredList after = Stored(id);
  EXPECT_EQ(after.base, created.base) << "the base was rewritten";
  ASSERT_EQ(after.log.size(), 1u);
  EXPECT_EQ(*DecodeStored(after.log[0], "record"), delta);
  EXPECT_LT(after.log[0].size(), 200u);
  ExpectStoredIs(id, model);
  EXPECT_EQ(WantedOf(*store_->Get(id), "eggs"), 6);
}

TEST_F(ListLogTest, ADeltaTheListHoldsAppendsNothing) {
  crdt::ListState model;
  const std::string id = StoreLargeList(model);
  crdt::ListState delta = *model.Add(kBob, "eggs", 6);
  ASSERT_TRUE(store_->Merge(id, delta).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store_->Merge(id, delta).ok());
  ASSERT_TRUE(store_->Merge(id, model).ok());  // a whole replica's state
  EXPECT_EQ(Stored(id).log.size(), 1u);
  ExpectStoredIs(id, model);
}

TEST_F(ListLogTest, TheLogIsFoldedOnceItPassesHalfItsBase) {
  crdt::ListState model;
  const std::string id = StoreLargeList(model);
  Settle();
  size_t base = Stored(id).base.size();
  int folds = 0;
  for (int i = 0; i < 600; ++i) {
    ASSERT_TRUE(
        store_->Merge(id, *model.Add(kBob, absl::StrCat("extra ", i), 1)).ok());
    Settle();
    const StoredList stored = Stored(id);
    // Bounded: at most half the base (plus the record that passed it, which
    // a fold takes right after the answer).
    EXPECT_LE(2 * LogBytes(stored), stored.base.size()) << i;
    if (stored.log.empty()) {
      ++folds;
      EXPECT_GT(stored.base.size(), base);
      base = stored.base.size();
    }
  }
  EXPECT_GE(folds, 1);
  ExpectStoredIs(id, model);
  Reopen();
  ExpectStoredIs(id, model);
}

TEST_F(ListLogTest, TheLogHoldsAtMostItsBoundOfRecords) {
  fold_.max_log_records = 4;
  Reopen();
  crdt::ListState model;
  const std::string id = StoreLargeList(model);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        store_->Merge(id, *model.Add(kBob, absl::StrCat("extra ", i), 1)).ok());
    Settle();
    EXPECT_LE(Stored(id).log.size(), 4u) << i;
  }
  ExpectStoredIs(id, model);
}

TEST_F(ListLogTest, AQuietListIsFolded) {
  fold_.quiet = absl::Milliseconds(50);
  Reopen();
  crdt::ListState model;
  const std::string id = StoreLargeList(model);
  ASSERT_TRUE(store_->Merge(id, *model.Add(kBob, "eggs", 6)).ok());
  ASSERT_TRUE(store_->Merge(id, *model.Add(kBob, "milk", 1)).ok());
  // Folded off any request, within a few quiet periods.
  for (int i = 0; i < 100 && !Stored(id).log.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(Stored(id).log.empty());
  EXPECT_EQ(*DecodeStored(Stored(id).base, "base"), model);
}

TEST_F(ListLogTest, ALogSurvivesReopeningAndItsRecordsAreNeverOverwritten) {
  crdt::ListState model;
  const std::string id = StoreLargeList(model);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        store_->Merge(id, *model.Add(kBob, absl::StrCat("a", i), 1)).ok());
  }
  Reopen();
  ExpectStoredIs(id, model);
  EXPECT_EQ(Stored(id).log.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        store_->Merge(id, *model.Add(kBob, absl::StrCat("b", i), 1)).ok());
  }
  EXPECT_EQ(Stored(id).log.size(), 5u);
  Reopen();
  ExpectStoredIs(id, model);
  // The cold write above read base and log; the next one keeps both.
  ASSERT_TRUE(store_->Merge(id, *model.Add(kAlice, "c", 1)).ok());
  ExpectStoredIs(id, model);
}

TEST_F(ListLogTest, ScanListsGivesEachListItsBaseAndLog) {
  crdt::ListState a, b;
  const std::string first = StoreLargeList(a);
  const std::string second = StoreLargeList(b);
  ASSERT_TRUE(store_->Merge(first, *a.Add(kBob, "eggs", 1)).ok());
  ASSERT_TRUE(store_->Merge(second, *b.Add(kBob, "milk", 1)).ok());
  ASSERT_TRUE(store_->Merge(second, *b.Add(kBob, "tea", 1)).ok());
  std::map<std::string, StoredList> scanned;
  ASSERT_TRUE(store_
                  ->ScanLists([&](const std::string& id, const StoredList& s) {
                    EXPECT_FALSE(scanned.contains(id)) << id << " twice";
                    scanned[id] = s;
                  })
                  .ok());
  ASSERT_EQ(scanned.size(), 2u);
  EXPECT_EQ(scanned[first].log.size(), 1u);
  EXPECT_EQ(scanned[second].log.size(), 2u);
  EXPECT_EQ(*DecodeStored(scanned[first], "first"), a);
  EXPECT_EQ(*DecodeStored(scanned[second], "second"), b);
}

TEST_F(ListLogTest, TheAccessRecordInALogIsSeenWhenReadFromDisk) {
  crdt::ListState model;
  const std::string id = StoreLargeList(model);
  const std::string record(crdt::kAccessChars, 'a');
  ASSERT_TRUE(store_->Merge(id, *model.SetAccess(kAlice, record)).ok());
  ASSERT_EQ(Stored(id).log.size(), 1u);
  Reopen();  // the access records kept in memory are gone
  absl::StatusOr<std::optional<crdt::Register>> access =
      store_->StoredAccess(id);
  ASSERT_TRUE(access.ok() && access->has_value()) << access.status();
  EXPECT_EQ((*access)->value, record);
  // A deletion in the log leaves no record, as the tombstone has none.
  ASSERT_TRUE(store_->Merge(id, crdt::ListState::Tombstone()).ok());
  Reopen();
  EXPECT_FALSE((*store_->StoredAccess(id))->set());
  EXPECT_TRUE(store_->Get(id)->deleted());
}

TEST_F(ListLogTest, ADeletionFoldsTheListToItsTombstone) {
  crdt::ListState model;
  const std::string id = StoreLargeList(model);
  ASSERT_TRUE(store_->Merge(id, *model.Add(kBob, "eggs", 1)).ok());
  ASSERT_TRUE(store_->Merge(id, crdt::ListState::Tombstone()).ok());
  Settle();
  const StoredList stored = Stored(id);
  EXPECT_TRUE(stored.log.empty());
  EXPECT_EQ(*DecodeStored(stored.base, "base"), crdt::ListState::Tombstone());
  ExpectStoredIs(id, crdt::ListState::Tombstone());
}

TEST_F(ListLogTest, ADamagedRecordIsDataLossUntilAReplicaRefillsTheList) {
  crdt::ListState model;
  const std::string id = StoreLargeList(model);
  ASSERT_TRUE(store_->Merge(id, *model.Add(kBob, "eggs", 1)).ok());
  // The log's record, damaged.
  PutRawRecord(id, "0000000000000000", "\xff\xff");
  EXPECT_EQ(store_->Get(id).status().code(), absl::StatusCode::kDataLoss);
  // What anti-entropy does: a replica's whole state.
  ASSERT_TRUE(store_->Merge(id, *model.Add(kAlice, "milk", 1)).ok());
  ASSERT_TRUE(store_->Merge(id, model).ok());
  Settle();
  ExpectStoredIs(id, model);
  EXPECT_TRUE(Stored(id).log.empty());
}

// A merge's callback may merge again on the commit thread (Merge is safe
// there): when the first batch's list is due a fold, the fold must not
// write a base without the second write.
TEST_F(ListLogTest, AMergeFromACallbackIsKeptWhenItsListIsFolded) {
  fold_.max_log_records = 2;
  Reopen();
  crdt::ListState model;
  const std::string id = StoreLargeList(model);
  ASSERT_TRUE(store_->Merge(id, *model.Add(kBob, "first", 1)).ok());
  crdt::ListState due = *model.Add(kBob, "second", 1);  // the 2nd record
  crdt::ListState nested = *model.Add(kBob, "nested", 1);
  absl::Notification done;
  absl::Status nested_status;
  store_->MergeAsync(
      id, due,
      [&](const absl::StatusOr<crdt::ListState>& merged) {
        EXPECT_TRUE(merged.ok()) << merged.status();
        nested_status = store_->Merge(id, nested).status();
        done.Notify();
      },
      nullptr);
  done.WaitForNotification();
  ASSERT_TRUE(nested_status.ok()) << nested_status;
  Settle();
  ExpectStoredIs(id, model);
  EXPECT_EQ(WantedOf(*store_->Get(id), "nested"), 1);
  Reopen();
  ExpectStoredIs(id, model);
}

// A fold is prepared after a batch's answers and written with the next
// batch; a list whose fold waits must not leave the cache (read again from
// disk, it would append after records the fold deletes).
TEST_F(ListLogTest, FoldsSurviveListsLeavingTheCache) {
  cache_bytes_ = 1;  // one list at a time
  fold_.max_log_records = 2;
  Reopen();
  std::vector<crdt::ListState> models(3);
  std::vector<std::string> ids;
  for (crdt::ListState& model : models) ids.push_back(StoreLargeList(model));
  // Each round is one batch of all three, queued by the last answer of
  // the round before, so the next batch is waiting when a fold has just
  // been prepared (it is then written with it) while the others' caching
  // would push its list out.
  constexpr int kRounds = 12;
  absl::Notification all_done;
  std::atomic<int> pending{0};
  std::function<void(int)> round = [&](int r) {
    if (r == kRounds) {
      all_done.Notify();
      return;
    }
    pending = static_cast<int>(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      store_->MergeAsync(
          ids[i], *models[i].Add(kBob, absl::StrCat("r", r), 1),
          [&, r, i](const absl::StatusOr<crdt::ListState>& merged) {
            EXPECT_TRUE(merged.ok()) << merged.status();
            // What a reader finds right after the write.
            absl::StatusOr<crdt::ListState> got = store_->Get(ids[i]);
            EXPECT_TRUE(got.ok()) << "round " << r << ": " << got.status();
            if (got.ok() && merged.ok()) {
              EXPECT_EQ(*got, *merged);
            }
            if (--pending == 0) round(r + 1);
          },
          nullptr);
    }
  };
  round(0);
  all_done.WaitForNotification();
  for (size_t i = 0; i < ids.size(); ++i) ExpectStoredIs(ids[i], models[i]);
  Reopen();
  for (size_t i = 0; i < ids.size(); ++i) ExpectStoredIs(ids[i], models[i]);
}

// Records its marker does not name (left by a fold that deleted them in a
// version that did not, or by damage) are not part of the list.
TEST_F(ListLogTest, RecordsOutsideTheMarkerAreNotPartOfTheList) {
  crdt::ListState model;
  const std::string id = StoreLargeList(model);
  ASSERT_TRUE(store_->Merge(id, *model.Add(kBob, "eggs", 1)).ok());
  const std::string orphan_id = ListId();
  crdt::ListState other;
  const std::string record = Encode(*other.Add(kAlice, "stray", 1));
  PutRawRecord(id, "0000000000000063", record);
  PutRawRecord(orphan_id, "0000000000000000", record);
  ExpectStoredIs(id, model);
  EXPECT_EQ(store_->Get(orphan_id).status().code(),
            absl::StatusCode::kNotFound);
  std::map<std::string, StoredList> scanned;
  ASSERT_TRUE(store_
                  ->ScanLists([&](const std::string& list,
                                  const StoredList& s) { scanned[list] = s; })
                  .ok());
  ASSERT_EQ(scanned.size(), 1u) << "a list of orphans alone";
  EXPECT_EQ(*DecodeStored(scanned[id], "scanned"), model);
}

// Each directory under tests/fixtures/node-* was written by the node of
// the version it names and holds, as README there says: list A (base
// only, 3 items, the format of every version before logs), list B (600
// items with a log of 3 records), a hint and a reserved counter.
class NodeFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(NodeFixtureTest, ANodeDirectoryOfEachFormatLoads) {
  shoplist::testing::TempDir dir;
  std::filesystem::copy(std::filesystem::path(SHOPLIST_FIXTURES) / GetParam(),
                        dir.path(),
                        std::filesystem::copy_options::recursive |
                            std::filesystem::copy_options::overwrite_existing);
  absl::StatusOr<std::unique_ptr<ReplicaStore>> store =
      OpenLevelDbStore(dir.path());
  ASSERT_TRUE(store.ok()) << store.status();
  std::map<std::string, crdt::ListState> lists;
  ASSERT_TRUE((*store)
                  ->ScanLists([&](const std::string& id, const StoredList& s) {
                    absl::StatusOr<crdt::ListState> state = DecodeStored(s, id);
                    ASSERT_TRUE(state.ok()) << state.status();
                    lists[id] = *state;
                  })
                  .ok());
  const std::string a = "weeklyshoplistfixtureaaaaa";
  const std::string b = "biglistwithalogfixtureaaaa";
  ASSERT_EQ(lists.size(), 2u);
  ASSERT_TRUE(lists.contains(a) && lists.contains(b));
  EXPECT_EQ(lists[a].title()->value, "Weekly shop");
  EXPECT_EQ(lists[a].items().size(), 3u);
  EXPECT_EQ(WantedOf(lists[a], "eggs"), 6);
  EXPECT_EQ(lists[b].items().size(), 603u);
  EXPECT_EQ(WantedOf(lists[b], "extra 2"), 1);
  for (const auto& [id, state] : lists) {
    EXPECT_EQ(*(*store)->Get(id), state);
    // It takes writes as any list does, and keeps them across a reopening.
    crdt::ListState mine = state;
    ASSERT_TRUE(
        (*store)->Merge(id, *mine.Add(0xF1, "after the upgrade", 1)).ok());
  }
  store->reset();
  store = OpenLevelDbStore(dir.path());
  ASSERT_TRUE(store.ok()) << store.status();
  for (const auto& [id, state] : lists) {
    EXPECT_EQ(WantedOf(*(*store)->Get(id), "after the upgrade"), 1) << id;
  }
  absl::StatusOr<std::vector<Hint>> hints = (*store)->Hints(10);
  ASSERT_TRUE(hints.ok()) << hints.status();
  ASSERT_EQ(hints->size(), 1u);
  EXPECT_EQ((*hints)[0].owner, "node-9");
  EXPECT_EQ(WantedOf((*hints)[0].delta, "tea"), 1);
  absl::StatusOr<uint64_t> counter = (*store)->ReserveCounter(a, 0, 1);
  ASSERT_TRUE(counter.ok()) << counter.status();
  EXPECT_EQ(*counter, 6u) << "five were reserved";
}

INSTANTIATE_TEST_SUITE_P(Formats, NodeFixtureTest,
                         ::testing::Values("node-v30", "node-v31"));

}  // namespace
}  // namespace shoplist::storage
