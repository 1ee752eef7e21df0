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
//  - Title: last-writer-wins on (timestamp, replica, counter).
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
#include <optional>
#include <string>
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

  // Changed since its last observed removal.
  bool Live() const { return counter > reset_counter; }
  friend bool operator==(const ItemEntry&, const ItemEntry&) = default;
};

class Item {
 public:
  using Entries = absl::InlinedVector<std::pair<ReplicaId, ItemEntry>, 2>;

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

  friend bool operator==(const Item&, const Item&) = default;

 private:
  Entries entries_;
};

// Who makes a change. Clients use their replica id alone: the next counter
// is one past the largest the state has seen. A node applying operations
// for thin clients may not have seen its own earlier changes to a list (it
// is not always a replica of it), so it passes a counter it reserved
// durably; the larger of the two is used.
struct Writer {
  Writer(ReplicaId r) : replica(r) {}  // NOLINT: a replica id is a writer
  Writer(ReplicaId r, uint64_t counter)
      : replica(r), reserved_counter(counter) {}
  ReplicaId replica;
  uint64_t reserved_counter = 0;
};

struct Title {
  std::string value;
  uint64_t timestamp_micros = 0;
  Dot dot;

  friend bool operator==(const Title&, const Title&) = default;
};

// What the list means now, for display.
struct ItemView {
  std::string name;
  int64_t wanted = 0;  // >= 0
  int64_t bought = 0;  // >= 0
  friend bool operator==(const ItemView&, const ItemView&) = default;
};
struct ListView {
  std::string title;
  std::vector<ItemView> items;  // visible items, sorted by name
  bool deleted = false;
};

class ListState {
 public:
  using Items = absl::btree_map<std::string, Item, std::less<>>;

  ListState() = default;

  // Assembles a decoded state and validates it (see Validate()).
  static absl::StatusOr<ListState> FromParts(CausalContext context,
                                             std::optional<Title> title,
                                             Items items, bool deleted);
  static ListState Tombstone();

  // Checks what a decoder cannot: names are 1..kMaxNameBytes of valid UTF-8
  // (titles may be empty), counters >= 1, resets never ahead of their
  // entry, quantities within kMaxAbsQuantity, every dot inside the context,
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
  // Want `count` more of `name`; adds the item when absent.
  absl::StatusOr<ListState> Add(Writer writer, absl::string_view name,
                                int64_t count);
  // Want `count` fewer, never below zero; an empty delta when already zero.
  absl::StatusOr<ListState> Remove(Writer writer, absl::string_view name,
                                   int64_t count);
  // Takes the item off the list: clears what this replica has observed.
  absl::StatusOr<ListState> RemoveItem(Writer writer, absl::string_view name);
  // Mark `count` bought; count 0 means all still wanted (an empty delta when
  // nothing is).
  absl::StatusOr<ListState> Buy(Writer writer, absl::string_view name,
                                int64_t count);
  // Deletes the list for everyone; the state becomes the tombstone.
  ListState Delete();

  // Joins `other` (a state or a delta) into this state.
  void Merge(const ListState& other);

  // What a replica that has seen `known` lacks: every item or title changed
  // by a dot outside `known`, with this state's whole context. Merging the
  // result into such a replica gives it everything this state has.
  ListState DeltaSince(const CausalContext& known) const;

  ListView View() const;
  // Items currently on the list.
  size_t VisibleItems() const;

  bool deleted() const { return deleted_; }
  bool empty() const {
    return !deleted_ && !title_ && items_.empty() && context_.empty();
  }
  const CausalContext& context() const { return context_; }
  const std::optional<Title>& title() const { return title_; }
  const Items& items() const { return items_; }

  friend bool operator==(const ListState&, const ListState&) = default;

 private:
  absl::Status CheckWritable() const;
  // Records and returns the dot of a new change by `writer`.
  Dot NewDot(const Writer& writer);
  // Applies `change` to the writer's entry of item `name` under a new dot
  // and returns the delta holding the whole item.
  template <typename Change>
  ListState ChangeItem(Writer writer, absl::string_view name, Change change);
  absl::StatusOr<ListState> SetTitle(Writer writer, absl::string_view title,
                                     uint64_t now_micros);

  CausalContext context_;
  std::optional<Title> title_;
  Items items_;
  bool deleted_ = false;
};

// A valid item name or title: at most kMaxNameBytes of valid UTF-8, and for
// names not empty. `what` names the field in the error.
absl::Status ValidateName(absl::string_view name, absl::string_view what,
                          bool allow_empty = false);
absl::Status ValidateCount(int64_t count, absl::string_view what);

}  // namespace shoplist::crdt

#endif  // SHOPLIST_CRDT_LIST_STATE_H_
