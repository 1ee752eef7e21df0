// The node's replica store: layout and threads in leveldb_replica_store.h.
// Writes use sync=true; LevelDB groups concurrent writers into one log
// write and one fsync, so concurrency amortises the sync.
#include "storage/leveldb_replica_store.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "codec/list_codec.h"
#include "google/protobuf/arena.h"
#include "leveldb/write_batch.h"

namespace shoplist::storage {
namespace {

constexpr absl::string_view kListPrefix = "list/";
constexpr absl::string_view kHintPrefix = "hint/";
constexpr absl::string_view kCounterPrefix = "meta/counter/";
constexpr absl::string_view kDamagedPrefix = "damaged/";

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

LevelDbReplicaStore::LevelDbReplicaStore(std::unique_ptr<RecoveringDb> db,
                                         MergeListener on_merge,
                                         size_t state_cache_bytes,
                                         std::shared_ptr<AccessCache> access)
    : db_(std::move(db)),
      on_merge_(std::move(on_merge)),
      access_(std::move(access)),
      cache_budget_bytes_(state_cache_bytes),
      committer_([this] { CommitLoop(); }) {}

LevelDbReplicaStore::~LevelDbReplicaStore() {
  {
    absl::MutexLock lock(&queue_mu_);
    stop_ = true;
  }
  committer_.join();
}

absl::StatusOr<crdt::ListState> LevelDbReplicaStore::Get(
    absl::string_view list_id) {
  absl::StatusOr<std::string> bytes = GetStoredBytes(list_id);
  if (!bytes.ok()) return bytes.status();
  return DecodeStored(*bytes, absl::StrCat(kListPrefix, list_id));
}

absl::StatusOr<std::string> LevelDbReplicaStore::GetStoredBytes(
    absl::string_view list_id) {
  absl::StatusOr<std::string> bytes =
      db_->Read(absl::StrCat(kListPrefix, list_id));
  if (absl::IsNotFound(bytes.status())) {
    return absl::NotFoundError(absl::StrCat("list ", list_id, " not found"));
  }
  return bytes;
}

absl::StatusOr<std::optional<crdt::Register>> LevelDbReplicaStore::StoredAccess(
    absl::string_view list_id) {
  const std::string id(list_id);
  if (std::optional<crdt::Register> known = access_->Find(id)) return known;
  const std::string key = absl::StrCat(kListPrefix, list_id);
  absl::StatusOr<std::string> bytes = db_->Read(key);
  if (absl::IsNotFound(bytes.status())) return std::nullopt;
  if (!bytes.ok()) return bytes.status();
  // Only the access record: decoding the whole state cost a coordinator
  // more than the read, for every list outside the cache.
  absl::StatusOr<crdt::Register> record = DecodeStoredAccess(*bytes, key);
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
  std::string key = absl::StrCat(kHintPrefix, list_id, "/", owner);
  absl::MutexLock lock(&LockFor(key));
  absl::StatusOr<crdt::ListState> hint = ReadOrEmpty(key);
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
                         std::string(bytes)});
        return true;
      });
  if (!scanned.ok()) return scanned;
  if (!decoded.ok()) return decoded;
  return hints;
}

absl::Status LevelDbReplicaStore::RemoveHint(const Hint& delivered) {
  std::string key =
      absl::StrCat(kHintPrefix, delivered.list_id, "/", delivered.owner);
  absl::MutexLock lock(&LockFor(key));
  absl::StatusOr<std::string> bytes = db_->Read(key);
  if (absl::IsNotFound(bytes.status())) return absl::OkStatus();
  if (!bytes.ok()) return bytes.status();
  // A write merged into the hint after it was read stays for the next
  // delivery.
  if (*bytes != delivered.stored_bytes) return absl::OkStatus();
  leveldb::WriteBatch write;
  write.Delete(key);
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
    const std::function<void(const std::string&, absl::string_view)>& visit) {
  return db_->Scan(kListPrefix,
                   [&](absl::string_view id, absl::string_view bytes) {
                     visit(std::string(id), bytes);
                     return true;
                   });
}

absl::StatusOr<uint64_t> LevelDbReplicaStore::ReplicaId() {
  return db_->ReplicaId();
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
// durable with one write and one fsync.
void LevelDbReplicaStore::CommitLoop() {
  while (true) {
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&queue_mu_);
      queue_mu_.Await(absl::Condition(
          +[](LevelDbReplicaStore* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return s->stop_ || !s->queue_.empty();
          },
          this));
      if (queue_.empty() && stop_) return;
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitBatch(batch);
  }
}

// Read-merge-write of every list in `batch`, one WriteBatch, one fsync,
// then every entry's callback with its list's state after the batch.
// Only the commit thread (or a callback running on it) calls this, so
// merges of one list never interleave. States are moved, never copied,
// between the cache and the batch.
void LevelDbReplicaStore::CommitBatch(std::vector<Pending>& batch) {
  // What the batch does to each list it touches.
  struct Touched {
    // After the batch, or why the list could not be read or written.
    absl::StatusOr<crdt::ListState> state;
    size_t stored_size = 0;  // of its bytes on disk
    bool changed = false;
    std::string bytes;                   // what the batch stores, if changed
    std::optional<std::string> damaged;  // kept aside: it starts afresh
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
    if (fresh) t.state = Current(p.list_id, &t.stored_size, &t.damaged);
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
    // Re-writing an unchanged state would cost an fsync for nothing: the
    // write that stored it was already durable.
    bool changes =
        !state.deleted() &&
        (p.delta.deleted() || !state.context().Includes(p.delta.context()));
    if (!changes) continue;
    state.Merge(p.delta);
    t.changed = any_changed = true;
  }
  leveldb::WriteBatch write;
  for (auto& [id, t] : lists) {
    if (!t.changed) continue;
    t.bytes = Encode(*t.state);
    t.stored_size = t.bytes.size();
    write.Put(absl::StrCat(kListPrefix, id), t.bytes);
    if (t.damaged) write.Put(absl::StrCat(kDamagedPrefix, id), *t.damaged);
  }
  absl::Status status = absl::OkStatus();
  if (any_changed) status = db_->Write(&write, "list write");
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
  // Back to the cache, which holds only what is on disk.
  for (auto& [id, t] : lists) {
    if (t.state.ok()) Cache(id, *std::move(t.state), t.stored_size);
  }
}

// The committed state of a list, from the cache or from disk, and the
// size of its stored bytes. A damaged state is replaced by an empty one:
// nothing can be merged into it, and the replicas' copies (anti-entropy,
// read repair, every later write) refill the list; its bytes, when
// readable, go to `damaged` to be kept aside. Commit thread only.
absl::StatusOr<crdt::ListState> LevelDbReplicaStore::Current(
    const std::string& list_id, size_t* stored_size,
    std::optional<std::string>* damaged) {
  if (auto it = cache_.find(list_id); it != cache_.end()) {
    crdt::ListState state = std::move(it->second.state);
    *stored_size = it->second.stored_size;
    cached_bytes_ -= it->second.stored_size;
    cache_.erase(it);
    return state;
  }
  std::string key = absl::StrCat(kListPrefix, list_id);
  absl::StatusOr<std::string> bytes = db_->Read(key);
  *stored_size = bytes.ok() ? bytes->size() : 0;
  if (absl::IsNotFound(bytes.status())) return crdt::ListState();
  absl::StatusOr<crdt::ListState> state =
      bytes.ok() ? DecodeStored(*bytes, key) : bytes.status();
  if (absl::IsDataLoss(state.status())) {
    *damaged = bytes.ok() ? *std::move(bytes) : std::string();
    return crdt::ListState();
  }
  return state;
}

// Keeps a committed state for the next write to its list, evicting
// arbitrary others beyond the budget. Commit thread only.
void LevelDbReplicaStore::Cache(const std::string& list_id,
                                crdt::ListState state, size_t stored_size) {
  cached_bytes_ += stored_size;
  const uint64_t stamp = ++next_stamp_;
  cache_[list_id] = {std::move(state), stored_size, stamp};
  cache_order_.emplace_back(list_id, stamp);
  while (cached_bytes_ > cache_budget_bytes_ && cache_.size() > 1 &&
         !cache_order_.empty()) {
    auto [victim, victim_stamp] = std::move(cache_order_.front());
    cache_order_.pop_front();
    auto it = cache_.find(victim);
    if (it == cache_.end() || it->second.stamp != victim_stamp) continue;
    cached_bytes_ -= it->second.stored_size;
    cache_.erase(it);
  }
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
  auto access = std::make_shared<LevelDbReplicaStore::AccessCache>();
  db_options.on_repair = [access, then = std::move(options.on_repair)] {
    access->Clear();
    if (then) then();
  };
  absl::StatusOr<std::unique_ptr<RecoveringDb>> db =
      RecoveringDb::Open(directory, std::move(db_options));
  if (!db.ok()) return db.status();
  return std::make_unique<LevelDbReplicaStore>(
      *std::move(db), std::move(options.on_merge), options.state_cache_bytes,
      std::move(access));
}

}  // namespace shoplist::storage
