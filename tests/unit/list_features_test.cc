// The shopping features of the list CRDT, one rule at a time: normalized
// item keys, display names, notes, categories and aisle order, writers'
// names, unbuy, clear, and undo (as a home makes it: UndoOperations of the
// change's Diff, applied as a new change).
#include <string>
#include <vector>

#include "codec/operation.h"
#include "crdt/limits.h"
#include "crdt/list_diff.h"
#include "crdt/list_state.h"
#include "gtest/gtest.h"

namespace shoplist::crdt {
namespace {

Writer As(ReplicaId id, uint64_t now, std::string name = "") {
  Writer w(id);
  w.now_micros = now;
  w.name = std::move(name);
  return w;
}

ListState Must(absl::StatusOr<ListState> s) {
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : ListState();
}

std::vector<std::string> Names(const ListState& s) {
  std::vector<std::string> names;
  for (const ItemView& v : s.View().items) names.push_back(v.name);
  return names;
}

// A change made with ApplyOperation, and the operations that undo it.
struct Made {
  ListState delta;
  std::vector<v1::Operation> undo;
};

Made Change(ListState& s, Writer w, const v1::Operation& op) {
  const ListState before = s;
  ListState delta = Must(codec::ApplyOperation(op, w, w.now_micros, s));
  return {delta, codec::UndoOperations(Diff(before, s, delta))};
}

ListState Undo(ListState& s, Writer w, const std::vector<v1::Operation>& ops) {
  ListState delta;
  for (const v1::Operation& op : ops) {
    delta.Merge(Must(codec::ApplyOperation(op, w, w.now_micros, s)));
  }
  return delta;
}

v1::Operation AddOp(const std::string& item, int64_t count) {
  v1::Operation op;
  op.mutable_add()->set_item(item);
  op.mutable_add()->set_count(count);
  return op;
}

constexpr ReplicaId kA = 0xA, kB = 0xB, kC = 0xC;

TEST(ListFeaturesTest, OneItemPerThingWhateverTheCaseOrSpacing) {
  ListState s;
  Must(s.Create(kA, "g", 1));
  Must(s.Add(As(kA, 10), "Milk", 1));
  Must(s.Add(As(kA, 11), "milk", 2));
  Must(s.Add(As(kB, 12), "MILK", 1));
  Must(s.Add(As(kB, 13), "Straße", 1));
  Must(s.Add(As(kB, 14), "STRASSE", 1));
  ASSERT_EQ(s.VisibleItems(), 2u);
  const ListView view = s.View();
  EXPECT_EQ(view.items[0].key, "milk");
  EXPECT_EQ(view.items[0].wanted, 4);
  // The display name is what the latest adder typed.
  EXPECT_EQ(view.items[0].name, "MILK");
  EXPECT_EQ(view.items[1].key, "strasse");
  EXPECT_EQ(view.items[1].name, "STRASSE");
}

TEST(ListFeaturesTest, NamesSortByCollationNotBytes) {
  ListState s;
  Must(s.Create(kA, "g", 1));
  for (const char* name : {"Milk", "eggs", "Zucchini", "Äpfel", "apples"}) {
    Must(s.Add(As(kA, 10), name, 1));
  }
  // "Äpfel" sorts with the a's (bytes would put it after "Zucchini").
  EXPECT_EQ(Names(s), (std::vector<std::string>{"Äpfel", "apples", "eggs",
                                                "Milk", "Zucchini"}));
}

TEST(ListFeaturesTest, GroupsFollowTheAisleOrderThenBoughtItems) {
  ListState s;
  Must(s.Create(kA, "g", 1));
  for (const char* name : {"milk", "bread", "apples", "soap", "cheese"}) {
    Must(s.Add(As(kA, 10), name, 1));
  }
  Must(s.SetCategory(As(kA, 20), "milk", "Dairy"));
  Must(s.SetCategory(As(kA, 21), "cheese", "dairy"));  // one group
  Must(s.SetCategory(As(kA, 22), "bread", "Bakery"));
  Must(s.SetCategory(As(kA, 23), "soap", "Household"));
  Must(s.SetAisles(As(kA, 24), {"Dairy", "Bakery"}));
  Must(s.Buy(As(kA, 25), "cheese", 0));
  std::vector<std::string> got;
  for (const ItemView& v : s.View().items) {
    got.push_back(v.category + ":" + v.name + (v.done() ? "+" : ""));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"Dairy:milk", "Bakery:bread",
                                           "Household:soap", "Other:apples",
                                           "Dairy:cheese+"}));
  EXPECT_EQ(s.View().aisles, (std::vector<std::string>{"Dairy", "Bakery"}));
  // A repeated category is refused.
  EXPECT_EQ(s.SetAisles(As(kA, 30), {"Dairy", "DAIRY"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ListFeaturesTest, ConcurrentAisleOrdersConvergeOnTheLaterOne) {
  ListState base;
  Must(base.Create(kA, "g", 1));
  ListState a = base, b = base;
  ListState da = Must(a.SetAisles(As(kA, 100), {"Dairy", "Bakery"}));
  ListState db = Must(b.SetAisles(As(kB, 200), {"Produce"}));
  a.Merge(db);
  b.Merge(da);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.Aisles(), (std::vector<std::string>{"Produce"}));
  // A writer whose clock lags still orders after what it saw.
  ListState later = Must(a.SetAisles(As(kA, 150), {"Dairy"}));
  b.Merge(later);
  EXPECT_EQ(b.Aisles(), (std::vector<std::string>{"Dairy"}));
}

TEST(ListFeaturesTest, NotesAreLastWriterWinsAndDoNotBringItemsBack) {
  ListState base;
  Must(base.Create(kA, "g", 1));
  Must(base.Add(As(kA, 10), "milk", 1));
  ListState a = base, b = base;
  ListState note = Must(a.SetNote(As(kA, 20), "milk", "the blue one"));
  ListState off = Must(b.RemoveItem(As(kB, 21), "milk"));
  a.Merge(off);
  b.Merge(note);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.VisibleItems(), 0u);
  EXPECT_EQ(a.SetNote(As(kA, 30), "milk", "x").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(
      base.SetNote(As(kA, 30), "milk", std::string(1025, 'n')).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(ListFeaturesTest, WritersNamesTravelWithTheirChanges) {
  ListState a, b;
  b.Merge(Must(a.Create(As(kA, 1, "Ann"), "g", 1)));
  b.Merge(Must(a.Add(As(kA, 2, "Ann"), "milk", 1)));
  ListState bought = Must(b.Buy(As(kB, 3, "Bob"), "milk", 0));
  a.Merge(bought);
  ASSERT_EQ(a.View().items.size(), 1u);
  const ItemView milk = a.View().items[0];
  EXPECT_EQ(milk.changed_by_name, "Bob");
  EXPECT_EQ(milk.changed_at_micros, 3u);
  // The name is sent once, not with every change.
  EXPECT_TRUE(Must(b.Buy(As(kB, 4, "Bob"), "milk", 1)).authors().empty());
}

TEST(ListFeaturesTest, ClearTakesOffWhatIsFullyBoughtInOneChange) {
  ListState s;
  Must(s.Create(kA, "g", 1));
  Must(s.Add(As(kA, 10), "milk", 2));
  Must(s.Add(As(kA, 10), "bread", 1));
  Must(s.Add(As(kA, 10), "eggs", 6));
  Must(s.Add(As(kA, 10), "tea", 1));
  Must(s.Buy(As(kA, 11), "milk", 0));
  Must(s.Buy(As(kA, 11), "tea", 0));
  Must(s.Buy(As(kA, 11), "eggs", 3));
  EXPECT_EQ(s.DoneKeys(), (std::vector<std::string>{"milk", "tea"}));
  const uint64_t before = s.context().Next(kA).counter;
  ListState delta = Must(s.Clear(As(kA, 12)));
  // One delta, but a dot per item: a dot names one item's change.
  EXPECT_EQ(s.context().Next(kA).counter, before + 2);
  EXPECT_EQ(delta.items().size(), 2u);
  EXPECT_EQ(delta.items().find("milk")->second.Find(kA)->counter, before);
  EXPECT_EQ(delta.items().find("tea")->second.Find(kA)->counter, before + 1);
  EXPECT_EQ(Names(s), (std::vector<std::string>{"bread", "eggs"}));
  EXPECT_TRUE(Must(s.Clear(As(kA, 13))).carries_no_change());
}

// Found by the independent model (list_property_test): with one dot shared
// by every item a clear took off, a later change of one of them carried
// the dot to a replica that then never got the others from DeltaSince.
TEST(ListFeaturesTest, DeltaSinceSendsEveryItemAClearTookOff) {
  ListState a;
  Must(a.Create(kA, "g", 1));
  Must(a.Add(As(kA, 10), "milk", 1));
  Must(a.Add(As(kA, 10), "tea", 1));
  Must(a.Buy(As(kA, 11), "milk", 0));
  Must(a.Buy(As(kA, 11), "tea", 0));
  ListState b = a;
  ListState c = a;
  c.Merge(Must(a.Clear(As(kA, 12))));
  // C adds tea again: its delta carries the whole item, A's clear included.
  b.Merge(Must(c.Add(As(kC, 13), "tea", 1)));
  b.Merge(a.DeltaSince(b.context()));
  c.Merge(b);
  a.Merge(c);
  EXPECT_EQ(Names(b), (std::vector<std::string>{"tea"}));
  EXPECT_EQ(b, a);
}

TEST(ListFeaturesTest, UndoOfAnAddLeavesAConcurrentAdd) {
  // A adds 2 eggs, B concurrently adds 1; A's undo leaves 1.
  ListState base;
  Must(base.Create(kA, "g", 1));
  ListState a = base, b = base;
  Made added = Change(a, As(kA, 10), AddOp("eggs", 2));
  ListState by_b = Must(b.Add(As(kB, 11), "eggs", 1));
  a.Merge(by_b);  // A sees B's add before undoing: still 1 left
  ListState undone = Undo(a, As(kA, 12), added.undo);
  b.Merge(added.delta);
  b.Merge(undone);
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.View().items.size(), 1u);
  EXPECT_EQ(a.View().items[0].wanted, 1);

  // Undone before seeing B's add: the item goes off A's list, and comes
  // back with B's 1 when it arrives.
  ListState c = base;
  Made again = Change(c, As(kA, 20), AddOp("tea", 2));
  Undo(c, As(kA, 21), again.undo);
  EXPECT_EQ(c.VisibleItems(), 0u);
  ListState d = base;
  c.Merge(Must(d.Add(As(kB, 22), "tea", 1)));
  ASSERT_EQ(c.View().items.size(), 1u);
  EXPECT_EQ(c.View().items[0].wanted, 1);
}

TEST(ListFeaturesTest, UndoBringsARemovedItemBackWithWhatItHad) {
  ListState s;
  Must(s.Create(kA, "g", 1));
  Must(s.Add(As(kA, 10), "Milk", 3));
  Must(s.Buy(As(kA, 11), "milk", 1));
  Must(s.SetNote(As(kA, 12), "milk", "2% fat"));
  Must(s.SetCategory(As(kA, 13), "milk", "Dairy"));
  v1::Operation off;
  off.mutable_remove_item()->set_item("milk");
  Made removed = Change(s, As(kA, 14), off);
  EXPECT_EQ(s.VisibleItems(), 0u);
  Undo(s, As(kA, 15), removed.undo);
  ASSERT_EQ(s.View().items.size(), 1u);
  const ItemView milk = s.View().items[0];
  EXPECT_EQ(milk.name, "Milk");
  EXPECT_EQ(milk.wanted, 3);
  EXPECT_EQ(milk.bought, 1);
  EXPECT_EQ(milk.note, "2% fat");
  EXPECT_EQ(milk.category, "Dairy");
}

TEST(ListFeaturesTest, UndoPutsBackNotesCategoriesOrdersAndTitles) {
  ListState s;
  Must(s.Create(kA, "Shop", 1));
  Must(s.Add(As(kA, 10), "milk", 1));
  v1::Operation note, category, aisles, rename, buy;
  note.mutable_note()->set_item("milk");
  note.mutable_note()->set_note("blue");
  category.mutable_category()->set_item("milk");
  category.mutable_category()->set_category("Dairy");
  aisles.mutable_aisles()->add_categories("Dairy");
  rename.mutable_rename()->set_title("Market");
  buy.mutable_buy()->set_item("milk");
  std::vector<Made> made;
  uint64_t now = 20;
  for (const v1::Operation& op : {note, category, aisles, rename, buy}) {
    made.push_back(Change(s, As(kA, ++now), op));
  }
  // Walk back, one change at a time.
  Undo(s, As(kA, ++now), made[4].undo);
  EXPECT_EQ(s.View().items[0].bought, 0);
  Undo(s, As(kA, ++now), made[3].undo);
  EXPECT_EQ(s.title()->value, "Shop");
  Undo(s, As(kA, ++now), made[2].undo);
  EXPECT_TRUE(s.Aisles().empty());
  Undo(s, As(kA, ++now), made[1].undo);
  EXPECT_EQ(s.View().items[0].category, "Other");
  Undo(s, As(kA, ++now), made[0].undo);
  EXPECT_EQ(s.View().items[0].note, "");
}

TEST(ListFeaturesTest, ItemsStoredBeforeKeysWereNormalizedAreFoundByName) {
  // A state from before: two items whose names differ only in case.
  ListState old;
  Must(old.Create(kA, "g", 1));
  Must(old.Add(kA, "milk", 1));
  Item legacy = old.items().begin()->second;
  ListState::Parts parts;
  parts.context = old.context();
  parts.title = old.title();
  parts.items.emplace("Milk", legacy);
  ListState s = Must(ListState::FromParts(parts));
  ASSERT_EQ(s.View().items.size(), 1u);
  EXPECT_EQ(s.View().items[0].name, "Milk");
  // "milk" finds it, and adds to it rather than making a second item.
  Must(s.Add(As(kA, 10), "milk", 2));
  ASSERT_EQ(s.View().items.size(), 1u);
  EXPECT_EQ(s.View().items[0].wanted, 3);
  Must(s.RemoveItem(As(kA, 11), "MILK"));
  EXPECT_EQ(s.VisibleItems(), 0u);
}

TEST(AccessRecordTest, ConcurrentRecordsConvergeAndTheLaterWriteWins) {
  ListState a, b;
  ASSERT_TRUE(a.Create(Writer(1), "groceries", 1).ok());
  b.Merge(a);
  const std::string first(kAccessChars, '1'), second(kAccessChars, '2');
  Writer early(1);
  early.now_micros = 100;
  Writer late(2);
  late.now_micros = 200;
  absl::StatusOr<ListState> from_a = a.SetAccess(early, first);
  absl::StatusOr<ListState> from_b = b.SetAccess(late, second);
  ASSERT_TRUE(from_a.ok() && from_b.ok());
  a.Merge(*from_b);
  b.Merge(*from_a);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.access().value, second);
  // A record written after seeing another replaces it, whatever the clock.
  Writer behind(1);
  behind.now_micros = 5;
  absl::StatusOr<ListState> revoked = a.SetAccess(behind, first);
  ASSERT_TRUE(revoked.ok());
  b.Merge(*revoked);
  EXPECT_EQ(b.access().value, first);
  EXPECT_FALSE(revoked->carries_no_change());
}

TEST(AccessRecordTest, OnlyWellFormedRecordsOnLiveLists) {
  ListState list;
  ASSERT_TRUE(list.Create(Writer(1), "groceries", 1).ok());
  EXPECT_EQ(list.SetAccess(Writer(1), "short").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      list.SetAccess(Writer(1), std::string(kAccessChars, 'A')).status().code(),
      absl::StatusCode::kInvalidArgument);
  list.Delete();
  EXPECT_FALSE(list.SetAccess(Writer(1), std::string(kAccessChars, 'a')).ok());
}

}  // namespace
}  // namespace shoplist::crdt
