// The LevelDB replica store against a real database in a temporary
// directory: merges, hints, node metadata, durability across reopening, and
// what a corrupted value does.
#include "storage/replica_store.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "codec/list_codec.h"
#include "crdt/limits.h"
#include "crdt/list_state.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "tests/support/lists.h"
#include "tests/support/temp_dir.h"

namespace shoplist::storage {
namespace {

using shoplist::testing::ListId;
using shoplist::testing::WantedOf;
using ::testing::ElementsAre;

constexpr crdt::ReplicaId kAlice = 0xA11CE;
constexpr crdt::ReplicaId kBob = 0xB0B;

class ReplicaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    absl::StatusOr<std::unique_ptr<ReplicaStore>> store =
        OpenLevelDbStore(dir_.path());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void Close() { store_.reset(); }
  void Reopen() {
    Close();
    Open();
  }

  // Writes `bytes` under `key` with LevelDB directly; the store must be
  // closed (LevelDB locks its directory).
  void PutRaw(const std::string& key, const std::string& bytes) {
    ASSERT_EQ(store_, nullptr);
    leveldb::Options options;
    leveldb::DB* raw = nullptr;
    leveldb::Status s = leveldb::DB::Open(options, dir_.path(), &raw);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::unique_ptr<leveldb::DB> db(raw);
    leveldb::WriteOptions sync;
    sync.sync = true;
    s = db->Put(sync, key, bytes);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  std::string GetRaw(const std::string& key) {
    EXPECT_EQ(store_, nullptr);
    leveldb::DB* raw = nullptr;
    leveldb::Status s =
        leveldb::DB::Open(leveldb::Options(), dir_.path(), &raw);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::unique_ptr<leveldb::DB> db(raw);
    std::string bytes;
    s = db->Get(leveldb::ReadOptions(), key, &bytes);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return bytes;
  }

  shoplist::testing::TempDir dir_;
  std::unique_ptr<ReplicaStore> store_;
};

// --- Lists ---

TEST_F(ReplicaStoreTest, GetOfUnknownListIsNotFound) {
  absl::StatusOr<crdt::ListState> got = store_->Get(ListId());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound) << got.status();
}

TEST_F(ReplicaStoreTest, MergeReturnsMergedStateAndGetReturnsIt) {
  const std::string id = ListId();
  crdt::ListState alice;
  crdt::ListState create = *alice.Create(kAlice, "groceries", 1);
  crdt::ListState add = *alice.Add(kAlice, "milk", 2);

  absl::StatusOr<crdt::ListState> merged = store_->Merge(id, create);
  ASSERT_TRUE(merged.ok()) << merged.status();
  merged = store_->Merge(id, add);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(*merged, alice);
  EXPECT_EQ(merged->View().title, "groceries");
  EXPECT_EQ(WantedOf(*merged, "milk"), 2);

  absl::StatusOr<crdt::ListState> got = store_->Get(id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, alice);
}

TEST_F(ReplicaStoreTest, MergeOfAnAlreadySeenDeltaKeepsTheState) {
  const std::string id = ListId();
  crdt::ListState alice;
  crdt::ListState add = *alice.Add(kAlice, "milk", 2);
  ASSERT_TRUE(store_->Merge(id, add).ok());
  absl::StatusOr<crdt::ListState> again = store_->Merge(id, add);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, alice);
  EXPECT_EQ(WantedOf(*store_->Get(id), "milk"), 2);
}

TEST_F(ReplicaStoreTest, ACheckSeesTheStateBeforeItsMergeAndCanRefuseIt) {
  const std::string id = ListId();
  crdt::ListState alice;
  ASSERT_TRUE(store_->Merge(id, *alice.Create(kAlice, "groceries", 1)).ok());
  const crdt::ListState milk = *alice.Add(kAlice, "milk", 2);
  const crdt::ListState eggs = *alice.Add(kAlice, "eggs", 1);
  // Two merges queued together (one batch, most likely): the first is
  // refused, the second goes in, and each hears its own answer.
  absl::Notification both;
  std::atomic<int> left{2};
  absl::Status refused, accepted;
  std::optional<crdt::ListState> seen;
  store_->MergeAsync(
      id, milk,
      [&](const absl::StatusOr<crdt::ListState>& r) {
        refused = r.status();
        if (--left == 0) both.Notify();
      },
      [&](const crdt::ListState& current) {
        seen = current;
        return absl::PermissionDeniedError("no");
      });
  store_->MergeAsync(
      id, eggs,
      [&](const absl::StatusOr<crdt::ListState>& r) {
        accepted = r.status();
        if (--left == 0) both.Notify();
      },
      [](const crdt::ListState&) { return absl::OkStatus(); });
  both.WaitForNotification();
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(accepted.ok()) << accepted;
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->View().title, "groceries");
  absl::StatusOr<crdt::ListState> got = store_->Get(id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(WantedOf(*got, "milk"), -1);  // never stored
  EXPECT_EQ(WantedOf(*got, "eggs"), 1);
}

TEST_F(ReplicaStoreTest, StoredAccessFollowsMergesAndSurvivesReopening) {
  const std::string id = ListId();
  absl::StatusOr<std::optional<crdt::Register>> none = store_->StoredAccess(id);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  crdt::ListState alice;
  ASSERT_TRUE(store_->Merge(id, *alice.Create(kAlice, "groceries", 1)).ok());
  absl::StatusOr<std::optional<crdt::Register>> open = store_->StoredAccess(id);
  ASSERT_TRUE(open.ok() && open->has_value());
  EXPECT_FALSE((*open)->set());  // an open list
  const std::string record(crdt::kAccessChars, 'a');
  ASSERT_TRUE(store_->Merge(id, *alice.SetAccess(kAlice, record)).ok());
  EXPECT_EQ((*store_->StoredAccess(id))->value, record);
  // A revocation replaces it at once.
  const std::string revoked(crdt::kAccessChars, 'b');
  ASSERT_TRUE(store_->Merge(id, *alice.SetAccess(kAlice, revoked)).ok());
  EXPECT_EQ((*store_->StoredAccess(id))->value, revoked);
  Reopen();  // cold: read from disk
  EXPECT_EQ((*store_->StoredAccess(id))->value, revoked);
}

TEST_F(ReplicaStoreTest, MergesFromTwoWritersAreJoinedNotOverwritten) {
  const std::string id = ListId();
  crdt::ListState alice;
  crdt::ListState bob;
  crdt::ListState alice_milk = *alice.Add(kAlice, "milk", 2);
  crdt::ListState alice_eggs = *alice.Add(kAlice, "eggs", 6);
  crdt::ListState bob_milk = *bob.Add(kBob, "milk", 3);
  crdt::ListState bob_bread = *bob.Add(kBob, "bread", 1);

  ASSERT_TRUE(store_->Merge(id, alice_milk).ok());
  ASSERT_TRUE(store_->Merge(id, bob_milk).ok());
  ASSERT_TRUE(store_->Merge(id, alice_eggs).ok());
  absl::StatusOr<crdt::ListState> merged = store_->Merge(id, bob_bread);
  ASSERT_TRUE(merged.ok()) << merged.status();

  crdt::ListState expected = alice;
  expected.Merge(bob);
  EXPECT_EQ(*merged, expected);
  EXPECT_EQ(WantedOf(*merged, "milk"), 5);
  EXPECT_EQ(WantedOf(*merged, "eggs"), 6);
  EXPECT_EQ(WantedOf(*merged, "bread"), 1);

  absl::StatusOr<crdt::ListState> got = store_->Get(id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, expected);
}

TEST_F(ReplicaStoreTest, ListsAreKeptApart) {
  const std::string a = ListId();
  const std::string b = ListId();
  crdt::ListState alice;
  ASSERT_TRUE(store_->Merge(a, *alice.Add(kAlice, "milk", 1)).ok());
  crdt::ListState bob;
  ASSERT_TRUE(store_->Merge(b, *bob.Add(kBob, "eggs", 2)).ok());
  EXPECT_EQ(*store_->Get(a), alice);
  EXPECT_EQ(*store_->Get(b), bob);
}

TEST_F(ReplicaStoreTest, ConcurrentMergesOnOneListLoseNothing) {
  constexpr int kThreads = 8;
  constexpr int kAddsPerThread = 50;
  const std::string id = ListId();

  absl::Mutex errors_mu;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const crdt::ReplicaId me = 1000 + static_cast<crdt::ReplicaId>(t);
      crdt::ListState local;
      for (int i = 0; i < kAddsPerThread; ++i) {
        // A new item per add: entries are cumulative, so a lost delta of an
        // item changed again later would go unnoticed on a shared item.
        absl::StatusOr<crdt::ListState> delta =
            local.Add(me, absl::StrCat("item-", t, "-", i), 1);
        absl::Status s = delta.status();
        if (s.ok()) s = store_->Merge(id, *delta).status();
        if (!s.ok()) {
          absl::MutexLock lock(&errors_mu);
          errors.push_back(s.ToString());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(errors, ElementsAre());

  absl::StatusOr<crdt::ListState> got = store_->Get(id);
  ASSERT_TRUE(got.ok()) << got.status();
  int64_t sum = 0;
  for (const auto& [name, item] : got->items()) sum += item.Wanted();
  EXPECT_EQ(sum, kThreads * kAddsPerThread);
  EXPECT_EQ(got->VisibleItems(),
            static_cast<size_t>(kThreads * kAddsPerThread));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 1; i <= kAddsPerThread; ++i) {
      crdt::Dot dot{1000 + static_cast<crdt::ReplicaId>(t),
                    static_cast<uint64_t>(i)};
      EXPECT_TRUE(got->context().Contains(dot))
          << "lost dot " << dot.replica << ":" << dot.counter;
    }
  }
}

TEST_F(ReplicaStoreTest, DataSurvivesReopening) {
  const std::string id = ListId();
  crdt::ListState alice;
  ASSERT_TRUE(store_->Merge(id, *alice.Create(kAlice, "party", 1)).ok());
  ASSERT_TRUE(store_->Merge(id, *alice.Add(kAlice, "chips", 4)).ok());
  crdt::ListState bob;
  crdt::ListState hint = *bob.Add(kBob, "salsa", 1);
  ASSERT_TRUE(store_->AddHint("n2", id, hint).ok());

  Reopen();

  absl::StatusOr<crdt::ListState> got = store_->Get(id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, alice);
  EXPECT_EQ(got->View().title, "party");
  absl::StatusOr<std::vector<Hint>> hints = store_->Hints(10);
  ASSERT_TRUE(hints.ok()) << hints.status();
  ASSERT_EQ(hints->size(), 1u);
  EXPECT_EQ((*hints)[0].owner, "n2");
  EXPECT_EQ((*hints)[0].list_id, id);
  EXPECT_EQ((*hints)[0].delta, hint);
}

TEST(ReplicaStoreListenerTest, ListenerSeesMergesThatChangeTheListOnly) {
  shoplist::testing::TempDir dir;
  std::vector<std::pair<std::string, crdt::ListState>> calls;
  absl::StatusOr<std::unique_ptr<ReplicaStore>> store = OpenLevelDbStore(
      dir.path(), StoreOptions{.on_merge =
                                   [&](const std::string& list_id,
                                       const crdt::ListState& s) {
                                     calls.emplace_back(list_id, s);
                                   },
                               .state_cache_bytes = kDefaultStateCacheBytes,
                               .env = nullptr,
                               .on_repair = nullptr,
                               .fold = {}});
  ASSERT_TRUE(store.ok()) << store.status();
  const std::string id = ListId();
  crdt::ListState alice;
  crdt::ListState create = *alice.Create(kAlice, "groceries", 1);
  crdt::ListState after_create = alice;
  crdt::ListState add = *alice.Add(kAlice, "milk", 2);

  ASSERT_TRUE((*store)->Merge(id, create).ok());
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].first, id);
  EXPECT_EQ(calls[0].second, after_create);

  ASSERT_TRUE((*store)->Merge(id, add).ok());
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].first, id);
  EXPECT_EQ(calls[1].second, alice);  // the merged state, not the delta
  // The listener sees exactly the state that was stored.
  std::vector<StoredList> scanned;
  ASSERT_TRUE((*store)
                  ->ScanLists([&](const std::string&, const StoredList& b) {
                    scanned.push_back(b);
                  })
                  .ok());
  ASSERT_EQ(scanned.size(), 1u);
  EXPECT_EQ(*DecodeStored(scanned[0], "the list"), calls[1].second);
  EXPECT_EQ(WantedOf(calls[1].second, "milk"), 2);

  // Deltas already merged change nothing: no call.
  ASSERT_TRUE((*store)->Merge(id, add).ok());
  ASSERT_TRUE((*store)->Merge(id, create).ok());
  EXPECT_EQ(calls.size(), 2u);
}

// --- Hints ---

TEST_F(ReplicaStoreTest, AddHintTwiceForOneOwnerAndListMerges) {
  const std::string id = ListId();
  crdt::ListState alice;
  crdt::ListState bob;
  crdt::ListState first = *alice.Add(kAlice, "milk", 2);
  crdt::ListState second = *bob.Add(kBob, "milk", 3);
  ASSERT_TRUE(store_->AddHint("n2", id, first).ok());
  ASSERT_TRUE(store_->AddHint("n2", id, second).ok());

  EXPECT_EQ(*store_->CountHints(), 1u);
  absl::StatusOr<std::vector<Hint>> hints = store_->Hints(10);
  ASSERT_TRUE(hints.ok()) << hints.status();
  ASSERT_EQ(hints->size(), 1u);
  crdt::ListState expected = first;
  expected.Merge(second);
  EXPECT_EQ((*hints)[0].delta, expected);
  EXPECT_EQ(WantedOf((*hints)[0].delta, "milk"), 5);
}

TEST_F(ReplicaStoreTest, HintsListOwnerAndListId) {
  std::string a = ListId();
  std::string b = ListId();
  if (b < a) std::swap(a, b);
  crdt::ListState alice;
  crdt::ListState d1 = *alice.Add(kAlice, "milk", 1);
  crdt::ListState d2 = *alice.Add(kAlice, "eggs", 2);
  crdt::ListState d3 = *alice.Add(kAlice, "tea", 3);
  ASSERT_TRUE(store_->AddHint("node-b", b, d1).ok());
  ASSERT_TRUE(store_->AddHint("node-a", a, d2).ok());
  ASSERT_TRUE(store_->AddHint("node-c", a, d3).ok());

  absl::StatusOr<std::vector<Hint>> hints = store_->Hints(10);
  ASSERT_TRUE(hints.ok()) << hints.status();
  ASSERT_EQ(hints->size(), 3u);
  // Key order: by list, then owner.
  EXPECT_EQ((*hints)[0].list_id, a);
  EXPECT_EQ((*hints)[0].owner, "node-a");
  EXPECT_EQ((*hints)[0].delta, d2);
  EXPECT_EQ((*hints)[1].list_id, a);
  EXPECT_EQ((*hints)[1].owner, "node-c");
  EXPECT_EQ((*hints)[1].delta, d3);
  EXPECT_EQ((*hints)[2].list_id, b);
  EXPECT_EQ((*hints)[2].owner, "node-b");
  EXPECT_EQ((*hints)[2].delta, d1);
  for (const Hint& hint : *hints) EXPECT_FALSE(hint.stored_bytes.empty());

  absl::StatusOr<std::vector<Hint>> two = store_->Hints(2);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->size(), 2u);
}

TEST_F(ReplicaStoreTest, HintsIgnoresListsAndMetadata) {
  const std::string id = ListId();
  crdt::ListState alice;
  ASSERT_TRUE(store_->Merge(id, *alice.Add(kAlice, "milk", 1)).ok());
  ASSERT_TRUE(store_->ReplicaId().ok());
  ASSERT_TRUE(store_->ReserveCounter(id, 0, 1).ok());
  EXPECT_EQ(*store_->CountHints(), 0u);
  absl::StatusOr<std::vector<Hint>> hints = store_->Hints(10);
  ASSERT_TRUE(hints.ok()) << hints.status();
  EXPECT_TRUE(hints->empty());
}

TEST_F(ReplicaStoreTest, HintsForJoinsHintsOfSeveralOwners) {
  const std::string id = ListId();
  const std::string other = ListId();
  crdt::ListState alice;
  crdt::ListState bob;
  crdt::ListState for_n2 = *alice.Add(kAlice, "milk", 2);
  crdt::ListState for_n3 = *bob.Add(kBob, "milk", 3);
  crdt::ListState for_other = *bob.Add(kBob, "bread", 1);
  ASSERT_TRUE(store_->AddHint("n2", id, for_n2).ok());
  ASSERT_TRUE(store_->AddHint("n3", id, for_n3).ok());
  ASSERT_TRUE(store_->AddHint("n2", other, for_other).ok());

  absl::StatusOr<std::optional<crdt::ListState>> joined = store_->HintsFor(id);
  ASSERT_TRUE(joined.ok()) << joined.status();
  ASSERT_TRUE(joined->has_value());
  crdt::ListState expected = for_n2;
  expected.Merge(for_n3);
  EXPECT_EQ(**joined, expected);
  EXPECT_EQ(WantedOf(**joined, "milk"), 5);
  EXPECT_EQ(WantedOf(**joined, "bread"), -1);
}

TEST_F(ReplicaStoreTest, HintsForIsNulloptWithoutHints) {
  const std::string id = ListId();
  crdt::ListState alice;
  // A stored list is not a hint.
  ASSERT_TRUE(store_->Merge(id, *alice.Add(kAlice, "milk", 1)).ok());
  ASSERT_TRUE(store_->AddHint("n2", ListId(), alice).ok());
  absl::StatusOr<std::optional<crdt::ListState>> joined = store_->HintsFor(id);
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_FALSE(joined->has_value());
}

TEST_F(ReplicaStoreTest, RemoveHintDeletesADeliveredHint) {
  const std::string id = ListId();
  crdt::ListState alice;
  ASSERT_TRUE(store_->AddHint("n2", id, *alice.Add(kAlice, "milk", 1)).ok());
  absl::StatusOr<std::vector<Hint>> hints = store_->Hints(10);
  ASSERT_TRUE(hints.ok()) << hints.status();
  ASSERT_EQ(hints->size(), 1u);

  ASSERT_TRUE(store_->RemoveHint((*hints)[0]).ok());
  EXPECT_EQ(*store_->CountHints(), 0u);
  EXPECT_FALSE(store_->HintsFor(id)->has_value());
  // Removing it again is harmless.
  EXPECT_TRUE(store_->RemoveHint((*hints)[0]).ok());
}

TEST_F(ReplicaStoreTest, AHintKeepsWhenItWasFirstKeptUntilDelivered) {
  const std::string id = ListId();
  crdt::ListState alice;
  const absl::Time before = absl::Now();
  ASSERT_TRUE(store_->AddHint("n2", id, *alice.Add(kAlice, "milk", 1)).ok());
  const absl::Time after = absl::Now();
  absl::SleepFor(absl::Milliseconds(20));
  // A later write for the same owner joins the hint, not its age; and the
  // time is durable.
  ASSERT_TRUE(store_->AddHint("n2", id, *alice.Add(kAlice, "eggs", 1)).ok());
  Reopen();
  absl::StatusOr<std::vector<Hint>> hints = store_->Hints(10);
  ASSERT_TRUE(hints.ok()) << hints.status();
  ASSERT_EQ(hints->size(), 1u);
  EXPECT_GE((*hints)[0].since,
            absl::FromUnixMicros(absl::ToUnixMicros(before)));
  EXPECT_LE((*hints)[0].since, after);

  // Delivered, its time goes with it: a new hint for the pair is new.
  ASSERT_TRUE(store_->RemoveHint((*hints)[0]).ok());
  const absl::Time again = absl::Now();
  ASSERT_TRUE(store_->AddHint("n2", id, *alice.Add(kAlice, "tea", 1)).ok());
  hints = store_->Hints(10);
  ASSERT_TRUE(hints.ok()) << hints.status();
  ASSERT_EQ(hints->size(), 1u);
  EXPECT_GE((*hints)[0].since, absl::FromUnixMicros(absl::ToUnixMicros(again)));
}

TEST_F(ReplicaStoreTest, AHintKeptByAnEarlierVersionCountsFromTheOpen) {
  // Hints of earlier versions have no time record.
  const std::string id = ListId();
  crdt::ListState alice;
  v1::ListState message;
  codec::EncodeState(*alice.Add(kAlice, "milk", 1), &message);
  Close();
  ASSERT_NO_FATAL_FAILURE(
      PutRaw(absl::StrCat("hint/", id, "/n2"), message.SerializeAsString()));
  const absl::Time before = absl::Now();
  Open();
  absl::StatusOr<std::vector<Hint>> hints = store_->Hints(10);
  ASSERT_TRUE(hints.ok()) << hints.status();
  ASSERT_EQ(hints->size(), 1u);
  EXPECT_EQ((*hints)[0].owner, "n2");
  EXPECT_GE((*hints)[0].since, before);
  EXPECT_LE((*hints)[0].since, absl::Now());
  ASSERT_TRUE(store_->RemoveHint((*hints)[0]).ok());
  EXPECT_EQ(*store_->CountHints(), 0u);
}

TEST_F(ReplicaStoreTest, RemoveHintKeepsAHintChangedAfterItWasRead) {
  const std::string id = ListId();
  crdt::ListState alice;
  crdt::ListState bob;
  crdt::ListState first = *alice.Add(kAlice, "milk", 1);
  crdt::ListState later = *bob.Add(kBob, "eggs", 2);
  ASSERT_TRUE(store_->AddHint("n2", id, first).ok());
  absl::StatusOr<std::vector<Hint>> read = store_->Hints(10);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 1u);

  // A write arrives while the hint is being delivered.
  ASSERT_TRUE(store_->AddHint("n2", id, later).ok());
  ASSERT_TRUE(store_->RemoveHint((*read)[0]).ok());

  EXPECT_EQ(*store_->CountHints(), 1u);
  absl::StatusOr<std::vector<Hint>> left = store_->Hints(10);
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_EQ(left->size(), 1u);
  crdt::ListState expected = first;
  expected.Merge(later);
  EXPECT_EQ((*left)[0].delta, expected);

  // Once the newer hint is delivered, it goes.
  ASSERT_TRUE(store_->RemoveHint((*left)[0]).ok());
  EXPECT_EQ(*store_->CountHints(), 0u);
}

TEST_F(ReplicaStoreTest, RemoveHintLeavesOtherOwnersAlone) {
  const std::string id = ListId();
  crdt::ListState alice;
  crdt::ListState delta = *alice.Add(kAlice, "milk", 1);
  ASSERT_TRUE(store_->AddHint("n2", id, delta).ok());
  ASSERT_TRUE(store_->AddHint("n3", id, delta).ok());
  absl::StatusOr<std::vector<Hint>> hints = store_->Hints(10);
  ASSERT_TRUE(hints.ok()) << hints.status();
  ASSERT_EQ(hints->size(), 2u);
  ASSERT_EQ((*hints)[0].owner, "n2");
  ASSERT_TRUE(store_->RemoveHint((*hints)[0]).ok());
  absl::StatusOr<std::vector<Hint>> left = store_->Hints(10);
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].owner, "n3");
}

TEST_F(ReplicaStoreTest, CountHintsCountsOwnerListPairs) {
  EXPECT_EQ(*store_->CountHints(), 0u);
  const std::string a = ListId();
  const std::string b = ListId();
  crdt::ListState alice;
  crdt::ListState delta = *alice.Add(kAlice, "milk", 1);
  ASSERT_TRUE(store_->AddHint("n2", a, delta).ok());
  ASSERT_TRUE(store_->AddHint("n2", a, delta).ok());
  ASSERT_TRUE(store_->AddHint("n3", a, delta).ok());
  ASSERT_TRUE(store_->AddHint("n2", b, delta).ok());
  absl::StatusOr<size_t> count = store_->CountHints();
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 3u);
}

// --- Metadata ---

TEST_F(ReplicaStoreTest, ReplicaIdIsNonZeroAndStableAcrossReopening) {
  absl::StatusOr<uint64_t> first = store_->ReplicaId();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_NE(*first, 0u);
  EXPECT_EQ(*store_->ReplicaId(), *first);

  Reopen();
  absl::StatusOr<uint64_t> after = store_->ReplicaId();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, *first);

  // Another store has its own id.
  shoplist::testing::TempDir other_dir;
  absl::StatusOr<std::unique_ptr<ReplicaStore>> other =
      OpenLevelDbStore(other_dir.path());
  ASSERT_TRUE(other.ok()) << other.status();
  absl::StatusOr<uint64_t> other_id = (*other)->ReplicaId();
  ASSERT_TRUE(other_id.ok()) << other_id.status();
  EXPECT_NE(*other_id, *first);
}

TEST_F(ReplicaStoreTest, ReserveCounterIsStrictlyIncreasing) {
  const std::string id = ListId();
  uint64_t previous = 0;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<uint64_t> next = store_->ReserveCounter(id, 0, 1);
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_GT(*next, previous);
    EXPECT_GE(*next, 1u);
    previous = *next;
  }
}

TEST_F(ReplicaStoreTest, ReserveCounterRespectsAtLeast) {
  const std::string id = ListId();
  absl::StatusOr<uint64_t> first = store_->ReserveCounter(id, 0, 1);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<uint64_t> jumped = store_->ReserveCounter(id, 100, 1);
  ASSERT_TRUE(jumped.ok()) << jumped.status();
  EXPECT_GT(*jumped, 100u);
  // A smaller at_least never takes the counter back.
  absl::StatusOr<uint64_t> after = store_->ReserveCounter(id, 5, 1);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_GT(*after, *jumped);
}

TEST_F(ReplicaStoreTest, ReserveCounterReservesABlock) {
  const std::string id = ListId();
  absl::StatusOr<uint64_t> block = store_->ReserveCounter(id, 10, 5);
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_EQ(*block, 11u);
  // 11..15 are taken; the next reservation starts after them.
  absl::StatusOr<uint64_t> next = store_->ReserveCounter(id, 0, 1);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, 16u);
}

TEST_F(ReplicaStoreTest, ReserveCounterStaysIncreasingAcrossReopening) {
  const std::string id = ListId();
  absl::StatusOr<uint64_t> before = store_->ReserveCounter(id, 41, 1);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_GT(*before, 41u);
  Reopen();
  absl::StatusOr<uint64_t> after = store_->ReserveCounter(id, 0, 1);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_GT(*after, *before);
}

TEST_F(ReplicaStoreTest, ConcurrentReserveCounterNeverRepeats) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20;
  const std::string id = ListId();
  absl::Mutex mu;
  std::vector<uint64_t> all;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<uint64_t> next = store_->ReserveCounter(id, 0, 1);
        absl::MutexLock lock(&mu);
        all.push_back(next.ok() ? *next : 0);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<uint64_t> distinct(all.begin(), all.end());
  EXPECT_EQ(distinct.count(0), 0u);
  EXPECT_EQ(distinct.size(), all.size());
}

// --- Corruption ---

TEST_F(ReplicaStoreTest, GarbageStoredValueIsDataLossNotACrash) {
  const std::string id = ListId();
  crdt::ListState alice;
  ASSERT_TRUE(store_->Merge(id, *alice.Add(kAlice, "milk", 1)).ok());
  Close();
  // An over-long varint tag: no protobuf parser accepts it.
  PutRaw(absl::StrCat("list/", id), std::string(12, '\xff'));
  Open();

  absl::StatusOr<crdt::ListState> got = store_->Get(id);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
  // The coordinator's read of the access record alone says so too.
  absl::StatusOr<std::optional<crdt::Register>> access =
      store_->StoredAccess(id);
  EXPECT_EQ(access.status().code(), absl::StatusCode::kDataLoss)
      << access.status();
  // A merge starts the list afresh, so replicas can refill it (anti-entropy
  // sends whole states); the damaged bytes are kept aside.
  crdt::ListState eggs = *alice.Add(kAlice, "eggs", 1);
  absl::StatusOr<crdt::ListState> merged = store_->Merge(id, eggs);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(*merged, eggs);
  absl::StatusOr<crdt::ListState> refilled = store_->Merge(id, alice);
  ASSERT_TRUE(refilled.ok()) << refilled.status();
  EXPECT_EQ(*store_->Get(id), alice);
  Close();
  EXPECT_EQ(GetRaw(absl::StrCat("damaged/", id)), std::string(12, '\xff'));
}

TEST_F(ReplicaStoreTest, StoredStateThatFailsValidationIsDataLoss) {
  const std::string id = ListId();
  crdt::ListState alice;
  crdt::ListState state = *alice.Add(kAlice, "milk", 1);
  v1::ListState message;
  codec::EncodeState(state, &message);
  // Parses, but its entry's dot lies outside the context.
  message.mutable_items(0)->mutable_entries(0)->set_counter(999);
  Close();
  PutRaw(absl::StrCat("list/", id), message.SerializeAsString());
  Open();

  absl::StatusOr<crdt::ListState> got = store_->Get(id);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
}

TEST_F(ReplicaStoreTest, CorruptedHintIsDataLoss) {
  const std::string id = ListId();
  Close();
  PutRaw(absl::StrCat("hint/", id, "/n2"), std::string(12, '\xff'));
  Open();

  absl::StatusOr<std::vector<Hint>> hints = store_->Hints(10);
  EXPECT_EQ(hints.status().code(), absl::StatusCode::kDataLoss)
      << hints.status();
  absl::StatusOr<std::optional<crdt::ListState>> joined = store_->HintsFor(id);
  EXPECT_EQ(joined.status().code(), absl::StatusCode::kDataLoss)
      << joined.status();
}

}  // namespace
}  // namespace shoplist::storage
