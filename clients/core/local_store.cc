#include "clients/core/local_store.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "shoplist/v1/local.pb.h"

namespace shoplist::client {
namespace {

constexpr char kListPrefix[] = "list/";
constexpr char kReplicaIdKey[] = "meta/replica_id";

absl::Status FromLevelDb(const leveldb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsCorruption()) return absl::DataLossError(s.ToString());
  return absl::InternalError(s.ToString());
}

leveldb::WriteOptions Synced() {
  leveldb::WriteOptions options;
  options.sync = true;
  return options;
}

}  // namespace

size_t LocalList::UnsyncedChanges() const {
  if (pending.deleted()) return 1;
  return pending.items().size() + (pending.title() ? 1 : 0);
}

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
    const std::string& home, absl::Duration wait) {
  std::error_code error;
  std::filesystem::create_directories(home, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", home, ": ", error.message()));
  }
  leveldb::Options options;
  options.create_if_missing = true;
  absl::Time deadline = absl::Now() + wait;
  while (true) {
    leveldb::DB* db = nullptr;
    leveldb::Status s = leveldb::DB::Open(options, home + "/db", &db);
    if (s.ok()) {
      return std::unique_ptr<LocalStore>(
          new LocalStore(std::unique_ptr<leveldb::DB>(db)));
    }
    // Another shoplist-cli (or `ui`, or `watch` applying a change) holds
    // the lock for a moment.
    bool busy = s.IsIOError() && s.ToString().find("lock") != std::string::npos;
    if (!busy) {
      return absl::UnavailableError(
          absl::StrCat("cannot open ", home, ": ", s.ToString()));
    }
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(
          absl::StrCat(home, " is in use by another shoplist-cli; try again"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::StatusOr<uint64_t> LocalStore::ReplicaId() {
  std::string bytes;
  leveldb::Status s = db_->Get(leveldb::ReadOptions(), kReplicaIdKey, &bytes);
  if (s.ok()) {
    if (bytes.size() != sizeof(uint64_t)) {
      return absl::DataLossError("the home's replica id is damaged");
    }
    uint64_t id;
    std::memcpy(&id, bytes.data(), sizeof id);
    return id;
  }
  if (!s.IsNotFound()) return FromLevelDb(s);
  absl::StatusOr<uint64_t> id = crdt::NewReplicaId();
  if (!id.ok()) return id.status();
  bytes.assign(reinterpret_cast<const char*>(&*id), sizeof(uint64_t));
  if (absl::Status st = FromLevelDb(db_->Put(Synced(), kReplicaIdKey, bytes));
      !st.ok()) {
    return st;
  }
  return *id;
}

absl::StatusOr<std::vector<std::string>> LocalStore::ListIds() {
  std::vector<std::string> ids;
  std::unique_ptr<leveldb::Iterator> it(
      db_->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(kListPrefix); it->Valid() && it->key().starts_with(kListPrefix);
       it->Next()) {
    ids.push_back(it->key().ToString().substr(sizeof(kListPrefix) - 1));
  }
  if (!it->status().ok()) return FromLevelDb(it->status());
  return ids;
}

absl::StatusOr<std::optional<LocalList>> LocalStore::Load(
    const std::string& id) {
  std::string bytes;
  leveldb::Status s =
      db_->Get(leveldb::ReadOptions(), absl::StrCat(kListPrefix, id), &bytes);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromLevelDb(s);
  v1::LocalList record;
  if (!record.ParseFromString(bytes)) {
    return absl::DataLossError(
        absl::StrCat("local copy of ", id, " is damaged"));
  }
  LocalList list;
  list.id = id;
  absl::StatusOr<crdt::ListState> state = codec::DecodeState(record.state());
  absl::StatusOr<crdt::ListState> pending =
      codec::DecodeState(record.pending());
  if (!state.ok() || !pending.ok()) {
    return absl::DataLossError(
        absl::StrCat("local copy of ", id, " is invalid"));
  }
  list.state = *std::move(state);
  list.pending = *std::move(pending);
  list.on_server = record.on_server();
  list.awaiting_fetch = record.awaiting_fetch();
  return list;
}

absl::Status LocalStore::Save(const LocalList& list) {
  v1::LocalList record;
  record.set_list_id(list.id);
  codec::EncodeState(list.state, record.mutable_state());
  codec::EncodeState(list.pending, record.mutable_pending());
  record.set_on_server(list.on_server);
  record.set_awaiting_fetch(list.awaiting_fetch);
  return FromLevelDb(db_->Put(Synced(), absl::StrCat(kListPrefix, list.id),
                              record.SerializeAsString()));
}

absl::Status LocalStore::Forget(const std::string& id) {
  return FromLevelDb(db_->Delete(Synced(), absl::StrCat(kListPrefix, id)));
}

}  // namespace shoplist::client
