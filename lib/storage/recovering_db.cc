#include "storage/recovering_db.h"

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "leveldb/env.h"

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
    std::string directory, leveldb::Options options,
    std::function<void()> on_repair, absl::Duration probe_interval) {
  options.create_if_missing = true;
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, directory, &db);
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot open LevelDB at ", directory, ": ", s.ToString()));
  }
  return std::unique_ptr<RecoveringDb>(
      new RecoveringDb(std::move(directory), options, std::move(on_repair),
                       probe_interval, std::shared_ptr<leveldb::DB>(db)));
}

RecoveringDb::RecoveringDb(std::string directory, leveldb::Options options,
                           std::function<void()> on_repair,
                           absl::Duration probe_interval,
                           std::shared_ptr<leveldb::DB> db)
    : directory_(std::move(directory)),
      options_(options),
      on_repair_(std::move(on_repair)),
      probe_interval_(probe_interval),
      db_(std::move(db)) {}

RecoveringDb::~RecoveringDb() = default;

absl::StatusOr<std::shared_ptr<leveldb::DB>> RecoveringDb::Get() {
  {
    absl::MutexLock lock(&db_mu_);
    if (db_ != nullptr) return db_;
  }
  // A reopen failed: readers retry it too, or a node that takes no writes
  // would never serve reads again.
  if (write_mu_.TryLock()) {
    if (absl::Now() >= next_probe_) {
      next_probe_ = absl::Now() + probe_interval_;
      if (DiskWritable() && Reopen(/*repair=*/false).ok()) {
        write_error_ = absl::OkStatus();
        failing_.store(false, std::memory_order_release);
      }
    }
    write_mu_.Unlock();
  }
  absl::MutexLock lock(&db_mu_);
  if (db_ != nullptr) return db_;
  return absl::UnavailableError(absl::StrCat(
      "the database at ", directory_, " is closed after a failed write"));
}

absl::Status RecoveringDb::Write(leveldb::WriteBatch* batch,
                                 absl::string_view what) {
  leveldb::WriteOptions sync;
  sync.sync = true;
  if (!failing()) {
    absl::StatusOr<std::shared_ptr<leveldb::DB>> db = Get();
    if (!db.ok()) return db.status();
    leveldb::Status s = (*db)->Write(sync, batch);
    if (s.ok() || !(s.IsIOError() || s.IsCorruption())) {
      return FromLevelDb(s, what);
    }
    absl::MutexLock lock(&write_mu_);
    if (s.IsCorruption()) {
      // Only a background error makes a write fail so: a compaction read a
      // damaged block, and LevelDB takes no more writes.
      db->reset();
      if (absl::Status r = Reopen(/*repair=*/true); !r.ok()) {
        write_error_ = r;
        next_probe_ = absl::Now() + probe_interval_;
        failing_.store(true, std::memory_order_release);
        return r;
      }
      if (on_repair_) on_repair_();
      absl::StatusOr<std::shared_ptr<leveldb::DB>> repaired = Get();
      if (!repaired.ok()) return repaired.status();
      return FromLevelDb((*repaired)->Write(sync, batch), what);
    }
    // LevelDB now refuses every write until reopened; probe before that.
    write_error_ = FromLevelDb(s, what);
    next_probe_ = absl::Now() + probe_interval_;
    failing_.store(true, std::memory_order_release);
    return write_error_;
  }
  absl::MutexLock lock(&write_mu_);
  if (failing()) {
    if (absl::Now() < next_probe_) return write_error_;
    next_probe_ = absl::Now() + probe_interval_;
    if (!DiskWritable()) return write_error_;
    if (absl::Status s = Reopen(/*repair=*/false); !s.ok()) {
      write_error_ = s;
      return s;
    }
    write_error_ = absl::OkStatus();
    failing_.store(false, std::memory_order_release);
  }
  absl::StatusOr<std::shared_ptr<leveldb::DB>> db = Get();
  if (!db.ok()) return db.status();
  leveldb::Status s = (*db)->Write(sync, batch);
  if (s.IsIOError()) {
    write_error_ = FromLevelDb(s, what);
    failing_.store(true, std::memory_order_release);
  }
  return FromLevelDb(s, what);
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
