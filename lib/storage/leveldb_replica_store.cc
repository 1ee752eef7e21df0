// LevelDB layout:
//   list/<id>           encoded ListState
//   hint/<id>/<owner>   encoded ListState (a delta for a down owner); keyed
//                       by list first so a stand-in can answer reads
//                       of a list from the hints it holds
//   meta/replica_id     8 bytes, little endian
//   meta/counter/<id>   decimal, last counter reserved on <id>
//   damaged/<id>        the bytes of a damaged list/<id>, kept aside when
//                       a merge started the list afresh
// Writes use sync=true; LevelDB groups concurrent writers into one log
// write and one fsync, so concurrency amortises the sync.
#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "google/protobuf/arena.h"
#include "leveldb/db.h"
#include "leveldb/write_batch.h"
#include "storage/recovering_db.h"
#include "storage/replica_store.h"

namespace shoplist::storage {
namespace {

constexpr absl::string_view kListPrefix = "list/";
constexpr absl::string_view kHintPrefix = "hint/";
constexpr absl::string_view kReplicaIdKey = "meta/replica_id";
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

absl::StatusOr<crdt::ListState> Decode(absl::string_view bytes,
                                       absl::string_view key) {
  google::protobuf::Arena arena;
  auto* message = google::protobuf::Arena::CreateMessage<v1::ListState>(&arena);
  if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat("stored ", key, " does not parse"));
  }
  absl::StatusOr<crdt::ListState> state = codec::DecodeState(*message);
  if (!state.ok()) {
    return absl::DataLossError(absl::StrCat(
        "stored ", key, " is invalid: ", state.status().message()));
  }
  return state;
}

class LevelDbReplicaStore final : public ReplicaStore {
 public:
  LevelDbReplicaStore(std::unique_ptr<RecoveringDb> db, MergeListener on_merge,
                      size_t state_cache_bytes)
      : db_(std::move(db)),
        on_merge_(std::move(on_merge)),
        cache_budget_bytes_(state_cache_bytes) {
    committer_ = std::thread([this] { CommitLoop(); });
  }

  absl::StatusOr<crdt::ListState> Get(absl::string_view list_id) override {
    std::string key = absl::StrCat(kListPrefix, list_id);
    absl::StatusOr<std::string> bytes = Read(key);
    if (absl::IsNotFound(bytes.status())) {
      return absl::NotFoundError(absl::StrCat("list ", list_id, " not found"));
    }
    if (!bytes.ok()) return bytes.status();
    return Decode(*bytes, key);
  }

  absl::StatusOr<crdt::ListState> Merge(absl::string_view list_id,
                                        const crdt::ListState& delta) override {
    if (std::this_thread::get_id() == committer_.get_id()) {
      // Called back on the commit thread: waiting for it would deadlock.
      absl::StatusOr<crdt::ListState> result;
      std::vector<Pending> one;
      one.push_back({std::string(list_id), delta,
                     [&](const absl::StatusOr<crdt::ListState>& merged) {
                       result = merged;
                     }});
      CommitBatch(one);
      return result;
    }
    absl::Notification done;
    absl::StatusOr<crdt::ListState> result;
    MergeAsync(list_id, delta,
               [&](const absl::StatusOr<crdt::ListState>& merged) {
                 result = merged;
                 done.Notify();
               });
    done.WaitForNotification();
    return result;
  }

  void MergeAsync(absl::string_view list_id, crdt::ListState delta,
                  MergeDone done) override {
    absl::MutexLock lock(&queue_mu_);
    queue_.push_back({std::string(list_id), std::move(delta), std::move(done)});
  }

  ~LevelDbReplicaStore() override {
    {
      absl::MutexLock lock(&queue_mu_);
      stop_ = true;
    }
    committer_.join();
  }

  absl::Status AddHint(absl::string_view owner, absl::string_view list_id,
                       const crdt::ListState& delta) override {
    std::string key = absl::StrCat(kHintPrefix, list_id, "/", owner);
    absl::MutexLock lock(&LockFor(key));
    absl::StatusOr<crdt::ListState> hint = ReadOrEmpty(key);
    if (!hint.ok()) return hint.status();
    hint->Merge(delta);
    leveldb::WriteBatch write;
    write.Put(key, Encode(*hint));
    return db_->Write(&write, key);
  }

  absl::StatusOr<std::vector<Hint>> Hints(size_t limit) override {
    std::vector<Hint> hints;
    absl::StatusOr<std::shared_ptr<leveldb::DB>> db = db_->Get();
    if (!db.ok()) return db.status();
    std::unique_ptr<leveldb::Iterator> it(
        (*db)->NewIterator(RecoveringDb::ReadOptions()));
    for (it->Seek(leveldb::Slice(kHintPrefix.data(), kHintPrefix.size()));
         it->Valid() && hints.size() < limit; it->Next()) {
      absl::string_view key(it->key().data(), it->key().size());
      if (!absl::StartsWith(key, kHintPrefix)) break;
      absl::string_view rest = key.substr(kHintPrefix.size());
      size_t slash = rest.find('/');
      if (slash == absl::string_view::npos) continue;
      absl::string_view bytes(it->value().data(), it->value().size());
      absl::StatusOr<crdt::ListState> delta = Decode(bytes, key);
      if (!delta.ok()) return delta.status();
      hints.push_back({std::string(rest.substr(slash + 1)),
                       std::string(rest.substr(0, slash)), *std::move(delta),
                       std::string(bytes)});
    }
    if (!it->status().ok()) return FromLevelDb(it->status(), "hint scan");
    return hints;
  }

  absl::Status RemoveHint(const Hint& delivered) override {
    std::string key =
        absl::StrCat(kHintPrefix, delivered.list_id, "/", delivered.owner);
    absl::MutexLock lock(&LockFor(key));
    absl::StatusOr<std::string> bytes = Read(key);
    if (absl::IsNotFound(bytes.status())) return absl::OkStatus();
    if (!bytes.ok()) return bytes.status();
    // A write merged into the hint after it was read stays for the next
    // delivery.
    if (*bytes != delivered.stored_bytes) return absl::OkStatus();
    leveldb::WriteBatch write;
    write.Delete(key);
    return db_->Write(&write, key);
  }

  absl::StatusOr<std::optional<crdt::ListState>> HintsFor(
      absl::string_view list_id) override {
    std::string prefix = absl::StrCat(kHintPrefix, list_id, "/");
    std::optional<crdt::ListState> merged;
    absl::StatusOr<std::shared_ptr<leveldb::DB>> db = db_->Get();
    if (!db.ok()) return db.status();
    std::unique_ptr<leveldb::Iterator> it(
        (*db)->NewIterator(RecoveringDb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      absl::StatusOr<crdt::ListState> delta = Decode(
          absl::string_view(it->value().data(), it->value().size()), prefix);
      if (!delta.ok()) return delta.status();
      if (!merged) merged.emplace();
      merged->Merge(*delta);
    }
    if (!it->status().ok()) return FromLevelDb(it->status(), "hint scan");
    return merged;
  }

  absl::StatusOr<size_t> CountHints() override {
    size_t n = 0;
    absl::StatusOr<std::shared_ptr<leveldb::DB>> db = db_->Get();
    if (!db.ok()) return db.status();
    std::unique_ptr<leveldb::Iterator> it(
        (*db)->NewIterator(RecoveringDb::ReadOptions()));
    for (it->Seek(leveldb::Slice(kHintPrefix.data(), kHintPrefix.size()));
         it->Valid() && it->key().starts_with(leveldb::Slice(
                            kHintPrefix.data(), kHintPrefix.size()));
         it->Next()) {
      ++n;
    }
    if (!it->status().ok()) return FromLevelDb(it->status(), "hint scan");
    return n;
  }

  absl::Status ScanLists(
      const std::function<void(const std::string&, absl::string_view)>& visit)
      override {
    absl::StatusOr<std::shared_ptr<leveldb::DB>> db = db_->Get();
    if (!db.ok()) return db.status();
    leveldb::ReadOptions snapshot = RecoveringDb::ReadOptions();
    snapshot.snapshot = (*db)->GetSnapshot();
    std::unique_ptr<leveldb::Iterator> it((*db)->NewIterator(snapshot));
    const leveldb::Slice prefix(kListPrefix.data(), kListPrefix.size());
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      visit(it->key().ToString().substr(kListPrefix.size()),
            absl::string_view(it->value().data(), it->value().size()));
    }
    absl::Status status = FromLevelDb(it->status(), "list scan");
    it.reset();
    (*db)->ReleaseSnapshot(snapshot.snapshot);
    return status;
  }

  absl::StatusOr<uint64_t> ReplicaId() override {
    absl::MutexLock lock(&meta_mu_);
    if (replica_id_ != 0) return replica_id_;
    absl::StatusOr<std::string> stored = Read(std::string(kReplicaIdKey));
    if (stored.ok()) {
      const std::string& bytes = *stored;
      if (bytes.size() != sizeof(uint64_t)) {
        // Making a new id would hide the damage and could reuse counters.
        return absl::DataLossError(
            absl::StrCat("stored ", kReplicaIdKey, " is damaged"));
      }
      std::memcpy(&replica_id_, bytes.data(), sizeof(uint64_t));
      return replica_id_;
    }
    if (!absl::IsNotFound(stored.status())) return stored.status();
    absl::StatusOr<uint64_t> id = crdt::NewReplicaId();
    if (!id.ok()) return id.status();
    leveldb::WriteBatch write;
    write.Put(
        std::string(kReplicaIdKey),
        leveldb::Slice(reinterpret_cast<const char*>(&*id), sizeof(uint64_t)));
    if (absl::Status st = db_->Write(&write, kReplicaIdKey); !st.ok()) {
      return st;
    }
    replica_id_ = *id;
    return replica_id_;
  }

  absl::StatusOr<uint64_t> ReserveCounter(absl::string_view list_id,
                                          uint64_t at_least,
                                          uint64_t count) override {
    std::string key = absl::StrCat(kCounterPrefix, list_id);
    absl::MutexLock lock(&LockFor(key));
    uint64_t last = 0;
    absl::StatusOr<std::string> bytes = Read(key);
    if (bytes.ok()) {
      if (!absl::SimpleAtoi(*bytes, &last)) {
        return absl::DataLossError(absl::StrCat("stored ", key, " is invalid"));
      }
    } else if (!absl::IsNotFound(bytes.status())) {
      return bytes.status();
    }
    const uint64_t next = std::max(last, at_least) + 1;
    leveldb::WriteBatch write;
    write.Put(key, absl::StrCat(next + std::max<uint64_t>(count, 1) - 1));
    if (absl::Status st = db_->Write(&write, key); !st.ok()) return st;
    return next;
  }

 private:
  struct Pending {
    std::string list_id;
    crdt::ListState delta;
    MergeDone done;
  };

  // The commit thread: takes every merge queued meanwhile and makes them
  // durable with one write and one fsync.
  void CommitLoop() {
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
  void CommitBatch(std::vector<Pending>& batch) {
    std::map<std::string, crdt::ListState> merged;  // lists this batch wrote
    std::map<std::string, size_t> stored_size;      // their bytes on disk
    std::map<std::string, absl::Status> failed;
    std::map<std::string, std::string> damaged;  // lists starting afresh
    std::set<std::string> changed;
    for (Pending& p : batch) {
      auto it = merged.find(p.list_id);
      if (it == merged.end()) {
        absl::StatusOr<crdt::ListState> current =
            Current(p.list_id, &stored_size[p.list_id], &damaged);
        if (!current.ok()) {
          failed[p.list_id] = current.status();
          continue;
        }
        it = merged.emplace(p.list_id, *std::move(current)).first;
      }
      crdt::ListState& state = it->second;
      // Every change carries its dots, so a delta changes the state exactly
      // when it brings a dot the state has not seen, or deletes the list.
      // Re-writing an unchanged state would cost an fsync for nothing: the
      // write that stored it was already durable.
      bool changes =
          !state.deleted() &&
          (p.delta.deleted() || !state.context().Includes(p.delta.context()));
      if (!changes) continue;
      state.Merge(p.delta);
      changed.insert(p.list_id);
    }
    leveldb::WriteBatch write;
    std::map<std::string, std::string> bytes;
    for (const std::string& id : changed) {
      bytes[id] = Encode(merged[id]);
      stored_size[id] = bytes[id].size();
      write.Put(absl::StrCat(kListPrefix, id), bytes[id]);
      if (auto d = damaged.find(id); d != damaged.end()) {
        write.Put(absl::StrCat(kDamagedPrefix, id), d->second);
      }
    }
    absl::Status status = absl::OkStatus();
    if (!changed.empty()) {
      status = db_->Write(&write, "list write");
    }
    if (status.ok() && on_merge_) {
      for (const std::string& id : changed) {
        on_merge_(id, merged[id], bytes[id]);
      }
    }
    std::map<std::string, absl::StatusOr<crdt::ListState>> outcome;
    for (auto& [id, state] : merged) {
      if (!status.ok() && changed.count(id)) {
        outcome.emplace(id, status);
      } else {
        outcome.emplace(id, std::move(state));
      }
    }
    for (auto& [id, error] : failed) outcome.emplace(id, error);
    for (Pending& p : batch) {
      if (p.done) p.done(outcome.at(p.list_id));
    }
    // Back to the cache, which holds only what is on disk.
    for (auto& [id, result] : outcome) {
      if (result.ok()) Cache(id, *std::move(result), stored_size[id]);
    }
  }

  // The committed state of a list, from the cache or from disk, and the
  // size of its stored bytes. A damaged state is replaced by an empty one:
  // nothing can be merged into it, and the replicas' copies (anti-entropy,
  // read repair, every later write) refill the list; its bytes, when
  // readable, go to `damaged` to be kept aside. Commit thread only.
  absl::StatusOr<crdt::ListState> Current(
      const std::string& list_id, size_t* stored_size,
      std::map<std::string, std::string>* damaged) {
    if (auto it = cache_.find(list_id); it != cache_.end()) {
      crdt::ListState state = std::move(it->second.state);
      *stored_size = it->second.stored_size;
      cached_bytes_ -= it->second.stored_size;
      cache_.erase(it);
      return state;
    }
    std::string key = absl::StrCat(kListPrefix, list_id);
    absl::StatusOr<std::string> bytes = Read(key);
    *stored_size = bytes.ok() ? bytes->size() : 0;
    if (absl::IsNotFound(bytes.status())) return crdt::ListState();
    absl::StatusOr<crdt::ListState> state =
        bytes.ok() ? Decode(*bytes, key) : bytes.status();
    if (absl::IsDataLoss(state.status())) {
      (*damaged)[list_id] = bytes.ok() ? *std::move(bytes) : std::string();
      return crdt::ListState();
    }
    return state;
  }

  // Keeps a committed state for the next write to its list, evicting
  // arbitrary others beyond the budget. Commit thread only.
  void Cache(const std::string& list_id, crdt::ListState state,
             size_t stored_size) {
    cached_bytes_ += stored_size;
    cache_[list_id] = {std::move(state), stored_size};
    while (cached_bytes_ > cache_budget_bytes_ && cache_.size() > 1) {
      auto victim = cache_.begin();
      if (victim->first == list_id) victim = std::next(victim);
      cached_bytes_ -= victim->second.stored_size;
      cache_.erase(victim);
    }
  }

  absl::StatusOr<crdt::ListState> ReadOrEmpty(const std::string& key) {
    absl::StatusOr<std::string> bytes = Read(key);
    if (absl::IsNotFound(bytes.status())) return crdt::ListState();
    if (!bytes.ok()) return bytes.status();
    return Decode(*bytes, key);
  }

  // The bytes stored at `key`; NOT_FOUND when there are none.
  absl::StatusOr<std::string> Read(const std::string& key) {
    absl::StatusOr<std::shared_ptr<leveldb::DB>> db = db_->Get();
    if (!db.ok()) return db.status();
    std::string bytes;
    leveldb::Status s = (*db)->Get(RecoveringDb::ReadOptions(), key, &bytes);
    if (!s.ok()) return FromLevelDb(s, key);
    return bytes;
  }

  absl::Mutex& LockFor(absl::string_view key) {
    return locks_[absl::Hash<absl::string_view>()(key) % locks_.size()];
  }

  const std::unique_ptr<RecoveringDb> db_;
  const MergeListener on_merge_;
  // Striped per-key locks: read-merge-write of one key is serialised.
  std::array<absl::Mutex, 256> locks_;
  static constexpr size_t kMaxBatch = 512;
  // Decoded states of recently written lists, for the commit thread only:
  // a write then costs no read and no decode. The budget counts their
  // stored bytes.
  const size_t cache_budget_bytes_;
  struct CachedState {
    crdt::ListState state;
    size_t stored_size = 0;
  };
  absl::flat_hash_map<std::string, CachedState> cache_;
  size_t cached_bytes_ = 0;
  absl::Mutex queue_mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stop_ ABSL_GUARDED_BY(queue_mu_) = false;
  std::thread committer_;
  absl::Mutex meta_mu_;
  uint64_t replica_id_ ABSL_GUARDED_BY(meta_mu_) = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ReplicaStore>> OpenLevelDbStore(
    const std::string& directory, StoreOptions options) {
  leveldb::Options db_options;
  if (options.env != nullptr) db_options.env = options.env;
  absl::StatusOr<std::unique_ptr<RecoveringDb>> db =
      RecoveringDb::Open(directory, db_options, std::move(options.on_repair));
  if (!db.ok()) return db.status();
  return std::make_unique<LevelDbReplicaStore>(
      *std::move(db), std::move(options.on_merge), options.state_cache_bytes);
}

}  // namespace shoplist::storage
