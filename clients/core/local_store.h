// A home's storage: a LevelDB holding this home's replica id, its
// settings (the person's display name, the category last given to each
// item name) and, per list, one LocalList record (state, pending changes
// and undo steps together, so one sync write is the whole change) and the
// list's bounded history. Every write is synced to disk before it
// returns: a change reported as done survives a kill at any moment.
//
// Built on storage::RecoveringDb, like the node's and the proxy's stores:
// a write the disk refuses is UNAVAILABLE and leaves the home as it was;
// damaged bytes are DATA_LOSS.
//
// Only Home (home.h) uses this. LevelDB admits one process at a time;
// Open waits briefly for another process (a CLI command, a page, a watch)
// to close the home. Not thread-safe: Home serialises its own use.
#ifndef SHOPLIST_CLIENTS_CORE_LOCAL_STORE_H_
#define SHOPLIST_CLIENTS_CORE_LOCAL_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "access/capability.h"
#include "crdt/list_state.h"
#include "leveldb/env.h"
#include "shoplist/v1/local.pb.h"
#include "storage/recovering_db.h"

namespace shoplist::client {

struct LocalList {
  std::string id;
  crdt::ListState state;
  crdt::ListState pending;
  bool on_server = false;
  bool awaiting_fetch = false;
  // Undo steps of this home's changes, the latest last (kMaxUndoSteps).
  std::vector<v1::UndoStep> undo;
  uint64_t log_next = 0;  // sequence number of the next history event
  // The link this home holds the list by: its secret (empty for an open
  // list), the capability it names, and whether the cloud stopped taking
  // it (local.proto).
  std::string secret;
  access::Capability link_capability = access::Capability::kNone;
  bool access_lost = false;

  // Pending changes, counted as items and title changes they carry.
  size_t UnsyncedChanges() const;
};

// The history a home keeps per list, and the undo steps.
inline constexpr size_t kMaxLogEvents = 1'000;
inline constexpr size_t kMaxUndoSteps = 100;

class LocalStore {
 public:
  // Opens (creating) the store in `home`, waiting up to `wait` while another
  // process holds it. UNAVAILABLE when it stays busy. `env` is the file
  // system (null: the real one; not owned).
  static absl::StatusOr<std::unique_ptr<LocalStore>> Open(
      const std::string& home, absl::Duration wait = absl::Seconds(5),
      leveldb::Env* env = nullptr);

  // This home's replica id: created once, then stable.
  absl::StatusOr<uint64_t> ReplicaId();
  absl::StatusOr<std::vector<std::string>> ListIds();
  // nullopt when the list is not in this home.
  absl::StatusOr<std::optional<LocalList>> Load(const std::string& id);
  // Stores `list` and appends `events` to its history in one synced write,
  // dropping events past the last kMaxLogEvents (advances list.log_next).
  absl::Status Save(LocalList& list,
                    absl::Span<const v1::LogEvent> events = {});
  // Removes the list and its history.
  absl::Status Forget(const std::string& id);
  // The list's history, newest first, at most `limit` events.
  absl::StatusOr<std::vector<v1::LogEvent>> Log(const std::string& id,
                                                size_t limit);

  // Small settings by name; nullopt when never set.
  absl::StatusOr<std::optional<std::string>> Setting(const std::string& key);
  absl::Status SetSetting(const std::string& key, const std::string& value);

 private:
  explicit LocalStore(std::unique_ptr<storage::RecoveringDb> db)
      : db_(std::move(db)) {}
  const std::unique_ptr<storage::RecoveringDb> db_;
};

// The home folder: `flag` if set, else $SHOPLIST_HOME, else
// $XDG_DATA_HOME/shoplist, else ~/.local/share/shoplist.
std::string ResolveHome(const std::string& flag);

}  // namespace shoplist::client

#endif  // SHOPLIST_CLIENTS_CORE_LOCAL_STORE_H_
