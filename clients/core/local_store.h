// A home's storage: a LevelDB holding this home's replica id and, per
// list, one LocalList record (state and pending changes together, so one
// sync write is the whole change). Every write is synced to disk before it
// returns: a change reported as done survives a kill at any moment.
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
#include "crdt/list_state.h"
#include "leveldb/db.h"

namespace shoplist::client {

struct LocalList {
  std::string id;
  crdt::ListState state;
  crdt::ListState pending;
  bool on_server = false;
  bool awaiting_fetch = false;

  // Pending changes, counted as items and title changes they carry.
  size_t UnsyncedChanges() const;
};

class LocalStore {
 public:
  // Opens (creating) the store in `home`, waiting up to `wait` while another
  // process holds it. UNAVAILABLE when it stays busy.
  static absl::StatusOr<std::unique_ptr<LocalStore>> Open(
      const std::string& home, absl::Duration wait = absl::Seconds(5));

  // This home's replica id: created once, then stable.
  absl::StatusOr<uint64_t> ReplicaId();
  absl::StatusOr<std::vector<std::string>> ListIds();
  // nullopt when the list is not in this home.
  absl::StatusOr<std::optional<LocalList>> Load(const std::string& id);
  absl::Status Save(const LocalList& list);
  absl::Status Forget(const std::string& id);

 private:
  explicit LocalStore(std::unique_ptr<leveldb::DB> db) : db_(std::move(db)) {}
  std::unique_ptr<leveldb::DB> db_;
};

// The home folder: `flag` if set, else $SHOPLIST_HOME, else
// $XDG_DATA_HOME/shoplist, else ~/.local/share/shoplist.
std::string ResolveHome(const std::string& flag);

}  // namespace shoplist::client

#endif  // SHOPLIST_CLIENTS_CORE_LOCAL_STORE_H_
