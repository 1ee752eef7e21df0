#include "clients/core/local_store.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "leveldb/write_batch.h"
#include "shoplist/v1/local.pb.h"

namespace shoplist::client {
namespace {

constexpr char kListPrefix[] = "list/";
constexpr char kReplicaIdKey[] = "meta/replica_id";
constexpr char kSettingPrefix[] = "setting/";

std::string LogPrefix(const std::string& id) {
  return absl::StrCat("log/", id, "/");
}
// Zero-padded so that keys sort by sequence.
std::string LogKey(const std::string& id, uint64_t seq) {
  return absl::StrFormat("log/%s/%020u", id, seq);
}

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
  return pending.items().size() + (pending.title() ? 1 : 0) +
         (pending.aisles().set() ? 1 : 0);
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
    const std::string& home, absl::Duration wait, leveldb::Env* env) {
  std::error_code error;
  std::filesystem::create_directories(home, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", home, ": ", error.message()));
  }
  leveldb::Options options;
  options.create_if_missing = true;
  if (env != nullptr) options.env = env;
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
  list.undo.assign(record.undo().begin(), record.undo().end());
  list.log_next = record.log_next();
  return list;
}

absl::Status LocalStore::Save(LocalList& list,
                              absl::Span<const v1::LogEvent> events) {
  leveldb::WriteBatch batch;
  for (const v1::LogEvent& event : events) {
    batch.Put(LogKey(list.id, list.log_next), event.SerializeAsString());
    if (list.log_next >= kMaxLogEvents) {
      batch.Delete(LogKey(list.id, list.log_next - kMaxLogEvents));
    }
    ++list.log_next;
  }
  if (list.undo.size() > kMaxUndoSteps) {
    list.undo.erase(list.undo.begin(),
                    list.undo.end() - static_cast<long>(kMaxUndoSteps));
  }
  v1::LocalList record;
  record.set_list_id(list.id);
  codec::EncodeState(list.state, record.mutable_state());
  codec::EncodeState(list.pending, record.mutable_pending());
  record.set_on_server(list.on_server);
  record.set_awaiting_fetch(list.awaiting_fetch);
  for (const v1::UndoStep& step : list.undo) *record.add_undo() = step;
  record.set_log_next(list.log_next);
  batch.Put(absl::StrCat(kListPrefix, list.id), record.SerializeAsString());
  return FromLevelDb(db_->Write(Synced(), &batch));
}

absl::Status LocalStore::Forget(const std::string& id) {
  leveldb::WriteBatch batch;
  batch.Delete(absl::StrCat(kListPrefix, id));
  const std::string prefix = LogPrefix(id);
  std::unique_ptr<leveldb::Iterator> it(
      db_->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    batch.Delete(it->key());
  }
  return FromLevelDb(db_->Write(Synced(), &batch));
}

absl::StatusOr<std::vector<v1::LogEvent>> LocalStore::Log(const std::string& id,
                                                          size_t limit) {
  std::vector<v1::LogEvent> events;
  const std::string prefix = LogPrefix(id);
  std::unique_ptr<leveldb::Iterator> it(
      db_->NewIterator(leveldb::ReadOptions()));
  // Newest first: from just past the last key, backwards.
  it->Seek(absl::StrCat(prefix, "~"));
  it->Valid() ? it->Prev() : it->SeekToLast();
  for (; it->Valid() && it->key().starts_with(prefix) && events.size() < limit;
       it->Prev()) {
    v1::LogEvent event;
    if (!event.ParseFromArray(it->value().data(),
                              static_cast<int>(it->value().size()))) {
      return absl::DataLossError(
          absl::StrCat("the history of ", id, " is damaged"));
    }
    events.push_back(std::move(event));
  }
  if (!it->status().ok()) return FromLevelDb(it->status());
  return events;
}

absl::StatusOr<std::optional<std::string>> LocalStore::Setting(
    const std::string& key) {
  std::string value;
  leveldb::Status s = db_->Get(leveldb::ReadOptions(),
                               absl::StrCat(kSettingPrefix, key), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromLevelDb(s);
  return value;
}

absl::Status LocalStore::SetSetting(const std::string& key,
                                    const std::string& value) {
  return FromLevelDb(
      db_->Put(Synced(), absl::StrCat(kSettingPrefix, key), value));
}

}  // namespace shoplist::client
