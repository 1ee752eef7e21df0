// A home's storage on this device: the records of records.h in a LevelDB.
// Every write is one synced batch: a change reported as done survives a
// kill at any moment.
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

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "clients/core/records.h"
#include "leveldb/env.h"
#include "storage/recovering_db.h"

namespace shoplist::client {

class LocalStore {
 public:
  // Opens (creating) the store in `home`, waiting up to `wait` while another
  // process holds it. UNAVAILABLE when it stays busy. `env` is the file
  // system (null: the real one; not owned).
  static absl::StatusOr<std::unique_ptr<LocalStore>> Open(
      const std::string& home, absl::Duration wait = absl::Seconds(5),
      leveldb::Env* env = nullptr);

  // The record `key`; nullopt when there is none.
  absl::StatusOr<std::optional<std::string>> Read(const std::string& key);
  // Calls `visit` with every record whose key starts with `prefix`, in key
  // order, until it returns an error (which Scan returns).
  absl::Status Scan(
      absl::string_view prefix,
      const std::function<absl::Status(absl::string_view key,
                                       absl::string_view value)>& visit);
  // Commits `batch` atomically and durably. An empty batch writes nothing.
  absl::Status Write(const Batch& batch);

  // The stored list `id`, decoded; nullopt when it is not in this home.
  absl::StatusOr<std::optional<LocalList>> Load(const std::string& id);

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
