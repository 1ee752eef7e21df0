// What a change did to a list, as people read it: the difference between
// a state before and after a change or a merge, and the events of a list's
// history derived from it.
//
// A home diffs its replica around every change it makes and every delta it
// merges; the events go into its bounded local history (`shoplist-cli
// log`), and the differences of its own changes tell how to undo them
// (codec/undo.h). Only items the delta holds are compared, so the cost is
// proportional to the delta, not to the list.
//
// Pure and thread-compatible.
#ifndef SHOPLIST_CRDT_LIST_DIFF_H_
#define SHOPLIST_CRDT_LIST_DIFF_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crdt/list_state.h"

namespace shoplist::crdt {

struct ItemChange {
  // The item before and after; nullopt when the state had no record of
  // it. A record may be invisible (ItemView::visible false).
  std::optional<ItemView> before;
  ItemView after;
};

struct ListDiff {
  std::optional<std::string> title_before;  // set when the title changed
  std::string title_after;
  // Set when the aisle order changed.
  std::optional<std::vector<std::string>> aisles_before;
  std::vector<std::string> aisles_after;
  // The access record changed: links were made or revoked.
  bool access_changed = false;
  // Items whose view changed, in key order.
  std::vector<ItemChange> items;
  // Who made the title, aisle and access changes, and when.
  ReplicaId title_by = 0, aisles_by = 0, access_by = 0;
  uint64_t title_at_micros = 0, aisles_at_micros = 0, access_at_micros = 0;

  bool empty() const {
    return !title_before && !aisles_before && !access_changed && items.empty();
  }
};

// The difference `delta` made between `before` and `after` (after is
// before merged with delta). A deleted `after` gives an empty diff.
ListDiff Diff(const ListState& before, const ListState& after,
              const ListState& delta);

// One event of a list's history.
struct ListEvent {
  enum class Kind {
    kAdd,       // count more wanted (the item new or back on the list)
    kRemove,    // count fewer wanted
    kTakeOff,   // the item was taken off the list
    kBuy,       // count more bought
    kUnbuy,     // count fewer bought
    kNote,      // text: the new note (empty: cleared)
    kCategory,  // text: the new category
    kRename,    // text: the new title
    kAisles,    // text: the new order, names joined by ", "
    kAccess,    // the links changed (a list closed, or links revoked)
  };
  Kind kind;
  std::string item;  // display name; empty for list events
  int64_t count = 0;
  std::string text;
  ReplicaId by = 0;
  std::string by_name;  // empty when the writer gave none
  uint64_t at_micros = 0;
};

// The events of `diff`, list events first, then items in key order.
// `after` names the writers.
std::vector<ListEvent> EventsOf(const ListDiff& diff, const ListState& after);

// "add", "remove", "take_off", "buy", "unbuy", "note", "category",
// "rename", "aisles", "access": the kind as front-ends and the stored history
// spell it. KindFromName is nullopt for any other text.
const char* KindName(ListEvent::Kind kind);
std::optional<ListEvent::Kind> KindFromName(absl::string_view name);

}  // namespace shoplist::crdt

#endif  // SHOPLIST_CRDT_LIST_DIFF_H_
