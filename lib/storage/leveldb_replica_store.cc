// LevelDB layout:
//   list/<id>           encoded ListState
//   hint/<id>/<owner>   encoded ListState (a delta for a down owner); keyed
//                       by list first so a stand-in can answer reads
//                       of a list from the hints it holds
//   meta/replica_id     8 bytes, little endian
//   meta/counter/<id>   decimal, last counter reserved on <id>
// Writes use sync=true; LevelDB groups concurrent writers into one log
// write and one fsync, so concurrency amortises the sync.
#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "leveldb/db.h"
#include "leveldb/write_batch.h"
#include "storage/replica_store.h"

namespace shoplist::storage {
namespace {

constexpr absl::string_view kListPrefix = "list/";
constexpr absl::string_view kHintPrefix = "hint/";
constexpr absl::string_view kReplicaIdKey = "meta/replica_id";
constexpr absl::string_view kCounterPrefix = "meta/counter/";

absl::Status FromLevelDb(const leveldb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound()) return absl::NotFoundError(what);
  if (s.IsCorruption()) {
    return absl::DataLossError(absl::StrCat(what, ": ", s.ToString()));
  }
  return absl::InternalError(absl::StrCat(what, ": ", s.ToString()));
}

std::string Encode(const crdt::ListState& state) {
  v1::ListState message;
  codec::EncodeState(state, &message);
  return message.SerializeAsString();
}

absl::StatusOr<crdt::ListState> Decode(absl::string_view bytes,
                                       absl::string_view key) {
  v1::ListState message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat("stored ", key, " does not parse"));
  }
  absl::StatusOr<crdt::ListState> state = codec::DecodeState(message);
  if (!state.ok()) {
    return absl::DataLossError(absl::StrCat(
        "stored ", key, " is invalid: ", state.status().message()));
  }
  return state;
}

class LevelDbReplicaStore final : public ReplicaStore {
 public:
  LevelDbReplicaStore(std::unique_ptr<leveldb::DB> db, MergeListener on_merge)
      : db_(std::move(db)), on_merge_(std::move(on_merge)) {
    sync_.sync = true;
  }

  absl::StatusOr<crdt::ListState> Get(absl::string_view list_id) override {
    std::string key = absl::StrCat(kListPrefix, list_id);
    std::string bytes;
    leveldb::Status s = db_->Get(leveldb::ReadOptions(), key, &bytes);
    if (s.IsNotFound()) {
      return absl::NotFoundError(absl::StrCat("list ", list_id, " not found"));
    }
    if (!s.ok()) return FromLevelDb(s, key);
    return Decode(bytes, key);
  }

  absl::StatusOr<crdt::ListState> Merge(absl::string_view list_id,
                                        const crdt::ListState& delta) override {
    std::string key = absl::StrCat(kListPrefix, list_id);
    absl::MutexLock lock(&LockFor(key));
    absl::StatusOr<crdt::ListState> merged = ReadOrEmpty(key);
    if (!merged.ok()) return merged.status();
    crdt::ListState before = *merged;
    merged->Merge(delta);
    // Re-writing an unchanged state would cost an fsync for nothing; the
    // previous write that stored it was already durable.
    if (*merged == before) return merged;
    std::string bytes = Encode(*merged);
    if (absl::Status s = FromLevelDb(db_->Put(sync_, key, bytes), key);
        !s.ok()) {
      return s;
    }
    if (on_merge_) on_merge_(std::string(list_id), *merged, bytes);
    return merged;
  }

  absl::Status AddHint(absl::string_view owner, absl::string_view list_id,
                       const crdt::ListState& delta) override {
    std::string key = absl::StrCat(kHintPrefix, list_id, "/", owner);
    absl::MutexLock lock(&LockFor(key));
    absl::StatusOr<crdt::ListState> hint = ReadOrEmpty(key);
    if (!hint.ok()) return hint.status();
    hint->Merge(delta);
    return FromLevelDb(db_->Put(sync_, key, Encode(*hint)), key);
  }

  absl::StatusOr<std::vector<Hint>> Hints(size_t limit) override {
    std::vector<Hint> hints;
    std::unique_ptr<leveldb::Iterator> it(
        db_->NewIterator(leveldb::ReadOptions()));
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
    std::string bytes;
    leveldb::Status s = db_->Get(leveldb::ReadOptions(), key, &bytes);
    if (s.IsNotFound()) return absl::OkStatus();
    if (!s.ok()) return FromLevelDb(s, key);
    // A write merged into the hint after it was read stays for the next
    // delivery.
    if (bytes != delivered.stored_bytes) return absl::OkStatus();
    return FromLevelDb(db_->Delete(sync_, key), key);
  }

  absl::StatusOr<std::optional<crdt::ListState>> HintsFor(
      absl::string_view list_id) override {
    std::string prefix = absl::StrCat(kHintPrefix, list_id, "/");
    std::optional<crdt::ListState> merged;
    std::unique_ptr<leveldb::Iterator> it(
        db_->NewIterator(leveldb::ReadOptions()));
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
    std::unique_ptr<leveldb::Iterator> it(
        db_->NewIterator(leveldb::ReadOptions()));
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
    leveldb::ReadOptions snapshot;
    snapshot.snapshot = db_->GetSnapshot();
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(snapshot));
    const leveldb::Slice prefix(kListPrefix.data(), kListPrefix.size());
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      visit(it->key().ToString().substr(kListPrefix.size()),
            absl::string_view(it->value().data(), it->value().size()));
    }
    absl::Status status = FromLevelDb(it->status(), "list scan");
    it.reset();
    db_->ReleaseSnapshot(snapshot.snapshot);
    return status;
  }

  absl::StatusOr<uint64_t> ReplicaId() override {
    absl::MutexLock lock(&meta_mu_);
    if (replica_id_ != 0) return replica_id_;
    std::string bytes;
    leveldb::Status s =
        db_->Get(leveldb::ReadOptions(), std::string(kReplicaIdKey), &bytes);
    if (s.ok()) {
      if (bytes.size() != sizeof(uint64_t)) {
        // Making a new id would hide the damage and could reuse counters.
        return absl::DataLossError(
            absl::StrCat("stored ", kReplicaIdKey, " is damaged"));
      }
      std::memcpy(&replica_id_, bytes.data(), sizeof(uint64_t));
      return replica_id_;
    }
    if (!s.ok() && !s.IsNotFound()) return FromLevelDb(s, kReplicaIdKey);
    absl::StatusOr<uint64_t> id = crdt::NewReplicaId();
    if (!id.ok()) return id.status();
    bytes.assign(reinterpret_cast<const char*>(&*id), sizeof(uint64_t));
    if (absl::Status st = FromLevelDb(
            db_->Put(sync_, std::string(kReplicaIdKey), bytes), kReplicaIdKey);
        !st.ok()) {
      return st;
    }
    replica_id_ = *id;
    return replica_id_;
  }

  absl::StatusOr<uint64_t> ReserveCounter(absl::string_view list_id,
                                          uint64_t at_least) override {
    std::string key = absl::StrCat(kCounterPrefix, list_id);
    absl::MutexLock lock(&LockFor(key));
    std::string bytes;
    uint64_t last = 0;
    leveldb::Status s = db_->Get(leveldb::ReadOptions(), key, &bytes);
    if (s.ok()) {
      if (!absl::SimpleAtoi(bytes, &last)) {
        return absl::DataLossError(absl::StrCat("stored ", key, " is invalid"));
      }
    } else if (!s.IsNotFound()) {
      return FromLevelDb(s, key);
    }
    uint64_t next = std::max(last, at_least) + 1;
    if (absl::Status st =
            FromLevelDb(db_->Put(sync_, key, absl::StrCat(next)), key);
        !st.ok()) {
      return st;
    }
    return next;
  }

 private:
  absl::StatusOr<crdt::ListState> ReadOrEmpty(const std::string& key) {
    std::string bytes;
    leveldb::Status s = db_->Get(leveldb::ReadOptions(), key, &bytes);
    if (s.IsNotFound()) return crdt::ListState();
    if (!s.ok()) return FromLevelDb(s, key);
    return Decode(bytes, key);
  }

  absl::Mutex& LockFor(absl::string_view key) {
    return locks_[absl::Hash<absl::string_view>()(key) % locks_.size()];
  }

  std::unique_ptr<leveldb::DB> db_;
  const MergeListener on_merge_;
  leveldb::WriteOptions sync_;
  // Striped per-key locks: read-merge-write of one key is serialised.
  std::array<absl::Mutex, 256> locks_;
  absl::Mutex meta_mu_;
  uint64_t replica_id_ ABSL_GUARDED_BY(meta_mu_) = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ReplicaStore>> OpenLevelDbStore(
    const std::string& directory, MergeListener on_merge) {
  leveldb::Options options;
  options.create_if_missing = true;
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, directory, &db);
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot open LevelDB at ", directory, ": ", s.ToString()));
  }
  return std::make_unique<LevelDbReplicaStore>(std::unique_ptr<leveldb::DB>(db),
                                               std::move(on_merge));
}

}  // namespace shoplist::storage
