// A node's durable storage: list states, hints held for down nodes, and the
// node's own metadata. Every write is a merge (a join of CRDT states), so
// concurrent writers never lose each other's updates: the LevelDB store
// serialises the merges of lists on its one commit thread, and the
// read-merge-write of hints and counters under a per-key lock
// (leveldb_replica_store.h). A call that returns OK has reached the disk
// (fsync), so an acknowledged write survives kill -9.
//
// A list is stored as a StoredList: a folded base and the deltas appended
// to it since, so that a write costs its delta, not the list. Its state is
// the join of them all; readers join them (or only what they need: the
// digest joins contexts, the access check joins access records).
//
// Thread-safe.
#ifndef SHOPLIST_STORAGE_REPLICA_STORE_H_
#define SHOPLIST_STORAGE_REPLICA_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crdt/list_state.h"

namespace leveldb {
class Env;
}  // namespace leveldb

namespace shoplist::storage {

// A delta held for a node that was down when it was written.
struct Hint {
  std::string owner;
  std::string list_id;
  crdt::ListState delta;
  // Encoded bytes as read; RemoveHint deletes only if still unchanged.
  std::string stored_bytes;
  // When it was first kept (later writes for the same owner and list join
  // into it); for a hint kept by a version that did not record it, when
  // the store was opened.
  absl::Time since;
};

// A list as stored: the encoded state it was last folded into (empty for
// none: an empty state encodes to no bytes) and the encoded deltas
// appended since, oldest first. Each is an encoded v1::ListState; the
// list's state is their join.
struct StoredList {
  std::string base;
  std::vector<std::string> log;
};

class ReplicaStore {
 public:
  virtual ~ReplicaStore() = default;

  // The stored state; NOT_FOUND when this node never stored the list,
  // DATA_LOSS when the stored bytes do not decode.
  virtual absl::StatusOr<crdt::ListState> Get(absl::string_view list_id) = 0;

  // The list as stored (base and log, read in one consistent view), as a
  // replica sends it without decoding when its log is empty; NOT_FOUND
  // when this node never stored it.
  virtual absl::StatusOr<StoredList> GetStored(absl::string_view list_id) = 0;

  // The stored list's access record (unset for an open list); nullopt when
  // this node never stored the list. Cheap for lists written since the
  // store opened (kept in memory, updated by every merge), else a read;
  // what a coordinator checks a client's change against before sending it.
  // DATA_LOSS when the stored record does not decode.
  virtual absl::StatusOr<std::optional<crdt::Register>> StoredAccess(
      absl::string_view list_id) = 0;

  // Joins `delta` into the stored state (an absent list starts empty) and
  // makes the result durable. Returns the merged state.
  virtual absl::StatusOr<crdt::ListState> Merge(
      absl::string_view list_id, const crdt::ListState& delta) = 0;

  // Merge without blocking the caller: `done` runs once the result is on
  // disk (or failed), on the store's commit thread, with the list's state
  // after the commit (which includes `delta`). Concurrent merges share one
  // fsync (group commit). `done` must not block; it may call MergeAsync.
  // The state passed to `done` lives until `done` returns; copy what is
  // kept.
  //
  // `check`, when set, runs on the commit thread with the list's state just
  // before this merge (empty for an absent list): a non-OK answer refuses
  // the merge, nothing of `delta` is stored, and `done` gets that status.
  // A replica checks a client's write this way against the access record
  // it holds at that moment, so no merge can slip between check and write.
  // It must be quick and must not call the store.
  using MergeDone = std::function<void(const absl::StatusOr<crdt::ListState>&)>;
  using MergeCheck = std::function<absl::Status(const crdt::ListState&)>;
  virtual void MergeAsync(absl::string_view list_id, crdt::ListState delta,
                          MergeDone done, MergeCheck check) = 0;

  // Joins `delta` into the hint kept for `owner`, durably.
  virtual absl::Status AddHint(absl::string_view owner,
                               absl::string_view list_id,
                               const crdt::ListState& delta) = 0;
  // Up to `limit` hints, in key order (by list, then owner).
  virtual absl::StatusOr<std::vector<Hint>> Hints(size_t limit) = 0;
  // The join of every hint held for `list_id`, whoever it is for; nullopt
  // when there is none.
  virtual absl::StatusOr<std::optional<crdt::ListState>> HintsFor(
      absl::string_view list_id) = 0;
  // Deletes a delivered hint unless a newer write changed it meanwhile.
  virtual absl::Status RemoveHint(const Hint& delivered) = 0;
  virtual absl::StatusOr<size_t> CountHints() = 0;

  // Calls `visit` with every stored list's id and what is stored of it, in
  // id order (a consistent snapshot).
  virtual absl::Status ScanLists(
      const std::function<void(const std::string& list_id,
                               const StoredList& stored)>& visit) = 0;

  // Every record of the store, as raw LevelDB keys and values, in key
  // order on one consistent view (a backup: it runs beside writes), until
  // `visit` returns false. RestoreData makes a data directory of them.
  virtual absl::Status ExportRecords(
      const std::function<bool(absl::string_view key, absl::string_view value)>&
          visit) = 0;

  // This node's replica id for operations it applies itself: created once,
  // then the same across restarts.
  virtual absl::StatusOr<uint64_t> ReplicaId() = 0;
  // Reserves `count` (>= 1) consecutive counters for this node's replica
  // id on `list_id`, each larger than every counter reserved before and
  // than `at_least`, and returns the first.
  virtual absl::StatusOr<uint64_t> ReserveCounter(absl::string_view list_id,
                                                  uint64_t at_least,
                                                  uint64_t count) = 0;
};

// The stored state alone, nullopt when this node never stored the list.
inline absl::StatusOr<std::optional<crdt::ListState>> ReadStored(
    ReplicaStore& store, absl::string_view list_id) {
  absl::StatusOr<crdt::ListState> state = store.Get(list_id);
  if (absl::IsNotFound(state.status())) return std::nullopt;
  if (!state.ok()) return state.status();
  return std::optional<crdt::ListState>(*std::move(state));
}

// What this node answers for `list_id` when a coordinator reads it: its
// stored state joined with every hint it holds for the list, so a read that
// reaches a stand-in while owners are down still sees the writes it took.
// nullopt when it has neither; errors are the store's (DATA_LOSS for
// damaged bytes).
inline absl::StatusOr<std::optional<crdt::ListState>> ReadReplica(
    ReplicaStore& store, absl::string_view list_id) {
  absl::StatusOr<std::optional<crdt::ListState>> answer =
      ReadStored(store, list_id);
  if (!answer.ok()) return answer.status();
  absl::StatusOr<std::optional<crdt::ListState>> hints =
      store.HintsFor(list_id);
  if (!hints.ok()) return hints.status();
  if (*hints) {
    if (!*answer) answer->emplace();
    (*answer)->Merge(**hints);
  }
  return answer;
}

// Decodes stored bytes (an encoded v1::ListState); DATA_LOSS naming `what`
// when they do not parse or do not make a valid state.
absl::StatusOr<crdt::ListState> DecodeStored(absl::string_view bytes,
                                             absl::string_view what);
// The join of a stored list's base and log; DATA_LOSS as above when any
// part is damaged.
absl::StatusOr<crdt::ListState> DecodeStored(const StoredList& stored,
                                             absl::string_view what);
// Only the access record of stored bytes (unset for an open list), parsed
// as v1::ListStateAccess: the items are skipped, not decoded. The same
// errors as DecodeStored, for the record alone.
absl::StatusOr<crdt::Register> DecodeStoredAccess(absl::string_view bytes,
                                                  absl::string_view what);
// The join of the access records of a stored list's parts.
absl::StatusOr<crdt::Register> DecodeStoredAccess(const StoredList& stored,
                                                  absl::string_view what);

// The digest of stored bytes (merkle::StateDigest of their causal context
// and tombstone flag), parsing only those; DATA_LOSS naming `what` when
// they do not parse or the context is invalid.
absl::StatusOr<std::string> StoredDigest(absl::string_view bytes,
                                         absl::string_view what);
// The digest of a stored list's state (the join of its parts), from the
// join of their contexts and flags alone: the join of states has the join
// of their contexts, and a tombstone absorbs everything.
absl::StatusOr<std::string> StoredDigest(const StoredList& stored,
                                         absl::string_view what);

// The stored state with its digest (StoredDigest), as a digest read
// compares it with other owners'. Not decoded when the
// reader said it needs only the stored parts and the access record.
struct StoredCopy {
  std::string digest;
  bool decoded = true;
  crdt::ListState state;  // when decoded
  StoredList stored;      // when not decoded, for DecodeStored later
  crdt::Register access;  // when not decoded
};

// nullopt when this node never stored the list; DATA_LOSS for damaged
// bytes. When `decode_not_needed` says so of the copy's digest, only its
// access record is parsed (a reader that holds what it needs of that
// copy, having decoded it before).
absl::StatusOr<std::optional<StoredCopy>> ReadStoredCopy(
    ReplicaStore& store, absl::string_view list_id,
    const std::function<bool(absl::string_view digest)>& decode_not_needed =
        nullptr);

// Called after a Merge changed a stored list, with the merged state, on
// the store's commit thread before the merge's callback: so calls for one
// list come in merge order. It must be quick and must not call the store.
using MergeListener =
    std::function<void(const std::string& list_id, const crdt::ListState&)>;

// Stored bytes of recently written lists kept decoded in memory, so a
// write to them costs no read and no decode. Decoded states take about ten
// times their stored size.
inline constexpr size_t kDefaultStateCacheBytes = 16 << 20;

// When a list's log is folded into its base, besides when the log passes
// half the base (leveldb_replica_store.h).
struct FoldPolicy {
  // Records a log may hold, which bounds what a reader joins.
  size_t max_log_records = 1024;
  // A list with no write for this long is folded (tests: infinite, none).
  absl::Duration quiet = absl::Seconds(1);
};

struct StoreOptions {
  MergeListener on_merge;
  size_t state_cache_bytes = kDefaultStateCacheBytes;
  // The file system (fault injection in tests); null is the real one. Not
  // owned: it must outlive the store.
  leveldb::Env* env = nullptr;
  // Called after the store repaired its database (a compaction found a
  // damaged table): lists may be older or gone, so whatever was derived
  // from them must be rebuilt. Runs on the writing thread; may read.
  std::function<void()> on_repair;
  FoldPolicy fold;
};

// Opens (creating if needed) a LevelDB-backed store in `directory`. A
// write that fails on the disk (full, I/O error) is UNAVAILABLE and is not
// acknowledged; reads go on, and writes resume once the disk takes them
// (storage/recovering_db.h). A list whose stored bytes are damaged answers
// DATA_LOSS; the next merge into it starts it afresh from what arrives, so
// replicas refill it.
absl::StatusOr<std::unique_ptr<ReplicaStore>> OpenLevelDbStore(
    const std::string& directory, StoreOptions options = {});

// Makes `directory` (which must not exist, or be empty but for a
// lost+found) the data directory
// of a node restored from a backup: a LevelDB holding the records
// ExportRecords gave, which `next` yields (false when there are no more),
// without the replica id and counters of the node that wrote them. A
// restored node takes a new replica id: with the old one it would hand out
// again the counters, so the dots, it gave after the backup, and two
// different operations would share a dot. Returns the records written.
// Errors: INVALID_ARGUMENT for a directory in use; the disk's.
absl::StatusOr<uint64_t> RestoreData(
    const std::string& directory,
    const std::function<bool(std::string* key, std::string* value)>& next);

}  // namespace shoplist::storage

#endif  // SHOPLIST_STORAGE_REPLICA_STORE_H_
