#include "clients/core/local_store.h"

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "leveldb/write_batch.h"

static_assert(shoplist::client::kReplicaIdKey ==
              shoplist::storage::kReplicaIdKey);

namespace shoplist::client {
std::string ResolveHome(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* home = std::getenv("SHOPLIST_HOME"); home && *home) {
    return home;
  }
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    return absl::StrCat(xdg, "/shoplist");
  }
  const char* home = std::getenv("HOME");
  return absl::StrCat(home ? home : ".", "/.local/share/shoplist");
}

absl::StatusOr<std::unique_ptr<LocalStore>> LocalStore::Open(
    const std::string& home, absl::Duration wait, leveldb::Env* env) {
  std::error_code error;
  std::filesystem::create_directories(home, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", home, ": ", error.message()));
  }
  storage::DbOptions options;
  options.env = env;
  options.lock_wait = wait;
  absl::StatusOr<std::unique_ptr<storage::RecoveringDb>> db =
      storage::RecoveringDb::Open(home + "/db", std::move(options));
  if (!db.ok()) {
    // Another shoplist-cli (or `ui`, or `watch` applying a change) held it
    // past `wait`, or the disk refused.
    return absl::UnavailableError(absl::StrCat("cannot open the home ", home,
                                               ": ", db.status().message()));
  }
  return std::unique_ptr<LocalStore>(new LocalStore(*std::move(db)));
}

absl::StatusOr<std::optional<std::string>> LocalStore::Read(
    const std::string& key) {
  absl::StatusOr<std::string> bytes = db_->Read(key);
  if (absl::IsNotFound(bytes.status())) return std::nullopt;
  if (!bytes.ok()) return bytes.status();
  return *std::move(bytes);
}

absl::Status LocalStore::Scan(
    absl::string_view prefix,
    const std::function<absl::Status(absl::string_view key,
                                     absl::string_view value)>& visit) {
  absl::Status visited;
  std::string key(prefix);
  absl::Status scanned =
      db_->Scan(prefix, [&](absl::string_view rest, absl::string_view value) {
        key.resize(prefix.size());
        key.append(rest.data(), rest.size());
        visited = visit(key, value);
        return visited.ok();
      });
  if (!scanned.ok()) return scanned;
  return visited;
}

absl::Status LocalStore::Write(const Batch& batch) {
  if (batch.empty()) return absl::OkStatus();
  leveldb::WriteBatch writes;
  for (const Batch::Write& write : batch.writes) {
    switch (write.kind) {
      case Batch::Write::Kind::kPut:
        writes.Put(write.key, write.value);
        break;
      case Batch::Write::Kind::kDelete:
        writes.Delete(write.key);
        break;
      case Batch::Write::Kind::kDeletePrefix: {
        absl::Status scanned =
            Scan(write.key, [&](absl::string_view key, absl::string_view) {
              writes.Delete(leveldb::Slice(key.data(), key.size()));
              return absl::OkStatus();
            });
        if (!scanned.ok()) return scanned;
        break;
      }
    }
  }
  return db_->Write(&writes, "the home");
}

absl::StatusOr<std::optional<LocalList>> LocalStore::Load(
    const std::string& id) {
  absl::StatusOr<std::optional<std::string>> bytes = Read(ListKey(id));
  if (!bytes.ok()) return bytes.status();
  if (!*bytes) return std::nullopt;
  absl::StatusOr<LocalList> list = DecodeList(id, **bytes);
  if (!list.ok()) return list.status();
  return *std::move(list);
}

}  // namespace shoplist::client
