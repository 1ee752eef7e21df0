// A home: this device's replicas of its lists, and everything a person
// does with them. The native host of the client core (home_core.h), under
// shoplist-cli and its page: the core decides; Home loads the records a
// call needs from the home's LevelDB (LocalStore), commits the core's
// batches, and makes the calls to the list service (SyncEngine, through a
// CloudLink) and the watches. Every call returns typed results
// (results.h), never text; front-ends print or encode them.
//
// Local first. A change is applied to the home's replica and stored,
// together with its pending delta, in one synced write before anything is
// sent; then it is synced under a short deadline. When no proxy answers
// the change still succeeds, and its SyncReport says kOffline; a later
// Sync sends only what is pending and merges what the cloud has.
//
// LIST arguments name a list as people type them (list_resolver.h: id, id
// prefix, title, case-insensitive title or title prefix). Item names and
// titles are trimmed; a blank one is refused (codec::CleanName).
//
// Errors: INVALID_ARGUMENT for bad input (blank or too long names, counts
// out of range, a malformed id); NOT_FOUND for an unknown list or item;
// FAILED_PRECONDITION for an ambiguous LIST, a deleted list, or forgetting
// unsynced changes without asking to; UNAVAILABLE when the home is in use
// by another process for too long, or a list awaiting its first fetch
// cannot be fetched; DATA_LOSS for a damaged home. A failed call changes
// nothing in the home: each change is one atomic write, made before its
// sync, and what the sync merges is a write of its own.
//
// The LevelDB is open only while calls are running, so other processes
// (another shoplist-cli, a watch, a page) can use the same home between
// them. Thread-safe: calls may run concurrently; changes to one record
// are serialised, and no lock is held while the network is used.
#ifndef SHOPLIST_CLIENTS_CORE_HOME_H_
#define SHOPLIST_CLIENTS_CORE_HOME_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "access/capability.h"
#include "clients/core/cloud_link.h"
#include "clients/core/home_core.h"
#include "clients/core/local_store.h"
#include "clients/core/results.h"
#include "clients/core/sync_engine.h"
#include "clients/core/watcher.h"
#include "crdt/list_diff.h"
#include "shoplist/v1/list_service.pb.h"

namespace shoplist::client {

struct HomeOptions {
  std::string dir;  // the home folder (ResolveHome)
  // Deadline of the sync that follows each change; Sync and Join wait
  // longer.
  absl::Duration change_timeout = absl::Seconds(2);
  absl::Duration sync_timeout = absl::Seconds(10);
  // How long to wait for another process that holds the home.
  absl::Duration open_wait = absl::Seconds(5);
  std::function<absl::Time()> clock = &absl::Now;
  // The home's file system; null is the real one (tests inject faults).
  // Not owned.
  leveldb::Env* env = nullptr;
};

// A running watch of one list (Home::Watch).
class ListWatch {
 public:
  virtual ~ListWatch() = default;
  // Follows the list until Stop(), until it is deleted (OK; the last event
  // says deleted) or forgotten in this home (OK), or until the cloud
  // refuses the watch (NOT_FOUND, ...). Blocks.
  virtual absl::Status Run() = 0;
  // Ends Run() soon. Any thread.
  virtual void Stop() = 0;
  // The list being watched, and its title when the watch was made.
  virtual const ListInfo& list() const = 0;
};

class Home {
 public:
  Home(HomeOptions options, std::shared_ptr<CloudLink> link);
  ~Home();

  Home(const Home&) = delete;
  Home& operator=(const Home&) = delete;

  CloudLink& cloud() { return *link_; }
  const std::string& dir() const { return options_.dir; }

  // --- Reading.
  absl::StatusOr<std::vector<ListInfo>> Lists();
  absl::StatusOr<ListInfo> Show(absl::string_view list);
  // A link to the list to give others (docs/sharing.md): of capability
  // `wanted`, or by default an edit link (a read link when this home holds
  // only read). A list not yet in the cloud is synced first, so that the
  // link can be joined at once (ListInfo::in_cloud says whether that
  // worked). Errors: PERMISSION_DENIED when this home holds less than
  // `wanted` or its link was revoked; FAILED_PRECONDITION for a read or
  // owner link to an open list (Revoke closes it first); UNAVAILABLE for a
  // list joined but not fetched yet, when another link is asked for.
  absl::StatusOr<ShareResult> Share(
      absl::string_view list,
      std::optional<access::Capability> wanted = std::nullopt);
  // Makes every earlier read and edit link stop working and returns the new
  // ones; the owner links stay. On an open list it closes the list and
  // makes this home its owner. Stored here first, then synced (offline
  // too: the cloud learns at the next sync). PERMISSION_DENIED unless this
  // home holds the owner link (or the list is open).
  absl::StatusOr<RevokeResult> Revoke(absl::string_view list);

  // --- Changes: stored, then synced.
  absl::StatusOr<ChangeResult> New(absl::string_view title);
  absl::StatusOr<ChangeResult> Add(absl::string_view list,
                                   absl::string_view item, int64_t count);
  // count nullopt: take the item off the list.
  absl::StatusOr<ChangeResult> Remove(absl::string_view list,
                                      absl::string_view item,
                                      std::optional<int64_t> count);
  // count nullopt: everything still wanted.
  absl::StatusOr<ChangeResult> Buy(absl::string_view list,
                                   absl::string_view item,
                                   std::optional<int64_t> count);
  // count nullopt: everything bought.
  absl::StatusOr<ChangeResult> Unbuy(absl::string_view list,
                                     absl::string_view item,
                                     std::optional<int64_t> count);
  // An empty note clears it.
  absl::StatusOr<ChangeResult> SetNote(absl::string_view list,
                                       absl::string_view item,
                                       absl::string_view note);
  // Also remembered in this home: a later Add of that item name, to any
  // list, gives it this category when it has none.
  absl::StatusOr<ChangeResult> SetCategory(absl::string_view list,
                                           absl::string_view item,
                                           absl::string_view category);
  absl::StatusOr<ChangeResult> SetAisles(absl::string_view list,
                                         const std::vector<std::string>& order);
  // Takes every fully bought item off the list, as one change.
  absl::StatusOr<ChangeResult> Clear(absl::string_view list);
  absl::StatusOr<ChangeResult> Rename(absl::string_view list,
                                      absl::string_view title);
  // Takes back this home's latest change to the list that is not undone
  // yet, as a new change (codec::UndoOperations); again walks further
  // back. FAILED_PRECONDITION when there is nothing to undo. Parts that no
  // longer apply (an item someone took off meanwhile) are skipped.
  absl::StatusOr<ChangeResult> Undo(absl::string_view list);

  // The list's recent history as this home saw it, newest first (at most
  // kMaxLogEvents are kept).
  absl::StatusOr<std::vector<LogEntry>> Log(absl::string_view list,
                                            size_t limit = kMaxLogEvents);
  // Names this home has used that match `typed`, with their aisle, for
  // adding to `list` (empty: none), at most `limit` (suggest.h). Blank
  // `typed`: none. NOT_FOUND for an unknown `list`.
  absl::StatusOr<std::vector<Suggestion>> Suggest(absl::string_view typed,
                                                  absl::string_view list,
                                                  size_t limit);
  // What was bought on `list` and is not on it now, the latest first, with
  // how many (suggest.h): to add again.
  absl::StatusOr<std::vector<Suggestion>> BoughtBefore(absl::string_view list,
                                                       size_t limit);

  // --- The person. The display name travels with this home's changes;
  // unset, it is $USER.
  absl::StatusOr<std::string> PersonName();
  // Sets it (cleaned like a title; INVALID_ARGUMENT when blank or too
  // long) and returns it.
  absl::StatusOr<std::string> SetPersonName(absl::string_view name);

  // --- The cloud.
  // Keeps a replica of the shared list `link` names here and fetches it.
  // `link` is "<id>_<r|e|o>_<secret>", or a bare id for an open list.
  // Offline, the list is kept awaiting its fetch. A link to a list already
  // here replaces this home's link when it gives more (or this home's was
  // revoked). Errors: INVALID_ARGUMENT for a malformed link; NOT_FOUND when
  // the cloud does not know the id, the link proves nothing, or the list
  // was deleted (nothing new is kept).
  absl::StatusOr<JoinResult> Join(absl::string_view link);
  // Syncs one list, or every list of the home (nullopt). After the first
  // list found offline the rest are reported kOffline without a call.
  absl::StatusOr<std::vector<SyncReport>> Sync(
      std::optional<absl::string_view> list);
  // Whether any proxy answers a ping now (CloudLink::ProbeAny).
  bool Probe();

  // --- Leaving.
  // Removes this home's copy; others keep the list. FAILED_PRECONDITION
  // when it has unsynced changes, unless `drop_unsynced`.
  absl::StatusOr<ForgetResult> Forget(absl::string_view list,
                                      bool drop_unsynced);
  // Deletes the list for everyone (asking first is the front-end's job).
  absl::StatusOr<DeleteResult> Delete(absl::string_view list);

  // --- Watching. A watch of `list` that pushes what is pending first,
  // then merges each delta the cloud streams into the home and calls
  // `on_event` (on the thread running Run()) when something visible
  // changed. `on_interrupted` (optional) hears of broken streams.
  absl::StatusOr<std::unique_ptr<ListWatch>> Watch(
      absl::string_view list, std::function<void(const WatchEvent&)> on_event,
      std::function<void(const absl::Status&)> on_interrupted = nullptr);

 private:
  class Lease;
  class WatchImpl;

  // The store, opened for the first concurrent user and closed after the
  // last.
  absl::StatusOr<Lease> Acquire();
  void Release();
  // The clock and fresh random bytes for a change.
  absl::StatusOr<Inputs> Now() const;

  // A core loaded with the replica id, the settings and (`with_lists`)
  // the lists a call about `typed` needs: that list alone when `typed` is
  // a stored list's id, every list otherwise (or when nullopt).
  // REQUIRES: records_mu_.
  absl::StatusOr<HomeCore> LoadCore(
      LocalStore& store, std::optional<absl::string_view> typed = std::nullopt,
      bool with_lists = true) ABSL_EXCLUSIVE_LOCKS_REQUIRED(records_mu_);
  // Loads a core for `typed`, makes one change with `make` (HomeCore& ->
  // StatusOr<Applied<T>>) and commits its batch; `after` (optional) gets
  // the core as changed. Takes records_mu_.
  template <typename T, typename Make>
  absl::StatusOr<T> Apply(LocalStore& store,
                          std::optional<absl::string_view> typed, Make make,
                          HomeCore* after = nullptr)
      ABSL_LOCKS_EXCLUDED(records_mu_);
  // Loads a core with the list `typed` names and its history, and
  // returns `read(core, id)`. Takes records_mu_.
  template <typename T, typename Read>
  absl::StatusOr<T> WithHistory(absl::string_view typed, Read read)
      ABSL_LOCKS_EXCLUDED(records_mu_);
  // Applies `operations` as one change to the list `typed` names (an undo
  // instead when `undo`), stores it, then syncs it.
  absl::StatusOr<ChangeResult> Change(absl::string_view typed,
                                      std::vector<v1::Operation> operations,
                                      bool undo = false);
  absl::StatusOr<ChangeResult> Change(absl::string_view typed,
                                      const v1::Operation& operation) {
    return Change(typed, std::vector<v1::Operation>{operation});
  }
  // Syncs the stored list `id` and merges the reply into what is stored
  // then. `after` (optional) gets the core the reply was merged into (when
  // offline, the one the request was made from), so the caller reports
  // what was stored without reading again; it is left as it was when the
  // home cannot be read or written. `not_found` (optional) is set when the
  // cloud does not know the list.
  SyncReport SyncList(LocalStore& store, const std::string& id,
                      absl::Duration timeout, HomeCore* after = nullptr,
                      bool* not_found = nullptr)
      ABSL_LOCKS_EXCLUDED(records_mu_);
  // Syncs the change `made` (stored in `core`) and reports it.
  ChangeResult SyncChange(LocalStore& store, const MadeChange& made,
                          HomeCore& core) ABSL_LOCKS_EXCLUDED(records_mu_);
  // Merges a watched delta. Returns false when the watch should end.
  bool MergeWatched(const std::string& id, const crdt::ListState& delta,
                    const std::function<void(const WatchEvent&)>& on_event)
      ABSL_LOCKS_EXCLUDED(records_mu_);

  const HomeOptions options_;
  const std::shared_ptr<CloudLink> link_;
  SyncEngine engine_;
  const std::string default_name_;  // $USER

  absl::Mutex store_mu_;
  std::unique_ptr<LocalStore> store_ ABSL_GUARDED_BY(store_mu_);
  int users_ ABSL_GUARDED_BY(store_mu_) = 0;

  // Held across each read-modify-write of a record (never across a call to
  // the cloud), and while the replica id is made.
  absl::Mutex records_mu_;
};

}  // namespace shoplist::client

#endif  // SHOPLIST_CLIENTS_CORE_HOME_H_
