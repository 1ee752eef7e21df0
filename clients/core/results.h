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
  std::string name;
  int64_t wanted = 0;
  int64_t bought = 0;
  // Everything wanted is bought (and something was wanted).
  bool done() const { return wanted > 0 && bought >= wanted; }
  friend bool operator==(const ItemInfo&, const ItemInfo&) = default;
};

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
  std::vector<ItemInfo> items;  // visible items, sorted by name
  // Changes made here that the cloud has not acknowledged (items and
  // titles they touch; a deletion counts one).
  size_t unsynced = 0;
  // The cloud acknowledged this list at least once: others can join it.
  bool in_cloud = false;

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
  SyncReport sync;
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
  std::vector<Change> changes;  // items that differ, by name
  bool deleted = false;         // the list was deleted; the watch ends
};

}  // namespace shoplist::client

#endif  // SHOPLIST_CLIENTS_CORE_RESULTS_H_
