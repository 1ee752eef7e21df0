// The node's ReplicaStore on LevelDB: what OpenLevelDbStore returns, in the
// manner of LevelDB's db_impl.h behind db.h. Users include replica_store.h;
// this header is for reading the implementation and for its tests.
//
// Layout (keys → values):
//   list/<id>           encoded ListState: the list's folded base
//   list/<id>\0         the log's marker while it has records: the first
//                       record's seq and the next one's (16 hex digits
//                       each), so readers find the log by point reads
//   list/<id>\0<seq>    encoded ListState: a delta appended since (seq: 16
//                       hex digits, rising), NUL sorting it right after
//                       its base and before any other list
//   hint/<id>/<owner>   encoded ListState (a delta for a down owner); keyed
//                       by list first so a stand-in can answer reads of a
//                       list from the hints it holds
//   hint-since/<id>/<owner>  when that hint was first kept: Unix
//                       microseconds, 8 bytes little endian (none for hints
//                       kept by earlier versions)
//   meta/replica_id     8 bytes (RecoveringDb::ReplicaId)
//   meta/counter/<id>   decimal, last counter reserved on <id>
//   damaged/<id>        the bytes of a damaged part of list/<id>, kept aside
//                       when a merge started the list afresh
// A list written by an earlier version is a base without a log.
//
// Append, fold later. A merge that changes a list appends the join of the
// batch's deltas to it (one record per list per group commit), never
// re-encoding the list; duplicates (a delta whose dots the list has) are
// not appended. Lists up to 1 KiB (about 25 items) are written whole
// instead: re-encoding them costs less than a record and its fold. The commit
// thread folds a log into its base (the new base, the marker and records
// deleted): encoded after the batch's callbacks ran, when the log reaches
// half its base or FoldPolicy::max_log_records records, and written with
// the next batch (sharing its fsync) or alone once the queue is empty; and
// between batches, in a write of its own, when a list has had no write for
// FoldPolicy::quiet. A fold is synced although it adds nothing: LevelDB closes
// a full memtable's log file without fsync, so an unsynced fold there could be
// lost while a later synced append (in the next file) survives, naming records
// the fold had deleted. A list leaves the cache with its log, folded at a later
// write. Readers take the marker, the base and the log in one LevelDB snapshot
// and join them, so they see a fold either whole or not at all.
//
// Threads. Merges of lists go through one commit thread: MergeAsync queues,
// the thread takes everything queued, merges into the decoded states it
// keeps (reading from disk those it does not), appends, writes one synced
// WriteBatch and then runs the callbacks. So merges of a list never
// interleave, and concurrent merges share one fsync (group commit) without
// a per-list lock. Hints and counters are read-merge-written by the calling
// thread under a striped per-key lock. Reads take no lock of ours.
#ifndef SHOPLIST_STORAGE_LEVELDB_REPLICA_STORE_H_
#define SHOPLIST_STORAGE_LEVELDB_REPLICA_STORE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/recovering_db.h"
#include "storage/replica_store.h"

namespace shoplist::storage {

class LevelDbReplicaStore final : public ReplicaStore {
 public:
  // The access records of stored lists, by id, bounded: what StoredAccess
  // answers without a read. Shared with the database's repair callback,
  // which empties it (a repaired list may be older than what it holds).
  // Thread-safe.
  class AccessCache {
   public:
    std::optional<crdt::Register> Find(const std::string& list_id);
    // Keeps `record` unless the list has one already: a read that raced
    // with a merge must not replace what the merge put.
    void Fill(const std::string& list_id, const crdt::Register& record);
    // The merge's record, always.
    void Put(const std::string& list_id, const crdt::Register& record);
    void Clear();

   private:
    // About 150 bytes each (more for a closed list's grants): 40 MiB full.
    static constexpr size_t kMaxLists = 1 << 18;
    // When full, forgets about every other list: one pass per kMaxLists / 2
    // fills, where forgetting all made every list miss at once.
    void MakeRoomLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
    absl::Mutex mu_;
    absl::flat_hash_map<std::string, crdt::Register> records_
        ABSL_GUARDED_BY(mu_);
  };

  // Starts the commit thread. `on_merge` may be empty; `access` is the
  // cache OpenLevelDbStore shares with the repair callback, which also
  // counts `repairs` (the commit thread then forgets the states it keeps).
  LevelDbReplicaStore(std::unique_ptr<RecoveringDb> db, MergeListener on_merge,
                      size_t state_cache_bytes,
                      std::shared_ptr<AccessCache> access,
                      std::shared_ptr<std::atomic<uint64_t>> repairs,
                      FoldPolicy fold = {});
  // Commits what is queued, then stops the commit thread.
  ~LevelDbReplicaStore() override;

  // ReplicaStore; contracts in replica_store.h.
  absl::StatusOr<crdt::ListState> Get(absl::string_view list_id) override;
  absl::StatusOr<StoredList> GetStored(absl::string_view list_id) override;
  absl::StatusOr<std::optional<crdt::Register>> StoredAccess(
      absl::string_view list_id) override;
  absl::StatusOr<crdt::ListState> Merge(absl::string_view list_id,
                                        const crdt::ListState& delta) override;
  void MergeAsync(absl::string_view list_id, crdt::ListState delta,
                  MergeDone done, MergeCheck check) override;
  absl::Status AddHint(absl::string_view owner, absl::string_view list_id,
                       const crdt::ListState& delta) override;
  absl::StatusOr<std::vector<Hint>> Hints(size_t limit) override;
  absl::StatusOr<std::optional<crdt::ListState>> HintsFor(
      absl::string_view list_id) override;
  absl::Status RemoveHint(const Hint& delivered) override;
  absl::StatusOr<size_t> CountHints() override;
  absl::Status ScanLists(
      const std::function<void(const std::string&, const StoredList&)>& visit)
      override;
  absl::Status ExportRecords(
      const std::function<bool(absl::string_view, absl::string_view)>& visit)
      override;
  absl::StatusOr<uint64_t> ReplicaId() override;
  absl::StatusOr<uint64_t> ReserveCounter(absl::string_view list_id,
                                          uint64_t at_least,
                                          uint64_t count) override;

 private:
  struct Pending {
    std::string list_id;
    crdt::ListState delta;
    MergeDone done;
    MergeCheck check;
  };
  // A list as the commit thread keeps it: its state (the join of its base
  // and log on disk) and where its log stands.
  struct CachedState {
    crdt::ListState state;
    size_t base_size = 0;    // bytes of the stored base
    size_t log_size = 0;     // bytes of its log records
    uint64_t log_first = 0;  // the log's records are [log_first, log_next)
    uint64_t log_next = 0;
    // Its damaged stored bytes, to keep aside when it is next folded; the
    // fold is then due at once.
    std::optional<std::string> damaged;
    // A damaged table stops scans of its records: readers find only the
    // base (by a point read), so every write rewrites it.
    bool log_unreadable = false;
    absl::Time last_append;
    uint64_t stamp = 0;  // its place in cache_order_

    size_t stored_size() const { return base_size + log_size; }
    bool has_log() const { return log_next != log_first; }
  };
  // A list's parts as read, with the place of its log.
  struct ReadParts {
    StoredList stored;
    bool log_unreadable = false;  // only the base could be read
    uint64_t log_first = 0;
    uint64_t log_next = 0;
  };
  static constexpr size_t kMaxBatch = 512;

  // --- Commit thread only ---
  void CommitLoop();
  // Merges every entry of `batch` into its list, appends what changed, one
  // WriteBatch, one fsync, then every entry's callback with its list's
  // state after the batch; then folds the logs that are due.
  void CommitBatch(std::vector<Pending>& batch);
  // The list as committed, from the cache or from disk; a damaged one
  // starts afresh from the parts that decode.
  absl::StatusOr<CachedState> Current(const std::string& list_id);
  // Keeps a committed list, evicting others beyond the budget.
  void Cache(const std::string& list_id, CachedState list);
  // Adds to `write` the list's fold: `state` encoded as its base, its log
  // and marker deleted, its damaged bytes put aside; and counts it as
  // written in `list`'s place (a write that fails is the caller's to
  // handle: the list must then be read again).
  static void AddFold(const std::string& list_id, const crdt::ListState& state,
                      CachedState& list, leveldb::WriteBatch& write);
  // Encodes each list's fold into pending_folds_ and counts it as written
  // in the list's place (base size, log start): the next batch's write
  // carries it, sharing its fsync, and appends after it start a new log.
  void PrepareFolds(
      const std::vector<std::pair<std::string, CachedState*>>& lists);
  // Writes the prepared folds in a write of their own: when the queue is
  // empty, after a repair, and for quiet lists. A failure forgets the
  // cache (the logs are still durable).
  void WritePendingFolds();
  // Forgets every cached list: what the cache holds may not be on disk.
  void ForgetCache();
  // Adds to `write` the deletion of the list's log and its marker.
  static void DeleteLog(const std::string& list_id, const CachedState& list,
                        leveldb::WriteBatch& write);
  // Folds cached lists that have had no write for fold_.quiet; returns
  // when the next may be due (InfiniteFuture when none is waiting).
  absl::Time FoldQuiet(absl::Time now);

  // --- Any thread ---
  // The base and log of `list_id` in one view; NOT_FOUND when neither.
  // With `salvage`, a log that a damaged table hides is left out (and
  // ReadParts::log_unreadable set) rather than DATA_LOSS.
  absl::StatusOr<ReadParts> Read(absl::string_view list_id, bool salvage);
  absl::StatusOr<crdt::ListState> ReadOrEmpty(const std::string& key);
  absl::Mutex& LockFor(absl::string_view key);

  // Immutable after construction; thread-safe themselves.
  const std::unique_ptr<RecoveringDb> db_;
  // Stands in for when hints were kept where no record says (Hint::since).
  const absl::Time opened_ = absl::Now();
  const MergeListener on_merge_;
  const std::shared_ptr<AccessCache> access_;
  const std::shared_ptr<std::atomic<uint64_t>> repairs_;
  const size_t cache_budget_bytes_;
  const FoldPolicy fold_;

  // Owned by the commit thread (committer_). Decoded states of recently
  // written lists: a write to them costs no read and no decode. The budget
  // counts their stored bytes.
  absl::flat_hash_map<std::string, CachedState> cache_;
  size_t cached_bytes_ = 0;
  // Lists in the order they were cached, oldest first, for eviction; an
  // entry whose stamp is not its list's current one is stale (the list
  // was taken out, or cached again later) and is skipped.
  std::deque<std::pair<std::string, uint64_t>> cache_order_;
  uint64_t next_stamp_ = 0;
  // Appends in time order, for quiet folds; an entry whose time is not its
  // list's last append is stale.
  std::deque<std::pair<std::string, absl::Time>> appends_;
  // repairs_ as last seen: a repair may have lost what the cache holds.
  uint64_t repairs_seen_ = 0;
  // Folds prepared after a batch's answers (PrepareFolds), for the next
  // write, and their lists, which stay cached until then; the cached lists
  // already count them as written, so a write that fails with them
  // forgets the cache.
  leveldb::WriteBatch pending_folds_;
  absl::flat_hash_set<std::string> pending_fold_ids_;

  // Guarded by queue_mu_: merges waiting for the commit thread.
  absl::Mutex queue_mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stop_ ABSL_GUARDED_BY(queue_mu_) = false;

  // Striped per-key locks: the read-merge-write of one hint or counter key
  // is serialised (list keys are the commit thread's).
  std::array<absl::Mutex, 256> locks_;

  // Last, so it starts after every member it uses exists.
  std::thread committer_;
};

}  // namespace shoplist::storage

#endif  // SHOPLIST_STORAGE_LEVELDB_REPLICA_STORE_H_
