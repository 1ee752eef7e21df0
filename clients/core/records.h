// The records a home keeps, and the one place that knows their bytes.
//
// Model. A home is a sorted map of string keys to byte values, the same
// in every host (LevelDB natively, IndexedDB in the browser):
//   meta/replica_id          this home's replica id, 8 bytes little-endian
//   setting/<name>           a small setting (the person's display name,
//                            setting/category/<item key> for categories)
//   list/<id>                one v1::LocalList: a list's replica, its
//                            pending delta and undo steps together, so one
//                            write is the whole change
//   log/<id>/<20-digit seq>  one v1::LogEvent of a list's history (the
//                            last kMaxLogEvents are kept)
// Every change a home makes is a Batch of writes to these keys that the
// host commits atomically (and durably) before it reports success. The
// format is the one homes have always had: old homes and the fixtures in
// tests/fixtures/ still load.
//
// Pure: no disk, no network, no threads. Not thread-safe (values).
#ifndef SHOPLIST_CLIENTS_CORE_RECORDS_H_
#define SHOPLIST_CLIENTS_CORE_RECORDS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "access/capability.h"
#include "crdt/list_state.h"
#include "shoplist/v1/local.pb.h"

namespace shoplist::client {

struct LocalList {
  std::string id;
  crdt::ListState state;
  crdt::ListState pending;
  bool on_server = false;
  bool awaiting_fetch = false;
  // Undo steps of this home's changes, the latest last (kMaxUndoSteps).
  std::vector<v1::UndoStep> undo;
  uint64_t log_next = 0;  // sequence number of the next history event
  // The link this home holds the list by: its secret (empty for an open
  // list), the capability it names, and whether the cloud stopped taking
  // it (local.proto).
  std::string secret;
  access::Capability link_capability = access::Capability::kNone;
  bool access_lost = false;

  // Pending changes, counted as items and title changes they carry.
  size_t UnsyncedChanges() const;
};

// The history a home keeps per list, and the undo steps.
inline constexpr size_t kMaxLogEvents = 1'000;
inline constexpr size_t kMaxUndoSteps = 100;

// Keys.
inline constexpr absl::string_view kReplicaIdKey = "meta/replica_id";
inline constexpr absl::string_view kListPrefix = "list/";
inline constexpr absl::string_view kSettingPrefix = "setting/";
inline constexpr absl::string_view kLogPrefix = "log/";
std::string ListKey(absl::string_view id);
std::string SettingKey(absl::string_view name);
std::string LogPrefix(absl::string_view id);  // "log/<id>/"
std::string LogKey(absl::string_view id, uint64_t seq);

// One atomic group of writes, applied in order. REQUIRES: no put under a
// prefix that a later kDeletePrefix of the same batch deletes (LevelDB's
// host expands that delete against the store as it was).
struct Batch {
  struct Write {
    enum class Kind { kPut, kDelete, kDeletePrefix };
    Kind kind = Kind::kPut;
    std::string key;  // the prefix, for kDeletePrefix
    std::string value;
    friend bool operator==(const Write&, const Write&) = default;
  };
  std::vector<Write> writes;

  void Put(std::string key, std::string value);
  void Delete(std::string key);
  void DeletePrefix(std::string prefix);
  bool empty() const { return writes.empty(); }
};

// Adds to `batch` the writes that store `list` and append `events` to its
// history, dropping events past the last kMaxLogEvents and undo steps past
// kMaxUndoSteps (so advances list.log_next and trims list.undo).
void SaveList(LocalList& list, absl::Span<const v1::LogEvent> events,
              Batch& batch);
// Adds the writes that remove the list `id` and its history.
void ForgetList(absl::string_view id, Batch& batch);

// The list record's bytes, and back. DATA_LOSS when damaged.
std::string EncodeList(const LocalList& list);
absl::StatusOr<LocalList> DecodeList(absl::string_view id,
                                     absl::string_view bytes);

// The replica id record's bytes, and back. DATA_LOSS when damaged.
std::string EncodeReplicaId(uint64_t id);
absl::StatusOr<uint64_t> DecodeReplicaId(absl::string_view bytes);

}  // namespace shoplist::client

#endif  // SHOPLIST_CLIENTS_CORE_RECORDS_H_
