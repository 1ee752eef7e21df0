#include "clients/core/local_store.h"

#include <cstdlib>
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
constexpr char kSettingPrefix[] = "setting/";

std::string LogPrefix(const std::string& id) {
  return absl::StrCat("log/", id, "/");
}
// Zero-padded so that keys sort by sequence.
std::string LogKey(const std::string& id, uint64_t seq) {
  return absl::StrFormat("log/%s/%020u", id, seq);
}

}  // namespace

size_t LocalList::UnsyncedChanges() const {
  if (pending.deleted()) return 1;
  return pending.items().size() + (pending.title() ? 1 : 0) +
         (pending.aisles().set() ? 1 : 0) + (pending.access().set() ? 1 : 0);
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

absl::StatusOr<uint64_t> LocalStore::ReplicaId() { return db_->ReplicaId(); }

absl::StatusOr<std::vector<std::string>> LocalStore::ListIds() {
  std::vector<std::string> ids;
  absl::Status scanned =
      db_->Scan(kListPrefix, [&](absl::string_view id, absl::string_view) {
        ids.emplace_back(id);
        return true;
      });
  if (!scanned.ok()) return scanned;
  return ids;
}

absl::StatusOr<std::optional<LocalList>> LocalStore::Load(
    const std::string& id) {
  absl::StatusOr<std::string> bytes = db_->Read(absl::StrCat(kListPrefix, id));
  if (absl::IsNotFound(bytes.status())) return std::nullopt;
  if (!bytes.ok()) return bytes.status();
  v1::LocalList record;
  if (!record.ParseFromString(*bytes)) {
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
  list.secret = record.secret();
  list.link_capability =
      record.link_capability() <=
              static_cast<uint32_t>(access::Capability::kOwner)
          ? static_cast<access::Capability>(record.link_capability())
          : access::Capability::kNone;
  list.access_lost = record.access_lost();
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
  record.set_secret(list.secret);
  record.set_link_capability(static_cast<uint32_t>(list.link_capability));
  record.set_access_lost(list.access_lost);
  batch.Put(absl::StrCat(kListPrefix, list.id), record.SerializeAsString());
  return db_->Write(&batch, list.id);
}

absl::Status LocalStore::Forget(const std::string& id) {
  leveldb::WriteBatch batch;
  batch.Delete(absl::StrCat(kListPrefix, id));
  const std::string prefix = LogPrefix(id);
  absl::Status scanned =
      db_->Scan(prefix, [&](absl::string_view rest, absl::string_view) {
        batch.Delete(absl::StrCat(prefix, rest));
        return true;
      });
  if (!scanned.ok()) return scanned;
  return db_->Write(&batch, id);
}

absl::StatusOr<std::vector<v1::LogEvent>> LocalStore::Log(const std::string& id,
                                                          size_t limit) {
  std::vector<v1::LogEvent> events;
  const std::string prefix = LogPrefix(id);
  // Newest first, which a prefix scan does not do.
  absl::StatusOr<std::shared_ptr<leveldb::DB>> db = db_->Get();
  if (!db.ok()) return db.status();
  std::unique_ptr<leveldb::Iterator> it(
      (*db)->NewIterator(storage::RecoveringDb::ReadOptions()));
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
  if (!it->status().ok()) {
    return storage::FromLevelDb(it->status(), absl::StrCat("history of ", id));
  }
  return events;
}

absl::StatusOr<std::optional<std::string>> LocalStore::Setting(
    const std::string& key) {
  absl::StatusOr<std::string> value =
      db_->Read(absl::StrCat(kSettingPrefix, key));
  if (absl::IsNotFound(value.status())) return std::nullopt;
  if (!value.ok()) return value.status();
  return *std::move(value);
}

absl::Status LocalStore::SetSetting(const std::string& key,
                                    const std::string& value) {
  return db_->Put(absl::StrCat(kSettingPrefix, key), value);
}

}  // namespace shoplist::client
