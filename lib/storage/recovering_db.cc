#include "storage/recovering_db.h"

#include <cstring>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crdt/list_id.h"
#include "leveldb/cache.h"
#include "leveldb/env.h"
#include "leveldb/filter_policy.h"

namespace shoplist::storage {

absl::Status FromLevelDb(const leveldb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound()) return absl::NotFoundError(what);
  if (s.IsCorruption()) {
    return absl::DataLossError(absl::StrCat(what, ": ", s.ToString()));
  }
  if (s.IsIOError()) {
    return absl::UnavailableError(absl::StrCat(what, ": ", s.ToString()));
  }
  return absl::InternalError(absl::StrCat(what, ": ", s.ToString()));
}

leveldb::ReadOptions RecoveringDb::ReadOptions() {
  leveldb::ReadOptions read;
  read.verify_checksums = true;
  return read;
}

absl::StatusOr<std::unique_ptr<RecoveringDb>> RecoveringDb::Open(
    std::string directory, DbOptions db_options) {
  leveldb::Options options;
  options.create_if_missing = true;
  if (db_options.env != nullptr) options.env = db_options.env;
  // A read of a list checks one table per level; with a million lists the
  // filters let it skip the tables that lack the key without reading a
  // block (tables written without one are read as before). Never freed:
  // every DB of the process may use it until exit.
  static const leveldb::FilterPolicy* const kBloom =
      leveldb::NewBloomFilterPolicy(10);
  options.filter_policy = kBloom;
  std::shared_ptr<leveldb::Cache> cache;
  if (db_options.block_cache_bytes > 0) {
    cache.reset(leveldb::NewLRUCache(db_options.block_cache_bytes));
    options.block_cache = cache.get();
  }
  if (db_options.write_buffer_bytes > 0) {
    options.write_buffer_size = db_options.write_buffer_bytes;
  }
  const absl::Time deadline = absl::Now() + db_options.lock_wait;
  while (true) {
    leveldb::DB* db = nullptr;
    leveldb::Status s = leveldb::DB::Open(options, directory, &db);
    if (s.ok()) {
      return std::unique_ptr<RecoveringDb>(
          new RecoveringDb(std::move(directory), options, std::move(db_options),
                           std::move(cache), std::shared_ptr<leveldb::DB>(db)));
    }
    // "lock <dir>/LOCK: ..." is LevelDB's word for a lock another process
    // (or this one) holds; failing to create the file reads otherwise.
    const bool busy =
        s.IsIOError() && s.ToString().find(absl::StrCat(
                             "lock ", directory, "/LOCK")) != std::string::npos;
    if (!busy) {
      return absl::UnavailableError(absl::StrCat(
          "cannot open LevelDB at ", directory, ": ", s.ToString()));
    }
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(
          absl::StrCat(directory, " is in use by another process (",
                       s.ToString(), "); try again"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

RecoveringDb::RecoveringDb(std::string directory, leveldb::Options options,
                           DbOptions db_options,
                           std::shared_ptr<leveldb::Cache> cache,
                           std::shared_ptr<leveldb::DB> db)
    : directory_(std::move(directory)),
      block_cache_(std::move(cache)),
      options_(options),
      repair_on_corruption_(db_options.repair_on_corruption),
      on_repair_(std::move(db_options.on_repair)),
      probe_interval_(db_options.probe_interval),
      db_(std::move(db)) {}

absl::StatusOr<std::string> RecoveringDb::Read(absl::string_view key) {
  absl::StatusOr<std::shared_ptr<leveldb::DB>> db = Get();
  if (!db.ok()) return db.status();
  std::string bytes;
  leveldb::Status s =
      (*db)->Get(ReadOptions(), leveldb::Slice(key.data(), key.size()), &bytes);
  if (!s.ok()) return FromLevelDb(s, key);
  return bytes;
}

absl::Status RecoveringDb::Scan(
    absl::string_view prefix,
    const std::function<bool(absl::string_view, absl::string_view)>& visit) {
  absl::StatusOr<std::shared_ptr<leveldb::DB>> db = Get();
  if (!db.ok()) return db.status();
  // An iterator reads one implicit snapshot.
  std::unique_ptr<leveldb::Iterator> it((*db)->NewIterator(ReadOptions()));
  const leveldb::Slice start(prefix.data(), prefix.size());
  for (it->Seek(start); it->Valid() && it->key().starts_with(start);
       it->Next()) {
    absl::string_view key(it->key().data(), it->key().size());
    if (!visit(key.substr(prefix.size()),
               absl::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return FromLevelDb(it->status(), absl::StrCat("scan of ", prefix));
}

absl::Status RecoveringDb::Put(absl::string_view key, absl::string_view value) {
  leveldb::WriteBatch batch;
  batch.Put(leveldb::Slice(key.data(), key.size()),
            leveldb::Slice(value.data(), value.size()));
  return Write(&batch, key);
}

absl::StatusOr<uint64_t> RecoveringDb::ReplicaId() {
  absl::MutexLock lock(&replica_id_mu_);
  if (replica_id_ != 0) return replica_id_;
  absl::StatusOr<std::string> stored = Read(kReplicaIdKey);
  if (stored.ok()) {
    uint64_t id = 0;
    if (stored->size() != sizeof id ||
        (std::memcpy(&id, stored->data(), sizeof id), id == 0)) {
      return absl::DataLossError(
          absl::StrCat("stored ", kReplicaIdKey, " is damaged"));
    }
    replica_id_ = id;
    return replica_id_;
  }
  if (!absl::IsNotFound(stored.status())) return stored.status();
  absl::StatusOr<uint64_t> id = crdt::NewReplicaId();
  if (!id.ok()) return id.status();
  if (absl::Status s = Put(
          kReplicaIdKey, absl::string_view(reinterpret_cast<const char*>(&*id),
                                           sizeof(uint64_t)));
      !s.ok()) {
    return s;
  }
  replica_id_ = *id;
  return replica_id_;
}

RecoveringDb::~RecoveringDb() = default;

absl::StatusOr<std::shared_ptr<leveldb::DB>> RecoveringDb::Get() {
  {
    absl::MutexLock lock(&db_mu_);
    if (db_ != nullptr) return db_;
  }
  // A reopen failed: readers retry it too, or a node that takes no writes
  // would never serve reads again.
  if (write_mu_.TryLock()) {
    RecoverIfDue();
    write_mu_.Unlock();
  }
  absl::MutexLock lock(&db_mu_);
  if (db_ != nullptr) return db_;
  return absl::UnavailableError(absl::StrCat(
      "the database at ", directory_, " is closed after a failed write"));
}

absl::Status RecoveringDb::Write(leveldb::WriteBatch* batch,
                                 absl::string_view what, bool sync) {
  if (failing()) {
    absl::MutexLock lock(&write_mu_);
    if (failing() && !RecoverIfDue()) return write_error_;
  }
  // No lock of ours here: LevelDB groups concurrent writes into one fsync.
  absl::StatusOr<std::shared_ptr<leveldb::DB>> db = Get();
  if (!db.ok()) return db.status();
  leveldb::WriteOptions options;
  options.sync = sync;
  leveldb::Status s = (*db)->Write(options, batch);
  if (s.ok() ||
      !(s.IsIOError() || (s.IsCorruption() && repair_on_corruption_))) {
    return FromLevelDb(s, what);
  }
  db->reset();  // a reopen waits for every handle
  absl::MutexLock lock(&write_mu_);
  if (s.IsIOError()) {
    // LevelDB now refuses every write until reopened; probe before that.
    Fail(FromLevelDb(s, what));
    return write_error_;
  }
  // Only a background error makes a write fail with Corruption: a
  // compaction read a damaged block, and LevelDB takes no more writes.
  if (absl::Status r = Reopen(/*repair=*/true); !r.ok()) {
    Fail(r);
    return r;
  }
  if (on_repair_) on_repair_();
  absl::StatusOr<std::shared_ptr<leveldb::DB>> repaired = Get();
  if (!repaired.ok()) return repaired.status();
  return FromLevelDb((*repaired)->Write(options, batch), what);
}

void RecoveringDb::Fail(absl::Status why) {
  write_error_ = std::move(why);
  next_probe_ = absl::Now() + probe_interval_;
  failing_.store(true, std::memory_order_release);
}

bool RecoveringDb::RecoverIfDue() {
  if (absl::Now() < next_probe_) return false;
  next_probe_ = absl::Now() + probe_interval_;
  if (!DiskWritable()) return false;
  if (absl::Status s = Reopen(/*repair=*/false); !s.ok()) {
    write_error_ = s;
    return false;
  }
  write_error_ = absl::OkStatus();
  failing_.store(false, std::memory_order_release);
  return true;
}

bool RecoveringDb::DiskWritable() {
  leveldb::Env* env =
      options_.env != nullptr ? options_.env : leveldb::Env::Default();
  const std::string probe = directory_ + "/WRITE-PROBE";
  leveldb::WritableFile* file = nullptr;
  if (!env->NewWritableFile(probe, &file).ok()) return false;
  // About what a commit appends to the log.
  const std::string block(4096, '\0');
  bool ok = file->Append(block).ok() && file->Sync().ok();
  ok = file->Close().ok() && ok;
  delete file;
  env->RemoveFile(probe);
  return ok;
}

absl::Status RecoveringDb::Reopen(bool repair) {
  std::shared_ptr<leveldb::DB> old;
  {
    absl::MutexLock lock(&db_mu_);
    old = std::move(db_);
  }
  // Readers hold handles for one call (a scan at most); the file lock is
  // released only when the last one goes.
  while (old != nullptr && old.use_count() > 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  old.reset();
  if (repair) {
    if (leveldb::Status s = leveldb::RepairDB(directory_, options_); !s.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "cannot repair LevelDB at ", directory_, ": ", s.ToString()));
    }
  }
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(options_, directory_, &db);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot reopen LevelDB at ",
                                               directory_, ": ", s.ToString()));
  }
  absl::MutexLock lock(&db_mu_);
  db_.reset(db);
  return absl::OkStatus();
}

}  // namespace shoplist::storage
