#include "clients/core/home.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "clients/core/list_resolver.h"
#include "codec/operation.h"
#include "crdt/list_id.h"
#include "text/text.h"

namespace shoplist::client {
namespace {

ItemInfo InfoOf(const crdt::ItemView& item) {
  return ItemInfo{item.name, item.wanted, item.bought};
}

std::optional<ItemInfo> FindItem(const ListInfo& list,
                                 const std::string& name) {
  for (const ItemInfo& item : list.items) {
    if (item.name == name) return item;
  }
  return std::nullopt;
}

SyncReport Report(const LocalList& list, SyncReport::Outcome outcome) {
  SyncReport report;
  report.id = list.id;
  report.title = InfoOf(list).title;
  report.outcome = outcome;
  return report;
}

// The item the delta of one item change holds (whole-item deltas).
std::string ChangedItem(const crdt::ListState& delta) {
  return delta.items().size() == 1 ? delta.items().begin()->first : "";
}

}  // namespace

size_t ListInfo::to_buy() const {
  size_t n = 0;
  for (const ItemInfo& item : items) n += item.bought < item.wanted ? 1 : 0;
  return n;
}

ListInfo InfoOf(const LocalList& list) {
  ListInfo info;
  info.id = list.id;
  if (list.state.title()) info.title = list.state.title()->value;
  if (list.state.deleted() || list.pending.deleted()) {
    info.phase = ListInfo::Phase::kDeleting;
  } else if (list.awaiting_fetch) {
    info.phase = ListInfo::Phase::kAwaitingFetch;
  }
  for (const crdt::ItemView& item : list.state.View().items) {
    info.items.push_back(InfoOf(item));
  }
  info.unsynced = list.UnsyncedChanges();
  info.in_cloud = list.on_server;
  return info;
}

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
    : options_(std::move(options)), link_(std::move(link)), engine_(link_) {}

Home::~Home() = default;

absl::StatusOr<Home::Lease> Home::Acquire() {
  absl::MutexLock lock(&store_mu_);
  if (store_ == nullptr) {
    absl::StatusOr<std::unique_ptr<LocalStore>> store =
        LocalStore::Open(options_.dir, options_.open_wait);
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

uint64_t Home::NowMicros() const {
  return static_cast<uint64_t>(absl::ToUnixMicros(options_.clock()));
}

absl::StatusOr<LocalList> Home::Resolve(LocalStore& store,
                                        absl::string_view typed) {
  const std::string name = text::TrimSpace(typed);
  if (crdt::ValidateListId(name).ok()) {
    absl::StatusOr<std::optional<LocalList>> found = store.Load(name);
    if (!found.ok()) return found.status();
    if (*found) return **found;
  }
  absl::StatusOr<std::vector<std::string>> ids = store.ListIds();
  if (!ids.ok()) return ids.status();
  std::vector<ListName> names;
  for (const std::string& id : *ids) {
    absl::StatusOr<std::optional<LocalList>> list = store.Load(id);
    if (!list.ok()) return list.status();
    if (*list) names.push_back({id, InfoOf(**list).title});
  }
  absl::StatusOr<std::string> id = ResolveList(name, names);
  if (!id.ok()) return id.status();
  absl::StatusOr<std::optional<LocalList>> list = store.Load(*id);
  if (!list.ok()) return list.status();
  if (!*list) return absl::NotFoundError("the list was forgotten meanwhile");
  return **list;
}

SyncReport Home::SyncList(LocalStore& store, const std::string& id,
                          absl::Duration timeout, bool* not_found) {
  SyncInput input;
  LocalList sent;
  {
    absl::MutexLock lock(&records_mu_);
    absl::StatusOr<std::optional<LocalList>> list = store.Load(id);
    if (!list.ok() || !*list) {
      SyncReport report;
      report.id = id;
      report.outcome = SyncReport::Outcome::kFailed;
      report.error = list.ok() ? "the list is no longer in this home"
                               : std::string(list.status().message());
      return report;
    }
    sent = **std::move(list);
  }
  input.id = id;
  input.pending = sent.pending;
  input.known = sent.state.context();
  input.create = !sent.on_server && !sent.awaiting_fetch;

  // No lock while the cloud is asked: other calls go on meanwhile.
  absl::StatusOr<SyncReply> reply = engine_.Sync(input, timeout);

  absl::MutexLock lock(&records_mu_);
  absl::StatusOr<std::optional<LocalList>> loaded = store.Load(id);
  if (!loaded.ok()) {
    SyncReport report = Report(sent, SyncReport::Outcome::kFailed);
    report.error = std::string(loaded.status().message());
    return report;
  }
  if (!*loaded) return Report(sent, SyncReport::Outcome::kSynced);
  LocalList current = **std::move(loaded);
  if (!reply.ok()) {
    SyncReport report = Report(current, SyncReport::Outcome::kFailed);
    report.error = std::string(reply.status().message());
    return report;
  }
  switch (reply->answer) {
    case SyncReply::Answer::kOffline:
      return Report(current, SyncReport::Outcome::kOffline);
    case SyncReply::Answer::kNotFound: {
      if (not_found != nullptr) *not_found = true;
      SyncReport report = Report(current, SyncReport::Outcome::kFailed);
      report.error =
          absl::StrCat("no list ", id, " exists in the cloud; check the id");
      return report;
    }
    case SyncReply::Answer::kStored:
      break;
  }
  const bool deleting = sent.pending.deleted();
  const SyncReport before = Report(current, SyncReport::Outcome::kSynced);
  const size_t unsynced = current.UnsyncedChanges();
  current.state.Merge(reply->missing);
  // What was sent is acknowledged. Changes made while the call was out
  // stay pending (sent again next time: merging is idempotent).
  if (current.pending == sent.pending) current.pending = crdt::ListState();
  current.on_server = true;
  current.awaiting_fetch = false;
  if (current.state.deleted()) {
    SyncReport report = before;
    if (absl::Status s = store.Forget(id); !s.ok()) {
      report.outcome = SyncReport::Outcome::kFailed;
      report.error = std::string(s.message());
      return report;
    }
    report.outcome = deleting ? SyncReport::Outcome::kDeleted
                              : SyncReport::Outcome::kDeletedElsewhere;
    if (!deleting) report.dropped_changes = unsynced;
    return report;
  }
  if (absl::Status s = store.Save(current); !s.ok()) {
    SyncReport report = before;
    report.outcome = SyncReport::Outcome::kFailed;
    report.error = std::string(s.message());
    return report;
  }
  return Report(current, SyncReport::Outcome::kSynced);
}

absl::StatusOr<std::vector<ListInfo>> Home::Lists() {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::StatusOr<std::vector<std::string>> ids = (*store)->ListIds();
  if (!ids.ok()) return ids.status();
  std::vector<ListInfo> lists;
  for (const std::string& id : *ids) {
    absl::StatusOr<std::optional<LocalList>> list = (*store)->Load(id);
    if (!list.ok()) return list.status();
    if (*list) lists.push_back(InfoOf(**list));
  }
  return lists;
}

absl::StatusOr<ListInfo> Home::Show(absl::string_view typed) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::MutexLock lock(&records_mu_);
  absl::StatusOr<LocalList> list = Resolve(**store, typed);
  if (!list.ok()) return list.status();
  return InfoOf(*list);
}

absl::StatusOr<ListInfo> Home::Share(absl::string_view typed) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  std::string id;
  {
    absl::MutexLock lock(&records_mu_);
    absl::StatusOr<LocalList> list = Resolve(**store, typed);
    if (!list.ok()) return list.status();
    if (list->on_server) return InfoOf(*list);
    id = list->id;
  }
  SyncList(**store, id, options_.change_timeout);
  absl::StatusOr<std::optional<LocalList>> list = (*store)->Load(id);
  if (!list.ok()) return list.status();
  if (!*list) return absl::NotFoundError("the list was deleted meanwhile");
  return InfoOf(**list);
}

absl::StatusOr<ChangeResult> Home::New(absl::string_view title) {
  v1::Operation operation;
  operation.mutable_create()->set_title(std::string(title));
  absl::StatusOr<std::string> id = crdt::NewListId();
  if (!id.ok()) return id.status();
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  {
    absl::MutexLock lock(&records_mu_);
    absl::StatusOr<uint64_t> replica = (*store)->ReplicaId();
    if (!replica.ok()) return replica.status();
    LocalList list;
    list.id = *id;
    absl::StatusOr<crdt::ListState> delta =
        codec::ApplyOperation(operation, *replica, NowMicros(), list.state);
    if (!delta.ok()) return delta.status();
    list.pending = *std::move(delta);
    if (absl::Status s = (*store)->Save(list); !s.ok()) return s;
  }
  ChangeResult result;
  result.sync = SyncList(**store, *id, options_.change_timeout);
  absl::StatusOr<std::optional<LocalList>> list = (*store)->Load(*id);
  if (!list.ok()) return list.status();
  if (*list) result.list = InfoOf(**list);
  return result;
}

absl::StatusOr<ChangeResult> Home::Change(absl::string_view typed,
                                          const v1::Operation& operation) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  std::string id;
  bool awaiting_fetch = false;
  {
    absl::MutexLock lock(&records_mu_);
    absl::StatusOr<LocalList> list = Resolve(**store, typed);
    if (!list.ok()) return list.status();
    id = list->id;
    awaiting_fetch = list->awaiting_fetch;
  }
  if (awaiting_fetch) {
    // Fetch first, so the change applies to what the list really holds.
    SyncList(**store, id, options_.change_timeout);
  }
  std::string item;
  {
    absl::MutexLock lock(&records_mu_);
    absl::StatusOr<std::optional<LocalList>> loaded = (*store)->Load(id);
    if (!loaded.ok()) return loaded.status();
    if (!*loaded) {
      return absl::NotFoundError("the list was deleted or forgotten meanwhile");
    }
    LocalList& list = **loaded;
    if (list.awaiting_fetch) {
      return absl::UnavailableError(
          "this list has not been fetched yet; sync when online");
    }
    absl::StatusOr<uint64_t> replica = (*store)->ReplicaId();
    if (!replica.ok()) return replica.status();
    absl::StatusOr<crdt::ListState> delta =
        codec::ApplyOperation(operation, *replica, NowMicros(), list.state);
    if (!delta.ok()) return delta.status();
    item = ChangedItem(*delta);
    list.pending.Merge(*delta);
    // The change is durable here, with its pending delta, before anything
    // is reported or sent.
    if (absl::Status s = (*store)->Save(list); !s.ok()) return s;
  }
  ChangeResult result;
  result.sync = SyncList(**store, id, options_.change_timeout);
  absl::StatusOr<std::optional<LocalList>> list = (*store)->Load(id);
  if (!list.ok()) return list.status();
  if (*list) {
    result.list = InfoOf(**list);
  } else {
    result.list.id = id;
    result.list.title = result.sync.title;
  }
  result.item_name = item;
  if (!item.empty()) result.item = FindItem(result.list, item);
  return result;
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

absl::StatusOr<ChangeResult> Home::Rename(absl::string_view list,
                                          absl::string_view title) {
  v1::Operation operation;
  operation.mutable_rename()->set_title(std::string(title));
  return Change(list, operation);
}

absl::StatusOr<JoinResult> Home::Join(absl::string_view typed) {
  const std::string id = text::TrimSpace(typed);
  if (absl::Status s = crdt::ValidateListId(id); !s.ok()) return s;
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  JoinResult result;
  {
    absl::MutexLock lock(&records_mu_);
    absl::StatusOr<std::optional<LocalList>> existing = (*store)->Load(id);
    if (!existing.ok()) return existing.status();
    if (*existing) {
      result.joined = false;
      result.list = InfoOf(**existing);
      result.sync = Report(**existing, (*existing)->on_server
                                           ? SyncReport::Outcome::kSynced
                                           : SyncReport::Outcome::kOffline);
      return result;
    }
    LocalList list;
    list.id = id;
    list.awaiting_fetch = true;
    if (absl::Status s = (*store)->Save(list); !s.ok()) return s;
  }
  bool not_found = false;
  result.sync = SyncList(**store, id, options_.sync_timeout, &not_found);
  switch (result.sync.outcome) {
    case SyncReport::Outcome::kDeletedElsewhere:
      return absl::NotFoundError(
          absl::StrCat("list ", id, " was deleted by its owners"));
    case SyncReport::Outcome::kFailed: {
      absl::MutexLock lock(&records_mu_);
      (void)(*store)->Forget(id);
      if (not_found) {
        return absl::NotFoundError(absl::StrCat(
            "no list ", id, " exists; check the id you were given"));
      }
      return absl::UnavailableError(result.sync.error);
    }
    default:
      break;
  }
  absl::StatusOr<std::optional<LocalList>> list = (*store)->Load(id);
  if (!list.ok()) return list.status();
  if (*list) result.list = InfoOf(**list);
  return result;
}

absl::StatusOr<std::vector<SyncReport>> Home::Sync(
    std::optional<absl::string_view> typed) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  std::vector<LocalList> lists;
  {
    absl::MutexLock lock(&records_mu_);
    if (typed) {
      absl::StatusOr<LocalList> list = Resolve(**store, *typed);
      if (!list.ok()) return list.status();
      lists.push_back(*std::move(list));
    } else {
      absl::StatusOr<std::vector<std::string>> ids = (*store)->ListIds();
      if (!ids.ok()) return ids.status();
      for (const std::string& id : *ids) {
        absl::StatusOr<std::optional<LocalList>> list = (*store)->Load(id);
        if (!list.ok()) return list.status();
        if (*list) lists.push_back(**std::move(list));
      }
    }
  }
  std::vector<SyncReport> reports;
  bool offline = false;
  for (const LocalList& list : lists) {
    if (offline) {
      // No proxy answers: the other lists would wait in vain.
      reports.push_back(Report(list, SyncReport::Outcome::kOffline));
      continue;
    }
    bool not_found = false;
    reports.push_back(
        SyncList(**store, list.id, options_.sync_timeout, &not_found));
    offline = reports.back().outcome == SyncReport::Outcome::kOffline;
    if (not_found && list.awaiting_fetch) {
      // Joined offline with an id nobody made: keep nothing.
      absl::MutexLock lock(&records_mu_);
      (void)(*store)->Forget(list.id);
    }
  }
  return reports;
}

bool Home::Probe() { return link_->ProbeAny(); }

absl::StatusOr<ForgetResult> Home::Forget(absl::string_view typed,
                                          bool drop_unsynced) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::MutexLock lock(&records_mu_);
  absl::StatusOr<LocalList> list = Resolve(**store, typed);
  if (!list.ok()) return list.status();
  ForgetResult result{InfoOf(*list)};
  if (result.list.unsynced > 0 && !drop_unsynced) {
    return absl::FailedPreconditionError(absl::StrCat(
        "'", result.list.title, "' has ", result.list.unsynced,
        " unsynced change(s); sync first, or forget anyway to drop them"));
  }
  if (absl::Status s = (*store)->Forget(list->id); !s.ok()) return s;
  return result;
}

absl::StatusOr<DeleteResult> Home::Delete(absl::string_view typed) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  DeleteResult result;
  {
    absl::MutexLock lock(&records_mu_);
    absl::StatusOr<LocalList> list = Resolve(**store, typed);
    if (!list.ok()) return list.status();
    result.list = InfoOf(*list);
    list->pending.Merge(list->state.Delete());
    if (!list->on_server) {
      // Never left this home: nothing to tell anyone.
      if (absl::Status s = (*store)->Forget(list->id); !s.ok()) return s;
      result.sync = Report(*list, SyncReport::Outcome::kDeleted);
      result.sync.title = result.list.title;
      return result;
    }
    if (absl::Status s = (*store)->Save(*list); !s.ok()) return s;
  }
  result.sync = SyncList(**store, result.list.id, options_.change_timeout);
  result.sync.title = result.list.title;
  return result;
}

// --- Watching ---

class Home::WatchImpl final : public ListWatch {
 public:
  WatchImpl(Home* home, ListInfo list,
            std::function<void(const WatchEvent&)> on_event,
            std::function<void(const absl::Status&)> on_interrupted)
      : home_(home),
        list_(std::move(list)),
        on_event_(std::move(on_event)),
        watcher_(home->link_, list_.id,
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
    absl::StatusOr<std::optional<LocalList>> list = (*store)->Load(list_.id);
    if (!list.ok()) return list.status();
    if (!*list)
      return absl::NotFoundError("the list is no longer in this home");
    if (!(*list)->pending.empty() || !(*list)->on_server) {
      SyncReport report =
          home_->SyncList(**store, list_.id, home_->options_.change_timeout);
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
      list = (*store)->Load(list_.id);
      if (!list.ok()) return list.status();
      if (!*list) return absl::NotFoundError("the list is no longer here");
    }
    return (*list)->state.context();
  }

  Home* const home_;
  const ListInfo list_;
  const std::function<void(const WatchEvent&)> on_event_;
  Watcher watcher_;
};

absl::StatusOr<std::unique_ptr<ListWatch>> Home::Watch(
    absl::string_view typed, std::function<void(const WatchEvent&)> on_event,
    std::function<void(const absl::Status&)> on_interrupted) {
  absl::StatusOr<ListInfo> list = Show(typed);
  if (!list.ok()) return list.status();
  return std::unique_ptr<ListWatch>(new WatchImpl(
      this, *std::move(list), std::move(on_event), std::move(on_interrupted)));
}

bool Home::MergeWatched(
    const std::string& id, const crdt::ListState& delta,
    const std::function<void(const WatchEvent&)>& on_event) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return true;  // busy home: the next event brings it again
  WatchEvent event;
  {
    absl::MutexLock lock(&records_mu_);
    absl::StatusOr<std::optional<LocalList>> loaded = (*store)->Load(id);
    if (!loaded.ok()) return true;
    if (!*loaded) return false;  // forgotten meanwhile
    LocalList& list = **loaded;
    const crdt::ListView before = list.state.View();
    list.state.Merge(delta);
    event.id = id;
    event.at = options_.clock();
    if (list.state.deleted()) {
      if (!(*store)->Forget(id).ok()) return true;
      event.title = before.title;
      event.deleted = true;
    } else {
      if (!(*store)->Save(list).ok()) return true;
      const crdt::ListView after = list.state.View();
      event.title = after.title;
      event.title_changed = before.title != after.title;
      std::map<std::string, crdt::ItemView> old_items;
      for (const crdt::ItemView& i : before.items) old_items[i.name] = i;
      for (const crdt::ItemView& i : after.items) {
        auto it = old_items.find(i.name);
        if (it == old_items.end() || !(it->second == i)) {
          event.changes.push_back({i.name, i.wanted, i.bought, false});
        }
        if (it != old_items.end()) old_items.erase(it);
      }
      for (const auto& [name, item] : old_items) {
        event.changes.push_back({name, 0, 0, true});
      }
      if (!event.title_changed && event.changes.empty()) return true;
    }
  }
  on_event(event);
  return !event.deleted;
}

}  // namespace shoplist::client
