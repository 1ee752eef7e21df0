// The one LevelDB foundation of shoplist's three stores: the node's replica
// store (storage/leveldb_replica_store.h), the proxy's membership
// (services/proxy/proxy_state.h) and the CLI's home
// (clients/core/local_store.h). It opens the database (with an injectable
// leveldb::Env, for fault injection, and waiting for another process's lock
// when asked), maps LevelDB's status to ours (FromLevelDb), reads, scans by
// key prefix, writes synced batches, and creates the store's replica id.
//
// A LevelDB database that outlives failed writes.
//
// When a sync fails (a full disk, an I/O error), LevelDB refuses every
// later write with the same error until the database is reopened, even
// once the disk has room again. RecoveringDb keeps the database open for
// reads, refuses writes with that error, and probes the disk at most every
// `probe_interval`: once a small file can be written and synced there, it
// reopens the database (replaying its log) and writes go on. Nothing is
// acknowledged that was not written: a write returns OK only when LevelDB
// synced it.
//
// A compaction that reads a damaged block stops LevelDB's writes with a
// Corruption error for good; when asked (DbOptions::repair_on_corruption),
// RecoveringDb then repairs the database
// (leveldb::RepairDB keeps every readable entry, so a damaged key is gone
// or back at an older value) and reopens it, and calls `on_repair` so that
// what was derived from the contents is rebuilt. Reads verify checksums
// (ReadOptions()), so damage is DATA_LOSS, not garbage.
//
// Errors: writes refused while the disk fails are UNAVAILABLE with the
// disk's error; damaged data is DATA_LOSS; a database that cannot be
// reopened answers UNAVAILABLE until a later probe succeeds.
//
// Thread-safe. Handles from Get() stay valid while held; a reopen waits
// for them to be released.
#ifndef SHOPLIST_STORAGE_RECOVERING_DB_H_
#define SHOPLIST_STORAGE_RECOVERING_DB_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "leveldb/db.h"
#include "leveldb/options.h"
#include "leveldb/write_batch.h"

namespace shoplist::storage {

// LevelDB's status as ours: OK, NOT_FOUND, DATA_LOSS for corruption,
// UNAVAILABLE for I/O errors (the disk may recover), INTERNAL otherwise.
// `what` names the key or operation.
absl::Status FromLevelDb(const leveldb::Status& s, absl::string_view what);

struct DbOptions {
  // The file system; null is the real one. Not owned: it must outlive the
  // database.
  leveldb::Env* env = nullptr;
  // Whether a Corruption that stops LevelDB's writes is repaired (see
  // above). Only for a store whose contents its replicas or its own memory
  // can refill: a repair may bring a key back at an older value, and a
  // store that derives new CRDT dots from what it holds (the CLI's home)
  // would then reuse dots. Without it such a write is DATA_LOSS, for good.
  bool repair_on_corruption = false;
  // Called after a repair, on the writing thread.
  std::function<void()> on_repair;
  // How often a failing disk is probed.
  absl::Duration probe_interval = absl::Milliseconds(200);
  // How long Open waits while another process holds the database's lock
  // (the CLI: another command on the same home); zero fails at once.
  absl::Duration lock_wait = absl::ZeroDuration();
  // LevelDB's cache of uncompressed blocks and its memtable; 0 keeps
  // LevelDB's (8 MiB and 4 MiB).
  size_t block_cache_bytes = 0;
  size_t write_buffer_bytes = 0;
};

// The key under which every store keeps its replica id (ReplicaId()).
inline constexpr absl::string_view kReplicaIdKey = "meta/replica_id";

class RecoveringDb {
 public:
  // Opens (creating if missing) the database in `directory`. Errors:
  // UNAVAILABLE when it cannot be opened, or when another process still
  // holds it after options.lock_wait.
  static absl::StatusOr<std::unique_ptr<RecoveringDb>> Open(
      std::string directory, DbOptions options = {});

  // Options for every read: checksums verified.
  static leveldb::ReadOptions ReadOptions();
  ~RecoveringDb();
  RecoveringDb(const RecoveringDb&) = delete;
  RecoveringDb& operator=(const RecoveringDb&) = delete;

  // The database for reads; UNAVAILABLE while it is closed for a reopen.
  absl::StatusOr<std::shared_ptr<leveldb::DB>> Get();

  // Applies `batch`, with sync=true unless `sync` is false (for a write
  // whose loss loses nothing: it only rewrites what is durable already).
  // After a failed write, refuses with that error until a probe finds the
  // disk writable, then reopens first.
  absl::Status Write(leveldb::WriteBatch* batch, absl::string_view what,
                     bool sync = true);

  // The bytes at `key`; NOT_FOUND when there are none.
  absl::StatusOr<std::string> Read(absl::string_view key);

  // Calls `visit` with every key that starts with `prefix` (the prefix
  // stripped) and its value, in key order, on one consistent view, until
  // `visit` returns false. Errors: the database's.
  absl::Status Scan(absl::string_view prefix,
                    const std::function<bool(absl::string_view rest,
                                             absl::string_view value)>& visit);

  // Write() of one key.
  absl::Status Put(absl::string_view key, absl::string_view value);

  // This store's replica id (a random nonzero 64-bit number, its 8 bytes
  // in host order, little endian on every machine we build for, at
  // kReplicaIdKey): created durably the first time, then the
  // same across restarts. DATA_LOSS when the stored id is damaged: a new
  // one would hide the damage and could reuse counters.
  absl::StatusOr<uint64_t> ReplicaId();

  // Whether writes are being refused since a failure.
  bool failing() const { return failing_.load(std::memory_order_acquire); }

 private:
  RecoveringDb(std::string directory, leveldb::Options options,
               DbOptions db_options, std::shared_ptr<leveldb::Cache> cache,
               std::shared_ptr<leveldb::DB> db);
  // Refuses writes with `why` until a probe, at most every probe_interval_.
  void Fail(absl::Status why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // When a probe is due and finds the disk writable, reopens the database
  // and takes writes again. Returns whether it did.
  bool RecoverIfDue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Whether a small file can be written and synced in the directory.
  bool DiskWritable();
  // Closes the database once every handle is released, repairs it when
  // asked, and opens it again.
  absl::Status Reopen(bool repair) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  const std::string directory_;
  // Before the database, which uses it until it closes.
  const std::shared_ptr<leveldb::Cache> block_cache_;
  const leveldb::Options options_;
  const bool repair_on_corruption_;
  const std::function<void()> on_repair_;
  const absl::Duration probe_interval_;

  absl::Mutex replica_id_mu_;  // one creation, however many callers
  uint64_t replica_id_ ABSL_GUARDED_BY(replica_id_mu_) = 0;

  // Set after a failed write, cleared by a successful reopen: while set,
  // writes go through the slow path under write_mu_. Normal writes take no
  // lock of ours, so LevelDB still groups concurrent ones into one fsync.
  std::atomic<bool> failing_{false};
  // Serialises the slow path: probes and reopens.
  absl::Mutex write_mu_;
  absl::Status write_error_ ABSL_GUARDED_BY(write_mu_);
  absl::Time next_probe_ ABSL_GUARDED_BY(write_mu_);

  absl::Mutex db_mu_;
  std::shared_ptr<leveldb::DB> db_ ABSL_GUARDED_BY(db_mu_);
};

}  // namespace shoplist::storage

#endif  // SHOPLIST_STORAGE_RECOVERING_DB_H_
