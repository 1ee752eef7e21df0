#include "crdt/list_state.h"

#include <string>

#include "crdt/limits.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoplist::crdt {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr ReplicaId kAlice = 0xA11CE;
constexpr ReplicaId kBob = 0xB0B;
constexpr ReplicaId kCarol = 0xCA201;

MATCHER_P3(ItemIs, name, wanted, bought, "") {
  return arg.name == name && arg.wanted == wanted && arg.bought == bought;
}

// Applies a mutation and fails the test on error; returns the delta.
ListState Must(absl::StatusOr<ListState> delta) {
  EXPECT_TRUE(delta.ok()) << delta.status();
  return delta.ok() ? *std::move(delta) : ListState();
}

// Two replicas that start from the same created list.
struct TwoReplicas {
  TwoReplicas() {
    Must(alice.Create(kAlice, "groceries", 1000));
    bob.Merge(alice);
  }
  ListState alice, bob;
};

TEST(ListStateTest, CreateSetsTheTitleOnce) {
  ListState list;
  Must(list.Create(kAlice, "groceries", 1000));
  EXPECT_EQ(list.View().title, "groceries");
  EXPECT_EQ(list.Create(kAlice, "again", 2000).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(ListStateTest, AddRemoveBuyAndRemoveItem) {
  ListState list;
  Must(list.Create(kAlice, "groceries", 1000));
  Must(list.Add(kAlice, "milk", 3));
  Must(list.Add(kAlice, "eggs", 12));
  Must(list.Remove(kAlice, "milk", 1));
  Must(list.Buy(kAlice, "eggs", 5));
  EXPECT_THAT(list.View().items,
              ElementsAre(ItemIs("eggs", 12, 5), ItemIs("milk", 2, 0)));
  Must(list.RemoveItem(kAlice, "eggs"));
  EXPECT_THAT(list.View().items, ElementsAre(ItemIs("milk", 2, 0)));
  // Re-adding a removed item starts from zero.
  Must(list.Add(kAlice, "eggs", 6));
  EXPECT_THAT(list.View().items,
              ElementsAre(ItemIs("eggs", 6, 0), ItemIs("milk", 2, 0)));
}

TEST(ListStateTest, RemoveNeverGoesBelowZero) {
  ListState list;
  Must(list.Add(kAlice, "milk", 2));
  Must(list.Remove(kAlice, "milk", 5));
  EXPECT_THAT(list.View().items, ElementsAre(ItemIs("milk", 0, 0)));
  // Nothing left to remove: no change, no new dot.
  ListState delta = Must(list.Remove(kAlice, "milk", 1));
  EXPECT_TRUE(delta.empty());
  EXPECT_EQ(list.context().Max(kAlice), 2u);
}

TEST(ListStateTest, BuyWithoutCountBuysWhatIsStillWanted) {
  ListState list;
  Must(list.Add(kAlice, "milk", 4));
  Must(list.Buy(kAlice, "milk", 1));
  Must(list.Buy(kAlice, "milk", 0));
  EXPECT_THAT(list.View().items, ElementsAre(ItemIs("milk", 4, 4)));
  EXPECT_TRUE(Must(list.Buy(kAlice, "milk", 0)).empty());
}

TEST(ListStateTest, BadInputIsRejectedAndChangesNothing) {
  ListState list;
  Must(list.Add(kAlice, "milk", 1));
  const ListState before = list;
  EXPECT_EQ(list.Add(kAlice, "", 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      list.Add(kAlice, std::string(kMaxNameBytes + 1, 'x'), 1).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(list.Add(kAlice, "bad\xC3", 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(list.Add(kAlice, "milk", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(list.Add(kAlice, "milk", -3).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(list.Add(kAlice, "milk", kMaxOperationCount + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(list.Remove(kAlice, "bread", 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(list.RemoveItem(kAlice, "bread").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(list.Buy(kAlice, "bread", 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(list.Rename(kAlice, std::string(kMaxNameBytes + 1, 't'), 5)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(list, before);
}

TEST(ListStateTest, ItemLimitIsEnforced) {
  ListState list;
  for (size_t i = 0; i < kMaxItems; ++i) {
    ASSERT_TRUE(list.Add(kAlice, "item" + std::to_string(i), 1).ok());
  }
  EXPECT_EQ(list.Add(kAlice, "one too many", 1).status().code(),
            absl::StatusCode::kResourceExhausted);
  // Existing items still take changes.
  EXPECT_TRUE(list.Add(kAlice, "item0", 1).ok());
  // Only what is on the list counts: one taken off makes room for one.
  ASSERT_TRUE(list.RemoveItem(kAlice, "item1").ok());
  EXPECT_TRUE(list.Add(kAlice, "one more", 1).ok());
  EXPECT_EQ(list.Add(kAlice, "and another", 1).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(ListStateTest, ConcurrentAddsSum) {
  TwoReplicas r;
  ListState da = Must(r.alice.Add(kAlice, "milk", 2));
  ListState db = Must(r.bob.Add(kBob, "milk", 3));
  r.alice.Merge(db);
  r.bob.Merge(da);
  EXPECT_EQ(r.alice, r.bob);
  EXPECT_THAT(r.alice.View().items, ElementsAre(ItemIs("milk", 5, 0)));
}

TEST(ListStateTest, ConcurrentRemoveItemAndAddKeepsOnlyTheConcurrentAdd) {
  TwoReplicas r;
  r.bob.Merge(Must(r.alice.Add(kAlice, "milk", 3)));
  // Bob removes the milk he saw; Alice concurrently wants 2 more.
  ListState removal = Must(r.bob.RemoveItem(kBob, "milk"));
  ListState addition = Must(r.alice.Add(kAlice, "milk", 2));
  r.alice.Merge(removal);
  r.bob.Merge(addition);
  EXPECT_EQ(r.alice, r.bob);
  EXPECT_THAT(r.alice.View().items, ElementsAre(ItemIs("milk", 2, 0)));
}

TEST(ListStateTest, RemoveItemClearsBoughtItObserved) {
  TwoReplicas r;
  r.bob.Merge(Must(r.alice.Add(kAlice, "milk", 3)));
  r.bob.Merge(Must(r.alice.Buy(kAlice, "milk", 3)));
  ListState removal = Must(r.bob.RemoveItem(kBob, "milk"));
  ListState buy = Must(r.alice.Add(kAlice, "milk", 1));
  r.alice.Merge(removal);
  r.bob.Merge(buy);
  EXPECT_EQ(r.alice, r.bob);
  EXPECT_THAT(r.alice.View().items, ElementsAre(ItemIs("milk", 1, 0)));
}

TEST(ListStateTest, ConcurrentRemovalsOfTheSameItemBothHold) {
  TwoReplicas r;
  r.bob.Merge(Must(r.alice.Add(kAlice, "milk", 3)));
  ListState ra = Must(r.alice.RemoveItem(kAlice, "milk"));
  ListState rb = Must(r.bob.RemoveItem(kBob, "milk"));
  r.alice.Merge(rb);
  r.bob.Merge(ra);
  EXPECT_EQ(r.alice, r.bob);
  EXPECT_THAT(r.alice.View().items, IsEmpty());
}

TEST(ListStateTest, ConcurrentRemovesClampAtZeroAndAddStartsFromZero) {
  TwoReplicas r;
  r.bob.Merge(Must(r.alice.Add(kAlice, "milk", 3)));
  ListState ra = Must(r.alice.Remove(kAlice, "milk", 3));
  ListState rb = Must(r.bob.Remove(kBob, "milk", 3));
  r.alice.Merge(rb);
  r.bob.Merge(ra);
  EXPECT_THAT(r.alice.View().items, ElementsAre(ItemIs("milk", 0, 0)));
  // What people see is zero, so "add 1" must show 1.
  r.bob.Merge(Must(r.alice.Add(kAlice, "milk", 1)));
  EXPECT_THAT(r.bob.View().items, ElementsAre(ItemIs("milk", 1, 0)));
}

TEST(ListStateTest, TitleIsLastWriterWinsWithDeterministicTies) {
  TwoReplicas r;
  ListState da = Must(r.alice.Rename(kAlice, "weekend", 5000));
  ListState db = Must(r.bob.Rename(kBob, "party", 5000));
  r.alice.Merge(db);
  r.bob.Merge(da);
  EXPECT_EQ(r.alice, r.bob);
  // Equal timestamps: the larger replica id wins (kAlice > kBob).
  EXPECT_EQ(r.alice.View().title, "weekend");
}

TEST(ListStateTest, RenameOrdersAfterTheTitleSeenDespiteASlowClock) {
  ListState list;
  Must(list.Create(kAlice, "a", 9000));
  ListState other = list;
  Must(other.Rename(kBob, "b", 10));  // Bob's clock is far behind.
  list.Merge(other);
  EXPECT_EQ(list.View().title, "b");
}

TEST(ListStateTest, DeleteWinsOverEverything) {
  TwoReplicas r;
  r.bob.Merge(Must(r.alice.Add(kAlice, "milk", 1)));
  ListState tombstone = r.alice.Delete();
  ListState late = Must(r.bob.Add(kBob, "milk", 5));
  Must(r.bob.Rename(kBob, "still here?", 99999));
  r.bob.Merge(tombstone);
  r.alice.Merge(late);
  EXPECT_TRUE(r.alice.deleted());
  EXPECT_TRUE(r.bob.deleted());
  EXPECT_EQ(r.alice, r.bob);
  EXPECT_EQ(r.alice.Add(kAlice, "x", 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // A stale full state cannot bring the list back.
  ListState stale;
  Must(stale.Create(kCarol, "old", 1));
  r.alice.Merge(stale);
  EXPECT_TRUE(r.alice.deleted());
  stale.Merge(r.alice);
  EXPECT_TRUE(stale.deleted());
  EXPECT_TRUE(stale.DeltaSince(CausalContext()).deleted());
}

TEST(ListStateTest, DeltaOfOneChangeHoldsOnlyThatItem) {
  ListState list;
  for (int i = 0; i < 100; ++i) {
    Must(list.Add(kAlice, "item" + std::to_string(i), 1));
  }
  ListState delta = Must(list.Add(kBob, "item42", 2));
  ASSERT_EQ(delta.items().size(), 1u);
  EXPECT_EQ(delta.items().begin()->first, "item42");
  EXPECT_TRUE(delta.context().Contains({kBob, 1}));
  EXPECT_TRUE(delta.context().Contains({kAlice, 43}));
  EXPECT_FALSE(delta.context().Contains({kAlice, 1}));
  EXPECT_TRUE(delta.Validate().ok());
}

TEST(ListStateTest, DeltaSinceSendsOnlyWhatThePeerLacks) {
  TwoReplicas r;
  for (int i = 0; i < 10; ++i) {
    r.bob.Merge(Must(r.alice.Add(kAlice, "item" + std::to_string(i), 1)));
  }
  Must(r.alice.Add(kAlice, "item3", 1));
  Must(r.alice.RemoveItem(kAlice, "item7"));
  ListState missing = r.alice.DeltaSince(r.bob.context());
  EXPECT_EQ(missing.items().size(), 2u);
  EXPECT_FALSE(missing.title().has_value());
  r.bob.Merge(missing);
  EXPECT_EQ(r.bob, r.alice);
  // Nothing lacking: no items, no title.
  ListState nothing = r.alice.DeltaSince(r.bob.context());
  EXPECT_TRUE(nothing.items().empty());
  EXPECT_FALSE(nothing.title().has_value());
}

TEST(ListStateTest, MergeIsIdempotentCommutativeAndAssociative) {
  ListState a, b, c;
  Must(a.Create(kAlice, "x", 1));
  b.Merge(a);
  c.Merge(a);
  Must(a.Add(kAlice, "milk", 2));
  Must(b.Add(kBob, "milk", 1));
  Must(b.Add(kBob, "tea", 1));
  c.Merge(b);
  Must(c.RemoveItem(kCarol, "milk"));
  Must(c.Rename(kCarol, "y", 50));

  ListState ab = a;
  ab.Merge(b);
  ListState ba = b;
  ba.Merge(a);
  EXPECT_EQ(ab, ba);

  ListState ab_c = ab;
  ab_c.Merge(c);
  ListState bc = b;
  bc.Merge(c);
  ListState a_bc = a;
  a_bc.Merge(bc);
  EXPECT_EQ(ab_c, a_bc);

  ListState twice = ab_c;
  twice.Merge(ab_c);
  twice.Merge(a);
  EXPECT_EQ(twice, ab_c);
}

TEST(ListStateTest, ValidateRejectsDotsOutsideTheContext) {
  ListState list;
  Must(list.Add(kAlice, "milk", 1));
  ListState::Items items = list.items();
  ListState::Parts parts;
  parts.items = items;
  auto bad = ListState::FromParts(parts);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  parts.context = list.context();
  auto good = ListState::FromParts(parts);
  EXPECT_TRUE(good.ok());
}

}  // namespace
}  // namespace shoplist::crdt

namespace shoplist::crdt {
namespace {

TEST(ListStateWriterTest, AReservedCounterIsNeverReused) {
  ListState list;
  ASSERT_TRUE(list.Add(Writer(kAlice, 10), "milk", 1).ok());
  EXPECT_EQ(list.context().Max(kAlice), 10u);
  // Without a reservation the next dot follows what the state has seen.
  ASSERT_TRUE(list.Add(kAlice, "milk", 1).ok());
  EXPECT_EQ(list.context().Max(kAlice), 11u);
  // A reservation below what was seen does not go back.
  ASSERT_TRUE(list.Add(Writer(kAlice, 3), "milk", 1).ok());
  EXPECT_EQ(list.context().Max(kAlice), 12u);
}

}  // namespace
}  // namespace shoplist::crdt
