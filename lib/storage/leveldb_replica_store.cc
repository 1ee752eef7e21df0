// The node's replica store: layout and threads in leveldb_replica_store.h.
// Writes use sync=true; LevelDB groups concurrent writers into one log
// write and one fsync, so concurrency amortises the sync.
#include "storage/leveldb_replica_store.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "codec/list_codec.h"
#include "google/protobuf/arena.h"
#include "leveldb/db.h"
#include "leveldb/write_batch.h"

namespace shoplist::storage {
namespace {

constexpr absl::string_view kListPrefix = "list/";
constexpr absl::string_view kHintPrefix = "hint/";
// When each hint was first kept (Unix microseconds, 8 bytes little endian),
// under the hint's key after this prefix; hints kept by versions before
// these records have none.
constexpr absl::string_view kHintSincePrefix = "hint-since/";

// What follows kHintPrefix and kHintSincePrefix in a hint's keys.
std::string HintName(absl::string_view list_id, absl::string_view owner) {
  return absl::StrCat(list_id, "/", owner);
}

std::string EncodeSince(absl::Time t) {
  const int64_t micros = absl::ToUnixMicros(t);
  std::string bytes(sizeof micros, '\0');
  std::memcpy(bytes.data(), &micros, sizeof micros);
  return bytes;
}

// nullopt for a damaged record (the hint itself is still delivered).
std::optional<absl::Time> DecodeSince(absl::string_view bytes) {
  int64_t micros;
  if (bytes.size() != sizeof micros) return std::nullopt;
  std::memcpy(&micros, bytes.data(), sizeof micros);
  return absl::FromUnixMicros(micros);
}
constexpr absl::string_view kCounterPrefix = "meta/counter/";
constexpr absl::string_view kDamagedPrefix = "damaged/";
// Sorts a list's log records right after its base, before any other list.
constexpr absl::string_view kLogSeparator("\0", 1);
// A list up to this size is written whole, as its base, with the batch:
// encoding it costs less than a record, its marker and a later fold do.
constexpr size_t kWholeBytes = 1 << 10;
// LevelDB's block cache and memtable for a node (OpenLevelDbStore).
constexpr size_t kBlockCacheBytes = 64 << 20;
constexpr size_t kWriteBufferBytes = 16 << 20;
// Lists of this many items keep their dots indexed (ListState::IndexDots);
// below it, walking them costs less than the index's upkeep.
constexpr size_t kIndexedItems = 128;
// Lists folded between two batches, at most, when they went quiet.
constexpr size_t kMaxQuietFolds = 8;

std::string BaseKey(absl::string_view list_id) {
  return absl::StrCat(kListPrefix, list_id);
}

std::string LogKey(absl::string_view list_id, uint64_t seq) {
  return absl::StrCat(kListPrefix, list_id, kLogSeparator,
                      absl::Hex(seq, absl::kZeroPad16));
}

// Where a list's log stands: present while it has records.
std::string MarkerKey(absl::string_view list_id) {
  return absl::StrCat(kListPrefix, list_id, kLogSeparator);
}

std::string Marker(uint64_t first, uint64_t next) {
  return absl::StrCat(absl::Hex(first, absl::kZeroPad16),
                      absl::Hex(next, absl::kZeroPad16));
}

bool ParseMarker(absl::string_view marker, uint64_t* first, uint64_t* next) {
  return marker.size() == 32 &&
         absl::SimpleHexAtoi(marker.substr(0, 16), first) &&
         absl::SimpleHexAtoi(marker.substr(16), next) && *first <= *next;
}

// A stored state is a tree of many small messages; building and parsing it
// on an arena replaces a malloc and free per message with bump allocation
// (encoding was the largest cost of a commit).
std::string Encode(const crdt::ListState& state) {
  google::protobuf::Arena arena;
  auto* message = google::protobuf::Arena::CreateMessage<v1::ListState>(&arena);
  codec::EncodeState(state, message);
  return message->SerializeAsString();
}

}  // namespace

std::optional<crdt::Register> LevelDbReplicaStore::AccessCache::Find(
    const std::string& list_id) {
  absl::MutexLock lock(&mu_);
  auto it = records_.find(list_id);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

void LevelDbReplicaStore::AccessCache::Fill(const std::string& list_id,
                                            const crdt::Register& record) {
  absl::MutexLock lock(&mu_);
  MakeRoomLocked();
  records_.emplace(list_id, record);
}

void LevelDbReplicaStore::AccessCache::Put(const std::string& list_id,
                                           const crdt::Register& record) {
  absl::MutexLock lock(&mu_);
  MakeRoomLocked();
  records_[list_id] = record;
}

void LevelDbReplicaStore::AccessCache::MakeRoomLocked() {
  if (records_.size() < kMaxLists) return;
  bool drop = false;
  for (auto it = records_.begin(); it != records_.end();) {
    if ((drop = !drop)) {
      records_.erase(it++);
    } else {
      ++it;
    }
  }
}

void LevelDbReplicaStore::AccessCache::Clear() {
  absl::MutexLock lock(&mu_);
  records_.clear();
}

LevelDbReplicaStore::LevelDbReplicaStore(
    std::unique_ptr<RecoveringDb> db, MergeListener on_merge,
    size_t state_cache_bytes, std::shared_ptr<AccessCache> access,
    std::shared_ptr<std::atomic<uint64_t>> repairs, FoldPolicy fold)
    : db_(std::move(db)),
      on_merge_(std::move(on_merge)),
      access_(std::move(access)),
      repairs_(std::move(repairs)),
      cache_budget_bytes_(state_cache_bytes),
      fold_(fold),
      repairs_seen_(repairs_->load()),
      committer_([this] { CommitLoop(); }) {}

LevelDbReplicaStore::~LevelDbReplicaStore() {
  {
    absl::MutexLock lock(&queue_mu_);
    stop_ = true;
  }
  committer_.join();
}

absl::StatusOr<LevelDbReplicaStore::ReadParts> LevelDbReplicaStore::Read(
    absl::string_view list_id, bool salvage) {
  absl::StatusOr<std::shared_ptr<leveldb::DB>> db = db_->Get();
  if (!db.ok()) return db.status();
  // One view for the marker, the base and the records, so that a fold is
  // seen whole or not at all.
  const leveldb::Snapshot* snapshot = (*db)->GetSnapshot();
  absl::Cleanup release = [&] { (*db)->ReleaseSnapshot(snapshot); };
  leveldb::ReadOptions options = RecoveringDb::ReadOptions();
  options.snapshot = snapshot;
  auto get = [&](const std::string& key,
                 std::string* value) -> std::optional<absl::Status> {
    leveldb::Status s = (*db)->Get(options, key, value);
    if (s.IsNotFound()) return std::nullopt;
    return FromLevelDb(s, key);
  };
  ReadParts parts;
  // Point reads: an iterator would step over every version and deletion
  // of the list's keys still in memory, thousands after a busy minute.
  std::string marker;
  std::optional<absl::Status> marked = get(MarkerKey(list_id), &marker);
  absl::Status log_status = marked ? *marked : absl::OkStatus();
  if (log_status.ok() && marked &&
      !ParseMarker(marker, &parts.log_first, &parts.log_next)) {
    log_status = absl::DataLossError(
        absl::StrCat("stored log marker of list ", list_id, " is invalid"));
  }
  const std::string base_key = BaseKey(list_id);
  std::optional<absl::Status> based = get(base_key, &parts.stored.base);
  if (based && !based->ok()) return *based;
  if (!based && !marked) {
    return absl::NotFoundError(absl::StrCat("list ", list_id, " not found"));
  }
  if (!log_status.ok()) {
    if (!salvage || !absl::IsDataLoss(log_status)) return log_status;
    // The log's place is unknown: only the base (CachedState::log_unreadable).
    parts.log_first = parts.log_next = 0;
    parts.log_unreadable = true;
    return parts;
  }
  if (parts.log_next == parts.log_first) return parts;
  std::unique_ptr<leveldb::Iterator> it((*db)->NewIterator(options));
  const std::string end = LogKey(list_id, parts.log_next);
  uint64_t expected = parts.log_first;
  for (it->Seek(LogKey(list_id, parts.log_first));
       it->Valid() && it->key().compare(end) < 0; it->Next()) {
    parts.stored.log.emplace_back(it->value().data(), it->value().size());
    ++expected;
  }
  absl::Status status =
      FromLevelDb(it->status(), absl::StrCat("log of list ", list_id));
  if (status.ok() && expected != parts.log_next) {
    status = absl::DataLossError(
        absl::StrCat("stored log of list ", list_id, " lacks records"));
  }
  if (!status.ok()) {
    if (!salvage || !absl::IsDataLoss(status)) return status;
    // A damaged table stops the records (CachedState::log_unreadable):
    // those read before it still join the list.
    parts.log_unreadable = true;
  }
  return parts;
}

absl::StatusOr<crdt::ListState> LevelDbReplicaStore::Get(
    absl::string_view list_id) {
  absl::StatusOr<StoredList> stored = GetStored(list_id);
  if (!stored.ok()) return stored.status();
  return DecodeStored(*stored, BaseKey(list_id));
}

absl::StatusOr<StoredList> LevelDbReplicaStore::GetStored(
    absl::string_view list_id) {
  absl::StatusOr<ReadParts> parts = Read(list_id, /*salvage=*/false);
  if (!parts.ok()) return parts.status();
  return std::move(parts->stored);
}

absl::StatusOr<std::optional<crdt::Register>> LevelDbReplicaStore::StoredAccess(
    absl::string_view list_id) {
  const std::string id(list_id);
  if (std::optional<crdt::Register> known = access_->Find(id)) return known;
  absl::StatusOr<StoredList> stored = GetStored(list_id);
  if (absl::IsNotFound(stored.status())) return std::nullopt;
  if (!stored.ok()) return stored.status();
  // Only the access records: decoding the whole state cost a coordinator
  // more than the read, for every list outside the cache.
  absl::StatusOr<crdt::Register> record =
      DecodeStoredAccess(*stored, BaseKey(list_id));
  if (!record.ok()) return record.status();
  access_->Fill(id, *record);
  return *std::move(record);
}

absl::StatusOr<crdt::ListState> LevelDbReplicaStore::Merge(
    absl::string_view list_id, const crdt::ListState& delta) {
  if (std::this_thread::get_id() == committer_.get_id()) {
    // Called back on the commit thread: waiting for it would deadlock.
    absl::StatusOr<crdt::ListState> result;
    std::vector<Pending> one;
    one.push_back({std::string(list_id), delta,
                   [&](const absl::StatusOr<crdt::ListState>& merged) {
                     result = merged;
                   },
                   nullptr});
    CommitBatch(one);
    return result;
  }
  absl::Notification done;
  absl::StatusOr<crdt::ListState> result;
  MergeAsync(
      list_id, delta,
      [&](const absl::StatusOr<crdt::ListState>& merged) {
        result = merged;
        done.Notify();
      },
      nullptr);
  done.WaitForNotification();
  return result;
}

void LevelDbReplicaStore::MergeAsync(absl::string_view list_id,
                                     crdt::ListState delta, MergeDone done,
                                     MergeCheck check) {
  absl::MutexLock lock(&queue_mu_);
  queue_.push_back({std::string(list_id), std::move(delta), std::move(done),
                    std::move(check)});
}

absl::Status LevelDbReplicaStore::AddHint(absl::string_view owner,
                                          absl::string_view list_id,
                                          const crdt::ListState& delta) {
  const std::string name = HintName(list_id, owner);
  const std::string key = absl::StrCat(kHintPrefix, name);
  absl::MutexLock lock(&LockFor(key));
  absl::StatusOr<std::string> bytes = db_->Read(key);
  if (absl::IsNotFound(bytes.status())) {
    crdt::ListState hint;
    hint.Merge(delta);
    leveldb::WriteBatch write;
    write.Put(key, Encode(hint));
    write.Put(absl::StrCat(kHintSincePrefix, name), EncodeSince(absl::Now()));
    return db_->Write(&write, key);
  }
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<crdt::ListState> hint = DecodeStored(*bytes, key);
  if (!hint.ok()) return hint.status();
  hint->Merge(delta);
  return db_->Put(key, Encode(*hint));
}

absl::StatusOr<std::vector<Hint>> LevelDbReplicaStore::Hints(size_t limit) {
  std::vector<Hint> hints;
  absl::Status decoded = absl::OkStatus();
  absl::Status scanned = db_->Scan(
      kHintPrefix, [&](absl::string_view rest, absl::string_view bytes) {
        if (hints.size() >= limit) return false;
        size_t slash = rest.find('/');
        if (slash == absl::string_view::npos) return true;
        absl::StatusOr<crdt::ListState> delta =
            DecodeStored(bytes, absl::StrCat(kHintPrefix, rest));
        if (!delta.ok()) {
          decoded = delta.status();
          return false;
        }
        hints.push_back({std::string(rest.substr(slash + 1)),
                         std::string(rest.substr(0, slash)), *std::move(delta),
                         std::string(bytes), opened_});
        return true;
      });
  if (!scanned.ok()) return scanned;
  if (!decoded.ok()) return decoded;
  if (hints.empty()) return hints;
  // Their times, in one scan: the records sort as the hints do, so it stops
  // past the last hint read. A hint without one keeps opened_.
  absl::flat_hash_map<std::string, Hint*> by_name;
  for (Hint& h : hints) by_name[HintName(h.list_id, h.owner)] = &h;
  const std::string last = HintName(hints.back().list_id, hints.back().owner);
  scanned = db_->Scan(
      kHintSincePrefix, [&](absl::string_view name, absl::string_view bytes) {
        if (name > last) return false;
        auto it = by_name.find(name);
        if (it != by_name.end()) {
          it->second->since = DecodeSince(bytes).value_or(opened_);
        }
        return true;
      });
  if (!scanned.ok()) return scanned;
  return hints;
}

absl::Status LevelDbReplicaStore::RemoveHint(const Hint& delivered) {
  const std::string name = HintName(delivered.list_id, delivered.owner);
  const std::string key = absl::StrCat(kHintPrefix, name);
  absl::MutexLock lock(&LockFor(key));
  absl::StatusOr<std::string> bytes = db_->Read(key);
  if (absl::IsNotFound(bytes.status())) return absl::OkStatus();
  if (!bytes.ok()) return bytes.status();
  // A write merged into the hint after it was read stays for the next
  // delivery.
  if (*bytes != delivered.stored_bytes) return absl::OkStatus();
  leveldb::WriteBatch write;
  write.Delete(key);
  write.Delete(absl::StrCat(kHintSincePrefix, name));
  return db_->Write(&write, key);
}

absl::StatusOr<std::optional<crdt::ListState>> LevelDbReplicaStore::HintsFor(
    absl::string_view list_id) {
  const std::string prefix = absl::StrCat(kHintPrefix, list_id, "/");
  std::optional<crdt::ListState> merged;
  absl::Status decoded = absl::OkStatus();
  absl::Status scanned =
      db_->Scan(prefix, [&](absl::string_view, absl::string_view bytes) {
        absl::StatusOr<crdt::ListState> delta = DecodeStored(bytes, prefix);
        if (!delta.ok()) {
          decoded = delta.status();
          return false;
        }
        if (!merged) merged.emplace();
        merged->Merge(*delta);
        return true;
      });
  if (!scanned.ok()) return scanned;
  if (!decoded.ok()) return decoded;
  return merged;
}

absl::StatusOr<size_t> LevelDbReplicaStore::CountHints() {
  size_t n = 0;
  absl::Status scanned =
      db_->Scan(kHintPrefix, [&](absl::string_view, absl::string_view) {
        ++n;
        return true;
      });
  if (!scanned.ok()) return scanned;
  return n;
}

absl::Status LevelDbReplicaStore::ScanLists(
    const std::function<void(const std::string&, const StoredList&)>& visit) {
  // A list's records are adjacent: its base, its marker, then its log
  // (NUL sorts first). Only the records its marker names count, as for
  // readers; a list with neither base nor marker is not one.
  std::string id;
  StoredList list;
  bool have = false;
  uint64_t first = 0, next = 0;
  auto flush = [&] {
    if (have) visit(id, list);
    have = false;
    list = StoredList();
    first = next = 0;
  };
  absl::Status scanned = db_->Scan(
      kListPrefix, [&](absl::string_view rest, absl::string_view bytes) {
        const size_t separator = rest.find(kLogSeparator[0]);
        const absl::string_view key_id = rest.substr(0, separator);
        if (key_id != id) {
          flush();
          id = std::string(key_id);
        }
        uint64_t seq = 0;
        if (separator == absl::string_view::npos) {
          list.base = std::string(bytes);
          have = true;
        } else if (separator + 1 == rest.size()) {
          have = ParseMarker(bytes, &first, &next) || have;
        } else if (absl::SimpleHexAtoi(rest.substr(separator + 1), &seq) &&
                   seq >= first && seq < next) {
          list.log.emplace_back(bytes);
        }
        return true;
      });
  if (!scanned.ok()) return scanned;
  flush();
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> LevelDbReplicaStore::ReplicaId() {
  return db_->ReplicaId();
}

absl::Status LevelDbReplicaStore::ExportRecords(
    const std::function<bool(absl::string_view, absl::string_view)>& visit) {
  absl::StatusOr<std::shared_ptr<leveldb::DB>> db = db_->Get();
  if (!db.ok()) return db.status();
  leveldb::ReadOptions options = RecoveringDb::ReadOptions();
  // A backup reads every block once: the cache stays with what serves.
  options.fill_cache = false;
  // An iterator reads one implicit snapshot.
  std::unique_ptr<leveldb::Iterator> it((*db)->NewIterator(options));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!visit(absl::string_view(it->key().data(), it->key().size()),
               absl::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return FromLevelDb(it->status(), "the backup's scan");
}

absl::StatusOr<uint64_t> RestoreData(
    const std::string& directory,
    const std::function<bool(std::string*, std::string*)>& next) {
  // Empty, but for the lost+found of a fresh ext4 volume (a Kubernetes
  // volume mounted as the data directory has one).
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator(directory, error)) {
    if (entry.path().filename() == "lost+found") continue;
    return absl::InvalidArgumentError(
        absl::StrCat(directory, " is not empty: restore into a new one"));
  }
  leveldb::Options options;
  options.create_if_missing = true;
  options.error_if_exists = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status opened = leveldb::DB::Open(options, directory, &raw);
  if (!opened.ok()) return FromLevelDb(opened, directory);
  std::unique_ptr<leveldb::DB> db(raw);
  uint64_t records = 0;
  leveldb::WriteBatch batch;
  std::string key, value;
  auto flush = [&](bool sync) {
    leveldb::WriteOptions write;
    write.sync = sync;
    leveldb::Status s = db->Write(write, &batch);
    batch.Clear();
    return FromLevelDb(s, directory);
  };
  while (next(&key, &value)) {
    // Not the writer's identity (see the header).
    if (key == kReplicaIdKey || absl::StartsWith(key, kCounterPrefix)) continue;
    batch.Put(key, value);
    ++records;
    if (batch.ApproximateSize() >= (4 << 20)) {
      if (absl::Status s = flush(false); !s.ok()) return s;
    }
  }
  if (absl::Status s = flush(true); !s.ok()) return s;
  return records;
}

absl::StatusOr<uint64_t> LevelDbReplicaStore::ReserveCounter(
    absl::string_view list_id, uint64_t at_least, uint64_t count) {
  std::string key = absl::StrCat(kCounterPrefix, list_id);
  absl::MutexLock lock(&LockFor(key));
  uint64_t last = 0;
  absl::StatusOr<std::string> bytes = db_->Read(key);
  if (bytes.ok()) {
    if (!absl::SimpleAtoi(*bytes, &last)) {
      return absl::DataLossError(absl::StrCat("stored ", key, " is invalid"));
    }
  } else if (!absl::IsNotFound(bytes.status())) {
    return bytes.status();
  }
  const uint64_t next = std::max(last, at_least) + 1;
  if (absl::Status st =
          db_->Put(key, absl::StrCat(next + std::max<uint64_t>(count, 1) - 1));
      !st.ok()) {
    return st;
  }
  return next;
}

// The commit thread: takes every merge queued meanwhile and makes them
// durable with one write and one fsync; between batches, folds the logs of
// lists that went quiet.
void LevelDbReplicaStore::CommitLoop() {
  absl::Time next_fold = absl::InfiniteFuture();
  while (true) {
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&queue_mu_);
      queue_mu_.AwaitWithDeadline(
          absl::Condition(
              +[](LevelDbReplicaStore* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                return s->stop_ || !s->queue_.empty();
              },
              this),
          next_fold);
      if (queue_.empty() && stop_) break;
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (!batch.empty()) CommitBatch(batch);
    next_fold = FoldQuiet(absl::Now());
    // Folds prepared after this batch go with the next one, sharing its
    // fsync; with none waiting, alone.
    bool idle;
    {
      absl::MutexLock lock(&queue_mu_);
      idle = queue_.empty();
    }
    if (idle) WritePendingFolds();
  }
  WritePendingFolds();
}

// Merges every entry of `batch` into its list, appends what changed, one
// WriteBatch, one fsync, then every entry's callback with its list's state
// after the batch; then folds the logs that are due. Only the commit
// thread (or a callback running on it) calls this, so merges of one list
// never interleave. States are moved, never copied, between the cache and
// the batch.
void LevelDbReplicaStore::CommitBatch(std::vector<Pending>& batch) {
  const uint64_t repairs_at_start = repairs_->load();
  if (repairs_at_start != repairs_seen_) {
    // A repair may have taken records the cached states hold: an append
    // to one would then claim what the disk lacks.
    repairs_seen_ = repairs_at_start;
    ForgetCache();
  }
  // What the batch does to each list it touches.
  struct Touched {
    // After the batch, or why the list could not be read or written.
    absl::StatusOr<crdt::ListState> state;
    CachedState list;          // where it stands on disk (its state moved)
    crdt::ListState appended;  // the join of the deltas that changed it
    bool changed = false;
    // Written whole (as its base) rather than appended to: small, new, or
    // with a damaged part to put aside.
    bool whole = false;
    bool fold_after = false;  // its log is due to be folded after the acks
  };
  absl::flat_hash_map<std::string, Touched> lists;
  lists.reserve(batch.size());
  bool any_changed = false;
  // Entries whose check refused them: they get their own answer.
  std::vector<std::optional<absl::Status>> refused(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    Pending& p = batch[i];
    auto [it, fresh] = lists.try_emplace(p.list_id);
    Touched& t = it->second;
    if (fresh) {
      absl::StatusOr<CachedState> current = Current(p.list_id);
      if (current.ok()) {
        t.state = std::move(current->state);
        t.list = *std::move(current);
        t.whole = t.list.stored_size() <= kWholeBytes ||
                  t.list.base_size == 0 || t.list.damaged.has_value() ||
                  t.list.log_unreadable;
      } else {
        t.state = current.status();
      }
    }
    if (!t.state.ok()) continue;
    crdt::ListState& state = *t.state;
    if (p.check) {
      if (absl::Status verdict = p.check(state); !verdict.ok()) {
        refused[i] = std::move(verdict);
        continue;
      }
    }
    // Every change carries its dots, so a delta changes the state exactly
    // when it brings a dot the state has not seen, or deletes the list.
    // Writing an unchanged state would cost an fsync for nothing, and a
    // duplicate appended would grow the log for nothing.
    bool changes =
        !state.deleted() &&
        (p.delta.deleted() || !state.context().Includes(p.delta.context()));
    if (!changes) continue;
    state.Merge(p.delta);
    if (!t.whole) t.appended.Merge(p.delta);
    t.changed = any_changed = true;
  }
  leveldb::WriteBatch write;
  const absl::Time now = absl::Now();
  for (auto& [id, t] : lists) {
    // A sync's answer (DeltaSince) then costs what it returns, not the
    // list: merges keep the index, and a load or a large merge builds it.
    if (t.state.ok() && !t.state->dots_indexed() &&
        t.state->items().size() >= kIndexedItems) {
      t.state->IndexDots();
    }
    if (!t.changed) continue;
    CachedState& list = t.list;
    if (t.whole || t.state->deleted()) {
      AddFold(id, *t.state, list, write);
      continue;
    }
    std::string delta = Encode(t.appended);
    t.appended = crdt::ListState();
    const size_t log_size = list.log_size + delta.size();
    write.Put(LogKey(id, list.log_next), delta);
    ++list.log_next;
    write.Put(MarkerKey(id), Marker(list.log_first, list.log_next));
    list.log_size = log_size;
    list.last_append = now;
    t.fold_after = 2 * list.log_size >= list.base_size ||
                   list.log_next - list.log_first >= fold_.max_log_records;
  }
  absl::Status status = absl::OkStatus();
  const bool folds_pending = !pending_fold_ids_.empty();
  if (any_changed || folds_pending) {
    // The folds prepared after the last batch first: this batch's markers
    // and bases then win over theirs.
    leveldb::WriteBatch all = std::move(pending_folds_);
    all.Append(write);
    pending_folds_.Clear();
    pending_fold_ids_.clear();
    status = db_->Write(&all, "list write");
  }
  if (!status.ok() && folds_pending) {
    // The cache counts those folds as written: it must be read again.
    ForgetCache();
  }
  for (auto& [id, t] : lists) {
    if (!t.changed) continue;
    if (status.ok()) {
      access_->Put(id, t.state->access());
      if (on_merge_) on_merge_(id, *t.state);
    } else {
      t.state = status;
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    Pending& p = batch[i];
    if (!p.done) continue;
    if (refused[i]) {
      p.done(*refused[i]);
    } else {
      p.done(lists.at(p.list_id).state);
    }
  }
  // A repair during the batch may have taken records that the states hold
  // and that their appends now follow: each changed list is then written
  // whole from its state, and none is kept.
  const bool repaired = repairs_->load() != repairs_at_start;
  std::vector<std::pair<std::string, CachedState*>> due;
  for (auto& [id, t] : lists) {
    if (!t.state.ok()) continue;
    t.list.state = *std::move(t.state);
    // A list that a callback's own merge (Merge on this thread) wrote
    // meanwhile is cached again, newer than this batch's: left alone.
    if (cache_.contains(id)) continue;
    if (t.fold_after || (repaired && t.changed)) due.emplace_back(id, &t.list);
  }
  PrepareFolds(due);
  // After a repair, at once: the next batch would forget them.
  if (repaired) WritePendingFolds();
  // Back to the cache, which holds only what is on disk (and the folds
  // prepared for the next write).
  const bool forgotten = !status.ok() && folds_pending;
  for (auto& [id, t] : lists) {
    if (!t.state.ok() || repaired || forgotten || cache_.contains(id)) {
      continue;
    }
    if (t.list.has_log() && t.list.last_append == now &&
        fold_.quiet < absl::InfiniteDuration()) {
      appends_.emplace_back(id, now);
    }
    Cache(id, std::move(t.list));
  }
}

// The list as committed, from the cache or from disk. A damaged part is
// left out: nothing can be merged into it, and the replicas' copies
// (anti-entropy, read repair, every later write) refill the list; its
// bytes are kept aside at the next fold, which is then due. Commit thread
// only.
absl::StatusOr<LevelDbReplicaStore::CachedState> LevelDbReplicaStore::Current(
    const std::string& list_id) {
  if (auto it = cache_.find(list_id); it != cache_.end()) {
    CachedState list = std::move(it->second);
    cached_bytes_ -= list.stored_size();
    cache_.erase(it);
    return list;
  }
  CachedState list;
  absl::StatusOr<ReadParts> parts = Read(list_id, /*salvage=*/true);
  if (absl::IsNotFound(parts.status())) return list;
  if (absl::IsDataLoss(parts.status())) {
    list.damaged.emplace();
    list.log_unreadable = true;
    return list;
  }
  if (!parts.ok()) return parts.status();
  list.log_unreadable = parts->log_unreadable;
  const std::string what = BaseKey(list_id);
  list.base_size = parts->stored.base.size();
  list.log_first = parts->log_first;
  list.log_next = parts->log_next;
  absl::StatusOr<crdt::ListState> base = DecodeStored(parts->stored.base, what);
  if (base.ok()) {
    list.state = *std::move(base);
  } else if (absl::IsDataLoss(base.status())) {
    list.damaged = std::move(parts->stored.base);
  } else {
    return base.status();
  }
  for (std::string& bytes : parts->stored.log) {
    list.log_size += bytes.size();
    absl::StatusOr<crdt::ListState> delta = DecodeStored(bytes, what);
    if (delta.ok()) {
      list.state.Merge(*delta);
    } else if (absl::IsDataLoss(delta.status())) {
      if (!list.damaged) list.damaged = std::move(bytes);
    } else {
      return delta.status();
    }
  }
  return list;
}

// Keeps a committed list for the next write to it, evicting arbitrary
// others beyond the budget (their logs stay on disk, to be folded at their
// next write). Commit thread only.
void LevelDbReplicaStore::Cache(const std::string& list_id, CachedState list) {
  cached_bytes_ += list.stored_size();
  const uint64_t stamp = ++next_stamp_;
  list.stamp = stamp;
  cache_[list_id] = std::move(list);
  cache_order_.emplace_back(list_id, stamp);
  // A list whose fold is prepared stays until it is written: read again
  // from disk before that, it would append after the fold's records.
  std::vector<std::pair<std::string, uint64_t>> kept;
  while (cached_bytes_ > cache_budget_bytes_ && cache_.size() > 1 &&
         !cache_order_.empty()) {
    auto [victim, victim_stamp] = std::move(cache_order_.front());
    cache_order_.pop_front();
    auto it = cache_.find(victim);
    if (it == cache_.end() || it->second.stamp != victim_stamp) continue;
    if (pending_fold_ids_.contains(victim)) {
      kept.emplace_back(std::move(victim), victim_stamp);
      continue;
    }
    cached_bytes_ -= it->second.stored_size();
    cache_.erase(it);
  }
  for (auto& entry : kept) cache_order_.push_back(std::move(entry));
  // Lists taken out and not cached again leave stale entries behind: keep
  // the order at most twice the cache (rebuilt in stamp order).
  if (cache_order_.size() > 2 * cache_.size() + 64) {
    std::vector<std::pair<uint64_t, const std::string*>> live;
    live.reserve(cache_.size());
    for (const auto& [id, cached] : cache_)
      live.emplace_back(cached.stamp, &id);
    std::sort(live.begin(), live.end());
    cache_order_.clear();
    for (const auto& [s, id] : live) cache_order_.emplace_back(*id, s);
  }
  // The same for appends, which hold at most one live entry per list.
  if (appends_.size() > 2 * cache_.size() + 64) {
    std::erase_if(appends_, [&](const auto& entry) {
      auto it = cache_.find(entry.first);
      return it == cache_.end() || it->second.last_append != entry.second;
    });
  }
}

void LevelDbReplicaStore::DeleteLog(const std::string& list_id,
                                    const CachedState& list,
                                    leveldb::WriteBatch& write) {
  if (!list.has_log() && !list.log_unreadable) return;
  write.Delete(MarkerKey(list_id));
  for (uint64_t seq = list.log_first; seq < list.log_next; ++seq) {
    write.Delete(LogKey(list_id, seq));
  }
}

void LevelDbReplicaStore::AddFold(const std::string& list_id,
                                  const crdt::ListState& state,
                                  CachedState& list,
                                  leveldb::WriteBatch& write) {
  const std::string base = Encode(state);
  write.Put(BaseKey(list_id), base);
  DeleteLog(list_id, list, write);
  if (list.damaged) {
    write.Put(absl::StrCat(kDamagedPrefix, list_id), *list.damaged);
    list.damaged.reset();
  }
  // As written: appends from now on start a log after the fold's.
  list.base_size = base.size();
  list.log_size = 0;
  list.log_first = list.log_next;
}

void LevelDbReplicaStore::PrepareFolds(
    const std::vector<std::pair<std::string, CachedState*>>& lists) {
  for (const auto& [id, list] : lists) {
    AddFold(id, list->state, *list, pending_folds_);
    pending_fold_ids_.insert(id);
  }
}

void LevelDbReplicaStore::WritePendingFolds() {
  if (pending_fold_ids_.empty()) return;
  leveldb::WriteBatch folds = std::move(pending_folds_);
  pending_folds_.Clear();
  pending_fold_ids_.clear();
  if (!db_->Write(&folds, "list fold").ok()) ForgetCache();
}

void LevelDbReplicaStore::ForgetCache() {
  // Prepared folds go with the states they came from; the bases and logs
  // they would replace are still on disk.
  pending_folds_.Clear();
  pending_fold_ids_.clear();
  cache_.clear();
  cache_order_.clear();
  appends_.clear();
  cached_bytes_ = 0;
}

absl::Time LevelDbReplicaStore::FoldQuiet(absl::Time now) {
  std::vector<std::pair<std::string, CachedState*>> due;
  while (!appends_.empty() && due.size() < kMaxQuietFolds) {
    const absl::Time at = appends_.front().second;
    if (at + fold_.quiet > now) break;
    std::string id = std::move(appends_.front().first);
    appends_.pop_front();
    auto it = cache_.find(id);
    if (it == cache_.end() || !it->second.has_log() ||
        it->second.last_append != at) {
      continue;
    }
    due.emplace_back(std::move(id), &it->second);
  }
  if (!due.empty()) {
    size_t before = 0;
    for (const auto& [id, list] : due) before += list->stored_size();
    PrepareFolds(due);
    size_t after = 0;
    for (const auto& [id, list] : due) after += list->stored_size();
    cached_bytes_ = cached_bytes_ - before + after;
    // Written now, in a write of their own (with any prepared before).
    WritePendingFolds();
  }
  if (appends_.empty()) return absl::InfiniteFuture();
  return std::max(now, appends_.front().second + fold_.quiet);
}

absl::StatusOr<crdt::ListState> LevelDbReplicaStore::ReadOrEmpty(
    const std::string& key) {
  absl::StatusOr<std::string> bytes = db_->Read(key);
  if (absl::IsNotFound(bytes.status())) return crdt::ListState();
  if (!bytes.ok()) return bytes.status();
  return DecodeStored(*bytes, key);
}

absl::Mutex& LevelDbReplicaStore::LockFor(absl::string_view key) {
  return locks_[absl::Hash<absl::string_view>()(key) % locks_.size()];
}

absl::StatusOr<std::unique_ptr<ReplicaStore>> OpenLevelDbStore(
    const std::string& directory, StoreOptions options) {
  DbOptions db_options;
  db_options.env = options.env;
  // Replicas refill what a repair loses, and the node's own dots come from
  // durably reserved counters.
  db_options.repair_on_corruption = true;
  // A node's lists outside the state cache are read from tables: at a
  // million lists, LevelDB's 8 MiB of blocks missed on most writes, each
  // miss a read and a decompression, and its 4 MiB memtable made small
  // tables that compaction then rewrote level after level.
  db_options.block_cache_bytes = kBlockCacheBytes;
  db_options.write_buffer_bytes = kWriteBufferBytes;
  auto access = std::make_shared<LevelDbReplicaStore::AccessCache>();
  auto repairs = std::make_shared<std::atomic<uint64_t>>(0);
  db_options.on_repair = [access, repairs,
                          then = std::move(options.on_repair)] {
    access->Clear();
    repairs->fetch_add(1);
    if (then) then();
  };
  absl::StatusOr<std::unique_ptr<RecoveringDb>> db =
      RecoveringDb::Open(directory, std::move(db_options));
  if (!db.ok()) return db.status();
  return std::make_unique<LevelDbReplicaStore>(
      *std::move(db), std::move(options.on_merge), options.state_cache_bytes,
      std::move(access), std::move(repairs), options.fold);
}

}  // namespace shoplist::storage
