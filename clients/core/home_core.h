// The home's logic without I/O: everything a person does to a home's
// lists, as calls that take values and bytes and return values and the
// records to write. The same code runs natively (Home, home.h: LevelDB and
// gRPC) and in WebAssembly (clients/wasm/: IndexedDB and fetch). It never
// opens a file or a socket, starts a thread, reads a clock or draws a
// random number: its host does, and passes them in (Inputs).
//
// Model. A core holds the records (records.h) its host loaded into it:
// the replica id, settings, lists and, for Log, a list's history. The
// native host loads what one call needs and drops the core after it; the
// browser keeps one core for the page's life. Each change works on copies
// and, when it succeeds, returns its result with one Batch of writes and
// updates the core's memory to match; when it fails (a status), neither the
// records nor the memory changed. The host commits the Batch atomically
// and durably before it reports the change; if that write fails, the
// core's memory is ahead of the store: the host drops this core and loads
// a new one.
//
// Sync is two steps around the host's network call: SyncRequest builds
// the request bytes (v1::SyncRequest: the list's pending delta, what the
// home has seen, its secret) and MergeSync merges the answer (the reply
// bytes, or offline, not found, refused) into the records as they are
// then, which may have changed while the call was out.
//
// LIST arguments name a list as people type them (list_resolver.h: id, id
// prefix, title, case-insensitive title or title prefix), among the lists
// loaded. Item names and titles are trimmed; a blank one is refused
// (codec::CleanName).
//
// Errors: INVALID_ARGUMENT for bad input (blank or too long names, counts
// out of range, a malformed id or link); NOT_FOUND for an unknown list or
// item; FAILED_PRECONDITION for an ambiguous LIST, a deleted list, nothing
// to undo, or forgetting unsynced changes without asking to;
// PERMISSION_DENIED for what this home's link does not allow; UNAVAILABLE
// for a list awaiting its first fetch; DATA_LOSS for a damaged record.
//
// Not thread-safe: a host serialises its calls to one core.
#ifndef SHOPLIST_CLIENTS_CORE_HOME_CORE_H_
#define SHOPLIST_CLIENTS_CORE_HOME_CORE_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "access/capability.h"
#include "clients/core/records.h"
#include "clients/core/results.h"
#include "crdt/causal_context.h"
#include "crdt/list_state.h"
#include "shoplist/v1/list_service.pb.h"

namespace shoplist::client {

// What a host gives each call that changes something.
struct Inputs {
  uint64_t now_micros = 0;  // the host's clock
  // Fresh random bytes: [0, 8) a replica id (used once, by a home that has
  // none yet), [8, 24) a new list's id, [24, 40) a new owner secret.
  std::array<uint8_t, 40> random{};
};

// A call's result and the writes to commit before it is reported.
template <typename T>
struct Applied {
  T value;
  Batch batch;
};

// A change made in the home, before its sync (HomeCore::Change).
struct MadeChange {
  std::string id;
  std::string item;  // the key of the item it touched; empty for the list
  std::vector<LogEntry> events;
};

// How a host's sync call went.
struct SyncAnswer {
  enum class Kind {
    kStored,    // the cloud stored the delta; `reply` is a v1::SyncResponse
    kOffline,   // no proxy answered; nothing was sent
    kNotFound,  // the cloud does not know the id, or the secret proves
                // nothing on it (the same answer, by design)
    kFailed,    // the cloud refused, or the reply did not decode: `error`
  };
  Kind kind = Kind::kOffline;
  std::string reply;
  std::string error;
};

// A join's first step (HomeCore::Join).
struct JoinStart {
  std::string id;
  // The list was already here with as much access: nothing was stored
  // and there is nothing to fetch; `done` is the result.
  std::optional<JoinResult> done;
  bool fresh = false;  // a new record, to drop if the fetch fails
};

class HomeCore {
 public:
  // `default_name`: the person's name while none is set (the host's user
  // name, say); cleaned like a title, ignored when blank.
  explicit HomeCore(absl::string_view default_name = "");

  // --- Loading. Takes one stored record (records.h); records of other
  // prefixes are ignored. DATA_LOSS when it is damaged, except for the
  // replica id: a damaged one fails the calls that need it (changes, Log).
  absl::Status Load(absl::string_view key, absl::string_view value);

  // --- Reading.
  // The ids of the lists loaded, sorted.
  std::vector<std::string> ListIds() const;
  std::vector<ListInfo> Lists() const;
  // The id of the list `typed` names.
  absl::StatusOr<std::string> Resolve(absl::string_view typed) const;
  absl::StatusOr<ListInfo> Show(absl::string_view typed) const;
  // The list `id` as this home has it; nullopt when not loaded.
  std::optional<ListInfo> Info(absl::string_view id) const;
  // A link to the list (Home::Share has the rules). A list not in the
  // cloud yet is the host's to sync first.
  absl::StatusOr<ShareResult> Share(
      absl::string_view typed,
      std::optional<access::Capability> wanted = std::nullopt) const;
  // The list's history among the log records loaded, newest first.
  absl::StatusOr<std::vector<LogEntry>> Log(absl::string_view typed,
                                            size_t limit) const;
  std::string PersonName() const;
  // Names this home has used that match `typed`, with their aisle, for
  // adding to the list `list` names (empty: none; its items still to buy
  // are left out), at most `limit` (suggest.h has the rules). Among the
  // lists and history loaded. NOT_FOUND for an unknown `list`.
  absl::StatusOr<std::vector<Suggestion>> Suggest(absl::string_view typed,
                                                  absl::string_view list,
                                                  size_t limit) const;
  // What was bought on the list `typed` names and is not on it now, from
  // its history loaded, at most `limit` (suggest.h).
  absl::StatusOr<std::vector<Suggestion>> BoughtBefore(absl::string_view typed,
                                                       size_t limit) const;
  // What a watch of `id` starts from: what this home has seen of it.
  absl::StatusOr<crdt::CausalContext> Known(absl::string_view id) const;
  // Whether `id` has anything to send, or was never acknowledged.
  bool NeedsSync(absl::string_view id) const;
  bool AwaitingFetch(absl::string_view id) const;
  // The title of `id` (empty while unknown, or when not loaded), without
  // building its view.
  std::string Title(absl::string_view id) const;
  // The secret of the link this home holds `id` by (what a watch shows the
  // cloud); empty for an open list or one not loaded.
  std::string Secret(absl::string_view id) const;

  // --- Changes. Each is one Batch.
  absl::StatusOr<Applied<std::string>> SetPersonName(absl::string_view typed);
  // A new list, closed from the start: this home holds its owner link.
  absl::StatusOr<Applied<MadeChange>> New(absl::string_view title,
                                          const Inputs& in);
  // Applies `operations` as one change to the list `typed` names (with a
  // remembered category for a new item, and remembering categories set),
  // records its history and how to undo it. `undo`: takes back this home's
  // latest change instead (`operations` ignored), skipping parts that no
  // longer apply.
  absl::StatusOr<Applied<MadeChange>> Change(
      absl::string_view typed, std::vector<v1::Operation> operations,
      const Inputs& in, bool undo = false);
  // The result of `change` once its sync went as `sync` said.
  ChangeResult Outcome(const MadeChange& change, SyncReport sync) const;
  // New read and edit links (Home::Revoke). The result's list holds only
  // its id: the list and `sync` are the host's to fill in after the sync.
  absl::StatusOr<Applied<RevokeResult>> Revoke(absl::string_view typed,
                                               const Inputs& in);
  // Stores the list `link` names, to be fetched by the host's sync
  // (Home::Join has the rules).
  absl::StatusOr<Applied<JoinStart>> Join(absl::string_view link);
  absl::StatusOr<Applied<ForgetResult>> Forget(absl::string_view typed,
                                               bool drop_unsynced);
  // Marks the list deleted. A list never synced is forgotten at once and
  // its result's sync is kDeleted; otherwise the host syncs it.
  absl::StatusOr<Applied<DeleteResult>> Delete(absl::string_view typed);

  // --- Sync.
  // The request bytes for the list `id`: its pending changes, what this
  // home has seen, its secret. NOT_FOUND when it is not here.
  absl::StatusOr<std::string> SyncRequest(absl::string_view id) const;
  // Merges `answer` to the request `request` (SyncRequest's bytes) into
  // the list as it is now. What was sent is acknowledged; changes made
  // meanwhile stay pending. `not_found` (optional) is set on kNotFound.
  Applied<SyncReport> MergeSync(absl::string_view request,
                                const SyncAnswer& answer,
                                bool* not_found = nullptr);
  // The report of a list not synced because the home is offline.
  SyncReport OfflineReport(absl::string_view id) const;

  // --- Watching. Merges a watched delta; the event is nullopt when
  // nothing visible changed. `keep_watching` is false once the list is
  // gone.
  struct Watched {
    std::optional<WatchEvent> event;
    bool keep_watching = true;
  };
  Applied<Watched> MergeWatched(absl::string_view id,
                                const crdt::ListState& delta, const Inputs& in);

 private:
  absl::StatusOr<LocalList> Find(absl::string_view typed) const;
  const LocalList* Loaded(absl::string_view id) const;
  // The writer this home's changes are made as; a home without a replica
  // id gets one (written to `batch`). DATA_LOSS when its id is damaged.
  absl::StatusOr<crdt::Writer> WriterFor(const Inputs& in, Batch& batch);
  // Stores `list` with `events` appended to its history, in `batch` and
  // in memory.
  void Save(LocalList list, const std::vector<v1::LogEvent>& events,
            Batch& batch);
  void Drop(absl::string_view id, Batch& batch);
  void SetSetting(const std::string& name, std::string value, Batch& batch);
  std::optional<std::string> Setting(const std::string& name) const;
  // The history loaded of `id`, oldest first.
  std::vector<const v1::LogEvent*> History(absl::string_view id) const;
  // The aisle remembered for an item key (empty: none).
  std::string RememberedCategory(absl::string_view key) const;

  std::string default_name_;
  std::optional<uint64_t> replica_;
  absl::Status replica_damaged_;  // DATA_LOSS when its record is damaged
  std::map<std::string, std::string, std::less<>> settings_;
  std::map<std::string, LocalList, std::less<>> lists_;
  // By key (records.h LogKey), so a list's events are in sequence.
  std::map<std::string, v1::LogEvent, std::less<>> log_;
};

// What the home shows of a stored list.
ListInfo InfoOf(const LocalList& list);

// The link Join takes: "<id>_<r|e|o>_<secret>", or a bare id for an open
// list. INVALID_ARGUMENT for anything else.
absl::StatusOr<access::Link> ParseJoinLink(absl::string_view typed);

// The capability this home holds on `list`: what its secret proves under
// the list's access record, or what its link named while that record has
// not arrived; kOwner on an open list; kNone once the link was revoked.
access::Capability HeldBy(const LocalList& list);

}  // namespace shoplist::client

#endif  // SHOPLIST_CLIENTS_CORE_HOME_CORE_H_
