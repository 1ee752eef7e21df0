// The shopping list CRDT: a delta-state CRDT (Almeida, Shoker, Baquero,
// "Delta State Replicated Data Types", 2018) built from max-lattices.
//
//  - Items: an add-wins map from name to item. Each writer (replica) has one
//    entry per item holding its cumulative net wanted and bought, tagged
//    with the dot of its latest change; entries merge by taking the later
//    dot. Quantities are sums over writers.
//  - Removing an item records, for every writer, the entry it observed (the
//    reset). Only change after a writer's reset counts, so the removal
//    clears exactly what it saw: a concurrent "add 2" survives as 2.
//  - An item's key is its normalized name (text::ItemKey: NFC, trimmed,
//    inner blanks collapsed, case-folded), so "Milk" and "milk" are one
//    item. States written before keys were normalized keep their keys;
//    lookups find such an item by the key of its name.
//  - Registers, each last-writer-wins on (timestamp, replica, counter): the
//    title; per item its display name (what the latest adder typed), note
//    and category; the list's aisle order; and each writer's display name
//    (a writer names only itself). A writer orders its write after the one
//    it saw, whatever its clock. Registers never make an item visible:
//    only quantities do, so a note written concurrently with a removal
//    does not bring the item back.
//  - Deleting the list makes a tombstone, the top of the lattice: merging
//    anything with it gives the tombstone.
//  - A causal context (version vector + dot cloud) records which changes the
//    state reflects; DeltaSince() uses it to send a peer only what it lacks.
//
// Every mutation applies to this state and returns its delta: a small
// ListState that any replica merges with Merge(). Merge is commutative,
// associative and idempotent for states and deltas alike, so deltas may be
// duplicated, reordered, lost and resent. State size is proportional to
// items (removed ones keep a small record) times writers, not to the number
// of operations ever made.
//
// Thread-compatible: callers synchronise concurrent use.
#ifndef SHOPLIST_CRDT_LIST_STATE_H_
#define SHOPLIST_CRDT_LIST_STATE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crdt/causal_context.h"
#include "crdt/dot.h"

namespace shoplist::crdt {

// The category of an item nobody has given one.
inline constexpr absl::string_view kDefaultCategory = "Other";

// A last-writer-wins string. Unset while dot.counter is 0.
struct Register {
  std::string value;
  // The writer's clock at the write, microseconds since the Unix epoch.
  uint64_t timestamp_micros = 0;
  Dot dot;

  bool set() const { return dot.counter != 0; }
  // Later of the two; ties on timestamp break on the dot, then the value.
  void Join(const Register& other);
  friend bool operator==(const Register&, const Register&) = default;
};
using Title = Register;

// One writer's contribution to one item.
struct ItemEntry {
  // Dot counter of the writer's latest change to this item (>= 1).
  uint64_t counter = 0;
  // Cumulative net changes by this writer (may be negative).
  int64_t wanted = 0;
  int64_t bought = 0;
  // The entry as a removal observed it; reset_counter 0 when never removed.
  uint64_t reset_counter = 0;
  int64_t reset_wanted = 0;
  int64_t reset_bought = 0;
  // The writer's clock at its latest change (0 in states written before
  // changes were timed).
  uint64_t timestamp_micros = 0;

  // Changed since its last observed removal.
  bool Live() const { return counter > reset_counter; }
  friend bool operator==(const ItemEntry&, const ItemEntry&) = default;
};

class Item {
 public:
  using Entries = absl::InlinedVector<std::pair<ReplicaId, ItemEntry>, 2>;

  Item() = default;
  Item(const Item& other);
  Item& operator=(const Item& other);
  Item(Item&&) noexcept = default;
  Item& operator=(Item&&) noexcept = default;

  // Sum over writers of what changed after each one's reset. May be
  // negative after concurrent removals; views clamp at zero.
  int64_t Wanted() const;
  int64_t Bought() const;
  // On the list: some writer changed it after the removals it saw.
  bool Visible() const;

  // Sorted by replica id, one entry per replica.
  const Entries& entries() const { return entries_; }
  // The entry of `replica`, or null.
  ItemEntry* Find(ReplicaId replica);
  const ItemEntry* Find(ReplicaId replica) const;
  ItemEntry& FindOrAdd(ReplicaId replica);
  void Merge(const Item& other);
  // Calls f(dot) for every dot the item holds (entries and registers).
  template <typename F>
  void ForEachDot(F f) const {
    for (const auto& [r, e] : entries_) f(Dot{r, e.counter});
    if (registers_ == nullptr) return;
    for (const Register* reg :
         {&registers_->display, &registers_->note, &registers_->category}) {
      if (reg->set()) f(reg->dot);
    }
  }
  // Who changed the item last and when: the latest (timestamp, replica)
  // over its entries and registers. {0, 0} for an empty item.
  std::pair<ReplicaId, uint64_t> LastChange() const;

  // What the latest adder typed (unset: the key is the name), the note
  // (empty: none) and the category (unset or empty: kDefaultCategory).
  const Register& display() const;
  const Register& note() const;
  const Register& category() const;
  Register& mutable_display() { return Registers().display; }
  Register& mutable_note() { return Registers().note; }
  Register& mutable_category() { return Registers().category; }

  friend bool operator==(const Item& a, const Item& b) {
    return a.entries_ == b.entries_ && a.display() == b.display() &&
           a.note() == b.note() && a.category() == b.category();
  }

 private:
  // Most items never get a note or a category and are typed as their
  // key: their registers take no room.
  struct RegisterSet {
    Register display, note, category;
  };
  RegisterSet& Registers();

  Entries entries_;
  std::unique_ptr<RegisterSet> registers_;
};

// Who makes a change. Clients use their replica id alone: the next counter
// is one past the largest the state has seen. A node applying operations
// for thin clients may not have seen its own earlier changes to a list (it
// is not always a replica of it), so it passes a counter it reserved
// durably; the larger of the two is used. A change that makes several dots
// (Clear) uses consecutive counters from there.
//
// `now_micros` is the writer's clock: it times item changes (who changed
// what when) and orders register writes. `name` is the person's display
// name; when it differs from the one the state holds for this replica, the
// change also records it (empty: leave it as it is).
struct Writer {
  Writer(ReplicaId r) : replica(r) {}  // NOLINT: a replica id is a writer
  Writer(ReplicaId r, uint64_t counter)
      : replica(r), reserved_counter(counter) {}
  ReplicaId replica;
  uint64_t reserved_counter = 0;
  uint64_t now_micros = 0;
  std::string name;
};

// What an item means now, for display.
struct ItemView {
  std::string key;
  std::string name;    // the display name
  int64_t wanted = 0;  // >= 0
  int64_t bought = 0;  // >= 0
  std::string note;
  std::string category;  // kDefaultCategory when none was given
  bool visible = true;   // on the list (ItemViewOf may return removed ones)
  // The writer of the latest change and its clock; changed_by_name is that
  // writer's display name, empty when it never gave one.
  ReplicaId changed_by = 0;
  std::string changed_by_name;
  uint64_t changed_at_micros = 0;

  // Bought all that is wanted: the "bought" section, and what Clear takes
  // off. (An item showing 0 wanted is not done: nothing was bought.)
  bool done() const { return wanted > 0 && bought >= wanted; }
  friend bool operator==(const ItemView&, const ItemView&) = default;
};
struct ListView {
  std::string title;
  // Visible items in display order: first what is still to buy, then what
  // is done; within each, grouped by category in the list's aisle order
  // (categories not in it follow in collation order, kDefaultCategory
  // last), and by display name in ICU collation order within a group.
  std::vector<ItemView> items;
  std::vector<std::string> aisles;  // the list's order of categories
  bool deleted = false;
};

class ListState {
 public:
  using Items = absl::btree_map<std::string, Item, std::less<>>;
  // Each writer's display name, keyed by the writer (its register's dot).
  using Authors = absl::btree_map<ReplicaId, Register>;

  struct Parts {
    CausalContext context;
    std::optional<Title> title;
    Items items;
    // The aisle order: category names joined by '\n' (names never hold
    // one: CleanSpace collapses blanks).
    Register aisles;
    Authors authors;
    // Who may do what (docs/sharing.md): kAccessChars lowercase hex digits
    // of hashes, or unset on a list open to its id.
    Register access;
    bool deleted = false;
  };

  ListState() = default;

  // Assembles a decoded state and validates it (see Validate()).
  static absl::StatusOr<ListState> FromParts(Parts parts);
  static ListState Tombstone();

  // Checks what a decoder cannot: names are 1..kMaxNameBytes of valid UTF-8
  // (titles may be empty), notes up to kMaxNoteBytes, counters >= 1, resets
  // never ahead of their entry, quantities within kMaxAbsQuantity, every
  // dot inside the context, an author's register written by that author,
  // a tombstone empty, size limits. INVALID_ARGUMENT says what is wrong.
  absl::Status Validate() const;

  // --- Mutations. Each applies to this state as `replica` and returns the
  // delta to send to others. Errors leave the state unchanged:
  // FAILED_PRECONDITION on a deleted list, INVALID_ARGUMENT on bad names or
  // counts (1..kMaxOperationCount), NOT_FOUND for an item not on the list,
  // RESOURCE_EXHAUSTED past kMaxItems. `now_micros` is the writer's clock;
  // a title write is ordered after the one it replaces whatever the clock.
  absl::StatusOr<ListState> Create(Writer writer, absl::string_view title,
                                   uint64_t now_micros);
  absl::StatusOr<ListState> Rename(Writer writer, absl::string_view title,
                                   uint64_t now_micros);
  //
  // Item calls take the name as typed (cleaned by the caller) and find the
  // item by its key (text::ItemKey).
  //
  // Want `count` more of `name`; adds the item when absent. The display
  // name becomes `name`. `category`, when not empty, is given to an item
  // that has none yet (a home's remembered category).
  absl::StatusOr<ListState> Add(Writer writer, absl::string_view name,
                                int64_t count, absl::string_view category = {});
  // Want `count` fewer, never below zero; an empty delta when already zero.
  // With `take_off_when_none`, an item left with nothing wanted or bought
  // is taken off in the same change (what undoing its addition means).
  absl::StatusOr<ListState> Remove(Writer writer, absl::string_view name,
                                   int64_t count,
                                   bool take_off_when_none = false);
  // Takes the item off the list: clears what this replica has observed,
  // and its note.
  absl::StatusOr<ListState> RemoveItem(Writer writer, absl::string_view name);
  // Mark `count` bought; count 0 means all still wanted (an empty delta when
  // nothing is).
  absl::StatusOr<ListState> Buy(Writer writer, absl::string_view name,
                                int64_t count);
  // Mark `count` fewer bought, never below zero; 0 means all of them.
  absl::StatusOr<ListState> Unbuy(Writer writer, absl::string_view name,
                                  int64_t count);
  // Sets the item's note (up to kMaxNoteBytes of UTF-8; empty clears it).
  absl::StatusOr<ListState> SetNote(Writer writer, absl::string_view name,
                                    absl::string_view note);
  // Sets the item's category (a cleaned name; empty: kDefaultCategory).
  absl::StatusOr<ListState> SetCategory(Writer writer, absl::string_view name,
                                        absl::string_view category);
  // Sets the list's aisle order: up to kMaxAisles cleaned category names,
  // no two with the same key. INVALID_ARGUMENT otherwise.
  absl::StatusOr<ListState> SetAisles(Writer writer,
                                      const std::vector<std::string>& aisles);
  // Replaces the list's access record (docs/sharing.md) with `grants`, as
  // the last writer wins. Who may do so is the servers' check, not the
  // CRDT's. INVALID_ARGUMENT unless grants is kAccessChars lowercase hex
  // digits.
  absl::StatusOr<ListState> SetAccess(Writer writer, absl::string_view grants);
  // Takes every fully bought item (ItemView::done) off the list, in one
  // delta with one dot per item (so a writer that reserves counters needs
  // DoneKeys().size() of them); an empty delta when there is none.
  absl::StatusOr<ListState> Clear(Writer writer);
  // The keys of the items Clear would take off, in key order.
  std::vector<std::string> DoneKeys() const;
  // Deletes the list for everyone; the state becomes the tombstone.
  ListState Delete();

  // Joins `other` (a state or a delta) into this state.
  void Merge(const ListState& other);

  // What a replica that has seen `known` lacks: every item or title changed
  // by a dot outside `known`, with this state's whole context. Merging the
  // result into such a replica gives it everything this state has. Walks
  // every item, unless the dots are indexed (IndexDots): then it costs
  // O(R log n) for R writers plus what it returns.
  ListState DeltaSince(const CausalContext& known) const;

  // Indexes the items' dots by writer and counter, for DeltaSince: what a
  // replica that answers many syncs of a large list keeps (the node's
  // store). Merge keeps the index up to date when the other state is much
  // smaller, else drops it; any other change drops it, and copies are made
  // without it. It takes about 60 bytes per dot.
  void IndexDots();
  bool dots_indexed() const { return dot_index_.dots != nullptr; }

  // The index IndexDots builds (list_state.cc); not for other callers.
  // Behind an interface so that a program that never calls IndexDots (the
  // browser's module) does not carry its code.
  class DotIndex {
   public:
    virtual ~DotIndex() = default;
    virtual void Add(const std::string& key, const Item& item) = 0;
    virtual void Remove(const std::string& key, const Item& item) = 0;
    // Calls `unknown` with the key of each item holding a dot outside
    // `known` (an item may come more than once).
    virtual void ForEachUnknown(
        const CausalContext& known,
        const std::function<void(const std::string&)>& unknown) const = 0;
  };

  ListView View() const;
  // The item `name` (as typed) finds, visible or not; nullopt when the
  // list has no record of it. ItemAt takes the exact key.
  std::optional<ItemView> ItemViewOf(absl::string_view name) const;
  std::optional<ItemView> ItemAt(const std::string& key) const;
  // The key of the item `name` finds: ItemKey(name), or a key from before
  // keys were normalized whose ItemKey is the same (a visible one first).
  std::string KeyOf(absl::string_view name) const;
  // Items currently on the list.
  size_t VisibleItems() const;
  std::vector<std::string> Aisles() const;

  bool deleted() const { return deleted_; }
  // Holds no change, at most a context: a delta that needs no write.
  bool carries_no_change() const {
    return !deleted_ && !title_ && items_.empty() && !aisles_.set() &&
           authors_.empty() && !access_.set();
  }
  bool empty() const {
    return !deleted_ && !title_ && items_.empty() && context_.empty() &&
           !aisles_.set() && authors_.empty() && !access_.set();
  }
  const CausalContext& context() const { return context_; }
  const std::optional<Title>& title() const { return title_; }
  const Items& items() const { return items_; }
  const Register& aisles() const { return aisles_; }
  const Authors& authors() const { return authors_; }
  const Register& access() const { return access_; }

  friend bool operator==(const ListState&, const ListState&) = default;

 private:
  absl::Status CheckWritable() const;
  // Records and returns the dot of a new change by `writer`.
  Dot NewDot(const Writer& writer);
  // Applies `change` to the writer's entry of item `name` under a new dot
  // and returns the delta holding the whole item.
  template <typename Change>
  ListState ChangeItem(const Writer& writer, const std::string& key,
                       Change change);
  // Writes `value` into the register `field` of item `key` as a new change
  // and returns the delta holding that register alone.
  ListState ChangeRegister(const Writer& writer, const std::string& key,
                           Register& (Item::*field)(), absl::string_view value);
  // Writes `value` into the list-level register `field` (the aisle order,
  // the access record) as a new change and returns the delta holding it.
  ListState ChangeListRegister(const Writer& writer, Register ListState::*field,
                               absl::string_view value);
  // Takes `item` off the list as change `dot`: resets every entry it
  // observes (the writer's own too) and clears its note.
  void TakeOff(const Writer& writer, Dot dot, Item& item);
  // Writes `value` into `reg` as change `dot`, ordered after what it held.
  void WriteRegister(const Writer& writer, Dot dot, Register& reg,
                     absl::string_view value);
  // Adds the writer's display name to this state and `delta` when new.
  void RecordAuthor(const Writer& writer, ListState& delta);
  // The visible item `name` finds, or NOT_FOUND.
  absl::StatusOr<Items::iterator> FindVisible(absl::string_view name);
  ItemView ViewOf(const std::string& key, const Item& item) const;
  absl::StatusOr<ListState> SetTitle(Writer writer, absl::string_view title,
                                     uint64_t now_micros);

  CausalContext context_;
  std::optional<Title> title_;
  Items items_;
  Register aisles_;
  Authors authors_;
  Register access_;
  bool deleted_ = false;
  // Some key may not be normalized (written before keys were): only then
  // must KeyOf look beyond ItemKey(name). A cache, not part of the value.
  struct LegacyKeys {
    bool maybe = false;
    friend bool operator==(const LegacyKeys&, const LegacyKeys&) {
      return true;
    }
  } legacy_keys_;
  // A cache, not part of the value: null unless IndexDots built it.
  struct DotIndexHolder {
    std::unique_ptr<DotIndex> dots;
    DotIndexHolder() = default;
    DotIndexHolder(const DotIndexHolder&) {}
    DotIndexHolder& operator=(const DotIndexHolder&) {
      dots.reset();
      return *this;
    }
    DotIndexHolder(DotIndexHolder&&) noexcept = default;
    DotIndexHolder& operator=(DotIndexHolder&&) noexcept = default;
    friend bool operator==(const DotIndexHolder&, const DotIndexHolder&) {
      return true;
    }
  } dot_index_;
};

// A valid item name or title: at most kMaxNameBytes of valid UTF-8, and for
// names not empty. `what` names the field in the error.
absl::Status ValidateName(absl::string_view name, absl::string_view what,
                          bool allow_empty = false);
absl::Status ValidateCount(int64_t count, absl::string_view what);
// A note: at most kMaxNoteBytes of valid UTF-8 (empty is none).
absl::Status ValidateNote(absl::string_view note);

}  // namespace shoplist::crdt

#endif  // SHOPLIST_CRDT_LIST_STATE_H_
