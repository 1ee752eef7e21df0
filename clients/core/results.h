// What a Home's calls return: plain structs, no text. The front-ends (the
// CLI's printers, the page's JSON API) decide how each is shown; the JSON
// form of every one is documented in docs/json.md.
#ifndef SHOPLIST_CLIENTS_CORE_RESULTS_H_
#define SHOPLIST_CLIENTS_CORE_RESULTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace shoplist::client {

struct ItemInfo {
  std::string key;   // the normalized name that makes it one item
  std::string name;  // as the latest adder typed it
  int64_t wanted = 0;
  int64_t bought = 0;
  std::string note;
  std::string category;
  // Who changed it last (a display name; empty when that writer gave
  // none) and when, by that writer's clock.
  std::string changed_by;
  absl::Time changed_at = absl::UnixEpoch();
  // Everything wanted is bought (and something was wanted).
  bool done() const { return wanted > 0 && bought >= wanted; }
  friend bool operator==(const ItemInfo&, const ItemInfo&) = default;
};

// One event of a list's history (Home::Log), or of one change.
struct LogEntry {
  // "add", "remove", "take_off", "buy", "unbuy", "note", "category",
  // "rename", "aisles" (crdt::KindName).
  std::string kind;
  std::string item;  // empty for list events
  int64_t count = 0;
  std::string text;    // the new note, category, title or aisle order
  std::string by;      // display name; empty when the writer gave none
  bool by_me = false;  // made in this home
  absl::Time at = absl::UnixEpoch();
};

// What this home may do with a list (docs/sharing.md).
enum class Access {
  kOpen,     // made before links existed: anyone with its id may do anything
  kOwner,    // change it, delete it, hand out links, revoke them
  kEdit,     // change its items, title and aisles; hand out read links
  kRead,     // see and watch it
  kRevoked,  // the cloud no longer takes this home's link
};

// "open", "owner", "edit", "read", "revoked": the words of --json.
inline const char* AccessName(Access access) {
  switch (access) {
    case Access::kOpen:
      return "open";
    case Access::kOwner:
      return "owner";
    case Access::kEdit:
      return "edit";
    case Access::kRead:
      return "read";
    case Access::kRevoked:
      return "revoked";
  }
  return "revoked";
}

// A list as this home has it.
struct ListInfo {
  enum class Phase {
    kReady,          // the home holds the list
    kAwaitingFetch,  // joined while offline; the next sync fetches it
    kDeleting,       // deleted here while offline; the next sync tells all
  };
  std::string id;
  std::string title;  // empty while awaiting fetch
  Phase phase = Phase::kReady;
  // Visible items in display order (crdt::ListView): to buy first, then
  // bought; by aisle in the list's order; by name within an aisle.
  std::vector<ItemInfo> items;
  std::vector<std::string> aisles;  // the list's order of categories
  // Changes this home can undo.
  size_t undoable = 0;
  // Changes made here that the cloud has not acknowledged (items and
  // titles they touch; a deletion counts one).
  size_t unsynced = 0;
  // The cloud acknowledged this list at least once: others can join it.
  bool in_cloud = false;
  Access access = Access::kOpen;
  // Whether this home may change the items, the title and the aisles.
  bool can_edit() const {
    return access == Access::kOpen || access == Access::kOwner ||
           access == Access::kEdit;
  }

  // Items with something still to buy.
  size_t to_buy() const;
};

// How one list's exchange with the cloud went.
struct SyncReport {
  enum class Outcome {
    kSynced,            // changes stored in the cloud, others' merged in
    kOffline,           // no proxy answered; everything stays in the home
    kDeletedElsewhere,  // someone deleted the list; gone from this home
    kDeleted,           // this home's deletion reached the cloud
    kFailed,            // the cloud refused; `error` says why
  };
  std::string id;
  std::string title;
  Outcome outcome = Outcome::kOffline;
  // kDeletedElsewhere: changes made here that went with the list.
  size_t dropped_changes = 0;
  std::string error;  // kFailed only
};

// A change (new, add, remove, buy, rename): stored in the home first, then
// synced. Offline is not an error: `sync` says so.
struct ChangeResult {
  ListInfo list;  // after the change and the sync
  // The item the change touched (its name as stored, typed names being
  // trimmed); empty for title changes.
  std::string item_name;
  // That item as it is now; nullopt for title changes and removed items.
  std::optional<ItemInfo> item;
  // What the change did, as history events (for an undo: what it took
  // back). Empty when it changed nothing.
  std::vector<LogEntry> events;
  SyncReport sync;
};

// A link to give others (Home::Share).
struct ShareResult {
  ListInfo list;
  // "<id>_<r|e|o>_<secret>"; for an open list, its bare id.
  std::string link;
  // What the link gives: kOwner, kEdit or kRead; kOpen for an open list.
  Access gives = Access::kOpen;
};

// A revocation (Home::Revoke): the list's new links, usable at once. Every
// earlier read and edit link stops working as the cloud learns of it.
struct RevokeResult {
  ListInfo list;
  std::string read_link;
  std::string edit_link;
  SyncReport sync;  // kOffline: the cloud learns at the next sync
};

struct JoinResult {
  ListInfo list;
  // false when the list was already in this home (nothing was done).
  bool joined = true;
  SyncReport sync;  // kOffline: the list fills in at the next sync
};

struct ForgetResult {
  ListInfo list;  // as it was before it was forgotten
};

struct DeleteResult {
  ListInfo list;  // as it was before the deletion
  // kDeleted (done, for everyone), kOffline (everyone learns at the next
  // sync) or kDeletedElsewhere. A list that never reached the cloud is
  // deleted at once and reported kDeleted.
  SyncReport sync;
};

// An item this home has had before, offered again (suggest.h): a name
// typed before, or one bought on a list and no longer on it.
struct Suggestion {
  std::string name;      // as last added (or bought)
  std::string category;  // this home's aisle for it; empty when none
  int64_t count = 0;     // how many were added (bought) the last time
  size_t uses = 0;       // times added (bought) in the history kept
  absl::Time last = absl::UnixEpoch();  // when last added (bought)
  friend bool operator==(const Suggestion&, const Suggestion&) = default;
};

// One batch of others' changes to a watched list, merged into the home.
struct WatchEvent {
  struct Change {
    std::string name;
    int64_t wanted = 0;
    int64_t bought = 0;
    bool removed = false;
  };
  std::string id;
  std::string title;  // as it is now
  absl::Time at;
  bool title_changed = false;
  bool aisles_changed = false;
  std::vector<std::string> aisles;  // the order, when it changed
  std::vector<Change> changes;      // items that differ, by name
  bool deleted = false;             // the list was deleted; the watch ends
};

}  // namespace shoplist::client

#endif  // SHOPLIST_CLIENTS_CORE_RESULTS_H_
