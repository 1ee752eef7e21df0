#include "clients/core/home.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "codec/operation.h"
#include "crdt/list_id.h"
#include "text/text.h"

namespace shoplist::client {
namespace {

const char* UserName() {
  const char* user = std::getenv("USER");
  return user != nullptr ? user : "";
}

SyncReport FailedReport(const std::string& id, absl::string_view error) {
  SyncReport report;
  report.id = id;
  report.outcome = SyncReport::Outcome::kFailed;
  report.error = std::string(error);
  return report;
}

// Loads the history records under `prefix` (a list's, or all) into `core`.
absl::Status LoadHistory(LocalStore& store, absl::string_view prefix,
                         HomeCore& core) {
  return store.Scan(prefix,
                    [&](absl::string_view key, absl::string_view value) {
                      return core.Load(key, value);
                    });
}

}  // namespace

// The open store, for as long as this lease lives.
class Home::Lease {
 public:
  Lease(Home* home, LocalStore* store) : home_(home), store_(store) {}
  Lease(Lease&& other) noexcept
      : home_(std::exchange(other.home_, nullptr)), store_(other.store_) {}
  Lease& operator=(Lease&&) = delete;
  ~Lease() {
    if (home_ != nullptr) home_->Release();
  }
  LocalStore& operator*() const { return *store_; }
  LocalStore* operator->() const { return store_; }

 private:
  Home* home_;
  LocalStore* store_;
};

Home::Home(HomeOptions options, std::shared_ptr<CloudLink> link)
    : options_(std::move(options)),
      link_(std::move(link)),
      engine_(link_),
      default_name_(UserName()) {}

Home::~Home() = default;

absl::StatusOr<Home::Lease> Home::Acquire() {
  absl::MutexLock lock(&store_mu_);
  if (store_ == nullptr) {
    absl::StatusOr<std::unique_ptr<LocalStore>> store =
        LocalStore::Open(options_.dir, options_.open_wait, options_.env);
    if (!store.ok()) return store.status();
    store_ = *std::move(store);
  }
  ++users_;
  return Lease(this, store_.get());
}

void Home::Release() {
  absl::MutexLock lock(&store_mu_);
  // Closed as soon as nothing runs, so other processes can open the home.
  if (--users_ == 0) store_.reset();
}

absl::StatusOr<Inputs> Home::Now() const {
  Inputs in;
  in.now_micros = static_cast<uint64_t>(absl::ToUnixMicros(options_.clock()));
  if (absl::Status s = crdt::FillRandom(in.random.data(), in.random.size());
      !s.ok()) {
    return s;
  }
  return in;
}

absl::StatusOr<HomeCore> Home::LoadCore(LocalStore& store,
                                        std::optional<absl::string_view> typed,
                                        bool with_lists) {
  HomeCore core(default_name_);
  const auto load = [&](absl::string_view key, absl::string_view value) {
    return core.Load(key, value);
  };
  for (absl::string_view prefix : {kReplicaIdKey, kSettingPrefix}) {
    if (absl::Status s = store.Scan(prefix, load); !s.ok()) return s;
  }
  if (!with_lists) return core;
  if (typed) {
    const std::string id = text::TrimSpace(*typed);
    if (crdt::ValidateListId(id).ok()) {
      absl::StatusOr<std::optional<std::string>> record =
          store.Read(ListKey(id));
      if (!record.ok()) return record.status();
      if (*record) {
        if (absl::Status s = core.Load(ListKey(id), **record); !s.ok()) {
          return s;
        }
        return core;
      }
    }
  }
  if (absl::Status s = store.Scan(kListPrefix, load); !s.ok()) return s;
  return core;
}

template <typename T, typename Make>
absl::StatusOr<T> Home::Apply(LocalStore& store,
                              std::optional<absl::string_view> typed, Make make,
                              HomeCore* after) {
  absl::MutexLock lock(&records_mu_);
  absl::StatusOr<HomeCore> core = LoadCore(store, typed);
  if (!core.ok()) return core.status();
  absl::StatusOr<Applied<T>> applied = make(*core);
  if (!applied.ok()) return applied.status();
  if (absl::Status s = store.Write(applied->batch); !s.ok()) return s;
  if (after != nullptr) *after = *std::move(core);
  return std::move(applied->value);
}

SyncReport Home::SyncList(LocalStore& store, const std::string& id,
                          absl::Duration timeout, HomeCore* after,
                          bool* not_found) {
  absl::StatusOr<HomeCore> core;
  absl::StatusOr<std::string> request;
  {
    absl::MutexLock lock(&records_mu_);
    core = LoadCore(store, id);
    if (!core.ok()) return FailedReport(id, core.status().message());
    request = core->SyncRequest(id);
    if (!request.ok()) return FailedReport(id, request.status().message());
  }
  // No lock while the cloud is asked: other calls go on meanwhile.
  const SyncAnswer answer = engine_.Sync(*request, timeout);
  if (answer.kind == SyncAnswer::Kind::kOffline) {
    // Nothing was sent and nothing is merged: no need to read again.
    SyncReport report = core->OfflineReport(id);
    if (after != nullptr) *after = *std::move(core);
    return report;
  }

  // The list's title as it was sent, for a report on a list gone meanwhile.
  const std::string sent_title = core->Title(id);
  absl::MutexLock lock(&records_mu_);
  core = LoadCore(store, id);
  if (!core.ok()) return FailedReport(id, core.status().message());
  Applied<SyncReport> merged = core->MergeSync(*request, answer, not_found);
  if (merged.value.title.empty()) merged.value.title = sent_title;
  if (absl::Status s = store.Write(merged.batch); !s.ok()) {
    merged.value.outcome = SyncReport::Outcome::kFailed;
    merged.value.error = std::string(s.message());
    return merged.value;  // `after` keeps what the store holds
  }
  if (after != nullptr) *after = *std::move(core);
  return merged.value;
}

ChangeResult Home::SyncChange(LocalStore& store, const MadeChange& made,
                              HomeCore& core) {
  SyncReport sync = SyncList(store, made.id, options_.change_timeout, &core);
  return core.Outcome(made, std::move(sync));
}

absl::StatusOr<std::vector<ListInfo>> Home::Lists() {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::MutexLock lock(&records_mu_);
  absl::StatusOr<HomeCore> core = LoadCore(**store);
  if (!core.ok()) return core.status();
  return core->Lists();
}

absl::StatusOr<ListInfo> Home::Show(absl::string_view typed) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::MutexLock lock(&records_mu_);
  absl::StatusOr<HomeCore> core = LoadCore(**store, typed);
  if (!core.ok()) return core.status();
  return core->Show(typed);
}

absl::StatusOr<ShareResult> Home::Share(
    absl::string_view typed, std::optional<access::Capability> wanted) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  HomeCore core;
  std::string id;
  {
    absl::MutexLock lock(&records_mu_);
    absl::StatusOr<HomeCore> loaded = LoadCore(**store, typed);
    if (!loaded.ok()) return loaded.status();
    absl::StatusOr<std::string> found = loaded->Resolve(typed);
    if (!found.ok()) return found.status();
    id = *std::move(found);
    core = *std::move(loaded);
  }
  if (!core.Info(id)->in_cloud) {
    // Synced first, so that the link can be joined at once.
    SyncList(**store, id, options_.change_timeout, &core);
    if (!core.Info(id)) {
      return absl::NotFoundError("the list was deleted meanwhile");
    }
  }
  return core.Share(id, wanted);
}

absl::StatusOr<RevokeResult> Home::Revoke(absl::string_view typed) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::StatusOr<Inputs> in = Now();
  if (!in.ok()) return in.status();
  HomeCore core;
  absl::StatusOr<RevokeResult> result = Apply<RevokeResult>(
      **store, typed, [&](HomeCore& c) { return c.Revoke(typed, *in); }, &core);
  if (!result.ok()) return result.status();
  const std::string id = result->list.id;
  result->sync = SyncList(**store, id, options_.change_timeout, &core);
  if (std::optional<ListInfo> list = core.Info(id)) result->list = *list;
  return result;
}

absl::StatusOr<ChangeResult> Home::New(absl::string_view title) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::StatusOr<Inputs> in = Now();
  if (!in.ok()) return in.status();
  HomeCore core;
  absl::StatusOr<MadeChange> made;
  {
    absl::MutexLock lock(&records_mu_);
    // A new list needs none of the others.
    absl::StatusOr<HomeCore> loaded =
        LoadCore(**store, std::nullopt, /*with_lists=*/false);
    if (!loaded.ok()) return loaded.status();
    absl::StatusOr<Applied<MadeChange>> applied = loaded->New(title, *in);
    if (!applied.ok()) return applied.status();
    if (absl::Status s = (*store)->Write(applied->batch); !s.ok()) return s;
    made = std::move(applied->value);
    core = *std::move(loaded);
  }
  return SyncChange(**store, *made, core);
}

absl::StatusOr<ChangeResult> Home::Change(absl::string_view typed,
                                          std::vector<v1::Operation> operations,
                                          bool undo) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::StatusOr<Inputs> in = Now();
  if (!in.ok()) return in.status();
  HomeCore core;
  std::string id;
  // Resolved and changed under one lock, unless the list awaits its first
  // fetch (then nothing is applied yet: an empty change).
  absl::StatusOr<MadeChange> made = Apply<MadeChange>(
      **store, typed,
      [&](HomeCore& c) -> absl::StatusOr<Applied<MadeChange>> {
        absl::StatusOr<std::string> found = c.Resolve(typed);
        if (!found.ok()) return found.status();
        id = *std::move(found);
        if (c.AwaitingFetch(id)) return Applied<MadeChange>{};
        return c.Change(id, operations, *in, undo);
      },
      &core);
  if (!made.ok()) return made.status();
  if (made->id.empty()) {
    // Fetch first, so the change applies to what the list really holds,
    // and is timed after it.
    SyncList(**store, id, options_.change_timeout);
    in = Now();
    if (!in.ok()) return in.status();
    made = Apply<MadeChange>(
        **store, id,
        [&](HomeCore& c) -> absl::StatusOr<Applied<MadeChange>> {
          if (!c.Info(id)) {
            return absl::NotFoundError(
                "the list was deleted or forgotten meanwhile");
          }
          return c.Change(id, std::move(operations), *in, undo);
        },
        &core);
    if (!made.ok()) return made.status();
  }
  return SyncChange(**store, *made, core);
}

absl::StatusOr<ChangeResult> Home::Add(absl::string_view list,
                                       absl::string_view item, int64_t count) {
  v1::Operation operation;
  operation.mutable_add()->set_item(std::string(item));
  operation.mutable_add()->set_count(count);
  return Change(list, operation);
}

absl::StatusOr<ChangeResult> Home::Remove(absl::string_view list,
                                          absl::string_view item,
                                          std::optional<int64_t> count) {
  v1::Operation operation;
  if (count) {
    operation.mutable_remove()->set_item(std::string(item));
    operation.mutable_remove()->set_count(*count);
  } else {
    operation.mutable_remove_item()->set_item(std::string(item));
  }
  return Change(list, operation);
}

absl::StatusOr<ChangeResult> Home::Buy(absl::string_view list,
                                       absl::string_view item,
                                       std::optional<int64_t> count) {
  v1::Operation operation;
  operation.mutable_buy()->set_item(std::string(item));
  operation.mutable_buy()->set_count(count.value_or(0));
  return Change(list, operation);
}

absl::StatusOr<ChangeResult> Home::Unbuy(absl::string_view list,
                                         absl::string_view item,
                                         std::optional<int64_t> count) {
  v1::Operation operation;
  operation.mutable_unbuy()->set_item(std::string(item));
  operation.mutable_unbuy()->set_count(count.value_or(0));
  return Change(list, operation);
}

absl::StatusOr<ChangeResult> Home::SetNote(absl::string_view list,
                                           absl::string_view item,
                                           absl::string_view note) {
  v1::Operation operation;
  operation.mutable_note()->set_item(std::string(item));
  operation.mutable_note()->set_note(std::string(note));
  return Change(list, operation);
}

absl::StatusOr<ChangeResult> Home::SetCategory(absl::string_view list,
                                               absl::string_view item,
                                               absl::string_view category) {
  v1::Operation operation;
  operation.mutable_category()->set_item(std::string(item));
  operation.mutable_category()->set_category(std::string(category));
  return Change(list, operation);
}

absl::StatusOr<ChangeResult> Home::SetAisles(
    absl::string_view list, const std::vector<std::string>& order) {
  v1::Operation operation;
  for (const std::string& name : order) {
    operation.mutable_aisles()->add_categories(name);
  }
  if (order.empty()) operation.mutable_aisles();
  return Change(list, operation);
}

absl::StatusOr<ChangeResult> Home::Clear(absl::string_view list) {
  v1::Operation operation;
  operation.mutable_clear_bought();
  return Change(list, operation);
}

absl::StatusOr<ChangeResult> Home::Rename(absl::string_view list,
                                          absl::string_view title) {
  v1::Operation operation;
  operation.mutable_rename()->set_title(std::string(title));
  return Change(list, operation);
}

absl::StatusOr<ChangeResult> Home::Undo(absl::string_view list) {
  return Change(list, std::vector<v1::Operation>{}, /*undo=*/true);
}

template <typename T, typename Read>
absl::StatusOr<T> Home::WithHistory(absl::string_view typed, Read read) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::MutexLock lock(&records_mu_);
  absl::StatusOr<HomeCore> core = LoadCore(**store, typed);
  if (!core.ok()) return core.status();
  absl::StatusOr<std::string> id = core->Resolve(typed);
  if (!id.ok()) return id.status();
  if (absl::Status s = LoadHistory(**store, LogPrefix(*id), *core); !s.ok()) {
    return s;
  }
  return read(*core, *id);
}

absl::StatusOr<std::vector<LogEntry>> Home::Log(absl::string_view typed,
                                                size_t limit) {
  return WithHistory<std::vector<LogEntry>>(
      typed, [&](HomeCore& core, const std::string& id) {
        return core.Log(id, limit);
      });
}

absl::StatusOr<std::vector<Suggestion>> Home::Suggest(absl::string_view typed,
                                                      absl::string_view list,
                                                      size_t limit) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::MutexLock lock(&records_mu_);
  absl::StatusOr<HomeCore> core = LoadCore(**store);
  if (!core.ok()) return core.status();
  if (absl::Status s = LoadHistory(**store, kLogPrefix, *core); !s.ok()) {
    return s;
  }
  return core->Suggest(typed, list, limit);
}

absl::StatusOr<std::vector<Suggestion>> Home::BoughtBefore(
    absl::string_view typed, size_t limit) {
  return WithHistory<std::vector<Suggestion>>(
      typed, [&](HomeCore& core, const std::string& id) {
        return core.BoughtBefore(id, limit);
      });
}

absl::StatusOr<std::string> Home::PersonName() {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::MutexLock lock(&records_mu_);
  absl::StatusOr<HomeCore> core =
      LoadCore(**store, std::nullopt, /*with_lists=*/false);
  if (!core.ok()) return core.status();
  return core->PersonName();
}

absl::StatusOr<std::string> Home::SetPersonName(absl::string_view typed) {
  // Bad input is INVALID_ARGUMENT even while the home is busy.
  if (absl::StatusOr<std::string> name = codec::CleanName(typed, "name");
      !name.ok()) {
    return name.status();
  }
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::MutexLock lock(&records_mu_);
  absl::StatusOr<HomeCore> core =
      LoadCore(**store, std::nullopt, /*with_lists=*/false);
  if (!core.ok()) return core.status();
  absl::StatusOr<Applied<std::string>> set = core->SetPersonName(typed);
  if (!set.ok()) return set.status();
  if (absl::Status s = (*store)->Write(set->batch); !s.ok()) return s;
  return set->value;
}

absl::StatusOr<JoinResult> Home::Join(absl::string_view typed) {
  // Bad input is INVALID_ARGUMENT even while the home is busy.
  absl::StatusOr<access::Link> link = ParseJoinLink(typed);
  if (!link.ok()) return link.status();
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  HomeCore core;
  absl::StatusOr<JoinStart> start;
  {
    absl::MutexLock lock(&records_mu_);
    // Only the list the link names matters.
    absl::StatusOr<HomeCore> loaded = LoadCore(**store, link->list_id);
    if (!loaded.ok()) return loaded.status();
    absl::StatusOr<Applied<JoinStart>> applied = loaded->Join(typed);
    if (!applied.ok()) return applied.status();
    if (applied->value.done) return *std::move(applied->value.done);
    if (absl::Status s = (*store)->Write(applied->batch); !s.ok()) return s;
    start = std::move(applied->value);
    core = *std::move(loaded);
  }
  const std::string& id = start->id;
  JoinResult result;
  bool not_found = false;
  result.sync = SyncList(**store, id, options_.sync_timeout, &core, &not_found);
  switch (result.sync.outcome) {
    case SyncReport::Outcome::kDeletedElsewhere:
      return absl::NotFoundError(
          absl::StrCat("list ", id, " was deleted by its owners"));
    case SyncReport::Outcome::kFailed: {
      if (start->fresh) {
        // Nothing new is kept.
        (void)Apply<ForgetResult>(**store, id, [&](HomeCore& c) {
          return c.Forget(id, /*drop_unsynced=*/true);
        });
      }
      if (not_found) {
        return absl::NotFoundError(
            absl::StrCat("no list ", id,
                         " exists, or the link no longer works; check the "
                         "link you were given"));
      }
      return absl::UnavailableError(result.sync.error);
    }
    default:
      break;
  }
  if (std::optional<ListInfo> list = core.Info(id)) result.list = *list;
  return result;
}

absl::StatusOr<std::vector<SyncReport>> Home::Sync(
    std::optional<absl::string_view> typed) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  HomeCore core;
  std::vector<std::string> ids;
  {
    absl::MutexLock lock(&records_mu_);
    absl::StatusOr<HomeCore> loaded = LoadCore(**store, typed);
    if (!loaded.ok()) return loaded.status();
    if (typed) {
      absl::StatusOr<std::string> id = loaded->Resolve(*typed);
      if (!id.ok()) return id.status();
      ids.push_back(*std::move(id));
    } else {
      ids = loaded->ListIds();
    }
    core = *std::move(loaded);
  }
  std::vector<SyncReport> reports;
  bool offline = false;
  for (const std::string& id : ids) {
    if (offline) {
      // No proxy answers: the other lists would wait in vain.
      reports.push_back(core.OfflineReport(id));
      continue;
    }
    const bool awaiting_fetch = core.AwaitingFetch(id);
    bool not_found = false;
    reports.push_back(
        SyncList(**store, id, options_.sync_timeout, nullptr, &not_found));
    offline = reports.back().outcome == SyncReport::Outcome::kOffline;
    if (not_found && awaiting_fetch) {
      // Joined offline with an id nobody made: keep nothing.
      (void)Apply<ForgetResult>(**store, id, [&](HomeCore& c) {
        return c.Forget(id, /*drop_unsynced=*/true);
      });
    }
  }
  return reports;
}

bool Home::Probe() { return link_->ProbeAny(); }

absl::StatusOr<ForgetResult> Home::Forget(absl::string_view typed,
                                          bool drop_unsynced) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  return Apply<ForgetResult>(**store, typed, [&](HomeCore& core) {
    return core.Forget(typed, drop_unsynced);
  });
}

absl::StatusOr<DeleteResult> Home::Delete(absl::string_view typed) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::StatusOr<DeleteResult> result = Apply<DeleteResult>(
      **store, typed, [&](HomeCore& core) { return core.Delete(typed); });
  if (!result.ok()) return result.status();
  if (result->sync.outcome == SyncReport::Outcome::kDeleted) return result;
  result->sync = SyncList(**store, result->list.id, options_.change_timeout);
  result->sync.title = result->list.title;
  return result;
}

// --- Watching ---

class Home::WatchImpl final : public ListWatch {
 public:
  WatchImpl(Home* home, ListInfo list, std::string secret,
            std::function<void(const WatchEvent&)> on_event,
            std::function<void(const absl::Status&)> on_interrupted)
      : home_(home),
        list_(std::move(list)),
        on_event_(std::move(on_event)),
        watcher_(home->link_, list_.id, std::move(secret),
                 Watcher::Callbacks{[this] { return Prepare(); },
                                    [this](const crdt::ListState& delta) {
                                      return home_->MergeWatched(
                                          list_.id, delta, on_event_);
                                    },
                                    std::move(on_interrupted)}) {}

  absl::Status Run() override { return watcher_.Run(); }
  void Stop() override { watcher_.Stop(); }
  const ListInfo& list() const override { return list_; }

 private:
  // Pushes what is pending, then names what the home has seen.
  absl::StatusOr<crdt::CausalContext> Prepare() {
    absl::StatusOr<Lease> store = home_->Acquire();
    if (!store.ok()) return store.status();
    HomeCore core;
    {
      absl::MutexLock lock(&home_->records_mu_);
      absl::StatusOr<HomeCore> loaded = home_->LoadCore(**store, list_.id);
      if (!loaded.ok()) return loaded.status();
      core = *std::move(loaded);
    }
    if (core.NeedsSync(list_.id)) {
      SyncReport report = home_->SyncList(
          **store, list_.id, home_->options_.change_timeout, &core);
      if (report.outcome == SyncReport::Outcome::kDeleted ||
          report.outcome == SyncReport::Outcome::kDeletedElsewhere) {
        WatchEvent event;
        event.id = list_.id;
        event.title = report.title;
        event.at = home_->options_.clock();
        event.deleted = true;
        on_event_(event);
        return absl::NotFoundError("the list was deleted");
      }
    }
    return core.Known(list_.id);
  }

  Home* const home_;
  const ListInfo list_;
  const std::function<void(const WatchEvent&)> on_event_;
  Watcher watcher_;
};

absl::StatusOr<std::unique_ptr<ListWatch>> Home::Watch(
    absl::string_view typed, std::function<void(const WatchEvent&)> on_event,
    std::function<void(const absl::Status&)> on_interrupted) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::MutexLock lock(&records_mu_);
  absl::StatusOr<HomeCore> core = LoadCore(**store, typed);
  if (!core.ok()) return core.status();
  absl::StatusOr<std::string> id = core->Resolve(typed);
  if (!id.ok()) return id.status();
  return std::unique_ptr<ListWatch>(
      new WatchImpl(this, *core->Info(*id), core->Secret(*id),
                    std::move(on_event), std::move(on_interrupted)));
}

bool Home::MergeWatched(
    const std::string& id, const crdt::ListState& delta,
    const std::function<void(const WatchEvent&)>& on_event) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return true;  // busy home: the next event brings it again
  absl::StatusOr<Inputs> in = Now();
  if (!in.ok()) return true;
  HomeCore::Watched watched;
  {
    absl::MutexLock lock(&records_mu_);
    absl::StatusOr<HomeCore> core = LoadCore(**store, id);
    if (!core.ok()) return true;
    Applied<HomeCore::Watched> merged = core->MergeWatched(id, delta, *in);
    if (!(*store)->Write(merged.batch).ok()) return true;
    watched = std::move(merged.value);
  }
  if (watched.event) on_event(*watched.event);
  return watched.keep_watching;
}

}  // namespace shoplist::client
