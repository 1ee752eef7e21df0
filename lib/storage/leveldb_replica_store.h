// The node's ReplicaStore on LevelDB: what OpenLevelDbStore returns, in the
// manner of LevelDB's db_impl.h behind db.h. Users include replica_store.h;
// this header is for reading the implementation and for its tests.
//
// Layout (keys → values):
//   list/<id>           encoded ListState
//   hint/<id>/<owner>   encoded ListState (a delta for a down owner); keyed
//                       by list first so a stand-in can answer reads of a
//                       list from the hints it holds
//   meta/replica_id     8 bytes (RecoveringDb::ReplicaId)
//   meta/counter/<id>   decimal, last counter reserved on <id>
//   damaged/<id>        the bytes of a damaged list/<id>, kept aside when a
//                       merge started the list afresh
//
// Threads. Merges of lists go through one commit thread: MergeAsync queues,
// the thread takes everything queued, reads (from its cache of decoded
// states, else from disk), merges, writes one synced WriteBatch and then
// runs the callbacks. So merges of a list never interleave, and concurrent
// merges share one fsync (group commit) without a per-list lock. Hints and
// counters are read-merge-written by the calling thread under a striped
// per-key lock. Reads take no lock of ours.
#ifndef SHOPLIST_STORAGE_LEVELDB_REPLICA_STORE_H_
#define SHOPLIST_STORAGE_LEVELDB_REPLICA_STORE_H_

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
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
  // cache OpenLevelDbStore shares with the repair callback.
  LevelDbReplicaStore(std::unique_ptr<RecoveringDb> db, MergeListener on_merge,
                      size_t state_cache_bytes,
                      std::shared_ptr<AccessCache> access);
  // Commits what is queued, then stops the commit thread.
  ~LevelDbReplicaStore() override;

  // ReplicaStore; contracts in replica_store.h.
  absl::StatusOr<crdt::ListState> Get(absl::string_view list_id) override;
  absl::StatusOr<std::string> GetStoredBytes(
      absl::string_view list_id) override;
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
      const std::function<void(const std::string&, absl::string_view)>& visit)
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
  struct CachedState {
    crdt::ListState state;
    size_t stored_size = 0;
    uint64_t stamp = 0;  // its place in cache_order_
  };
  static constexpr size_t kMaxBatch = 512;

  // --- Commit thread only ---
  void CommitLoop();
  // Read-merge-write of every list in `batch`, one WriteBatch, one fsync,
  // then every entry's callback with its list's state after the batch.
  void CommitBatch(std::vector<Pending>& batch);
  // The committed state of a list and the size of its stored bytes; a
  // damaged one starts afresh, its bytes going to `damaged`.
  absl::StatusOr<crdt::ListState> Current(const std::string& list_id,
                                          size_t* stored_size,
                                          std::optional<std::string>* damaged);
  // Keeps a committed state, evicting others beyond the budget.
  void Cache(const std::string& list_id, crdt::ListState state,
             size_t stored_size);

  // --- Any thread ---
  absl::StatusOr<crdt::ListState> ReadOrEmpty(const std::string& key);
  absl::Mutex& LockFor(absl::string_view key);

  // Immutable after construction; thread-safe themselves.
  const std::unique_ptr<RecoveringDb> db_;
  const MergeListener on_merge_;
  const std::shared_ptr<AccessCache> access_;
  const size_t cache_budget_bytes_;

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
