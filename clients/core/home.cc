#include "clients/core/home.h"

#include <cstdlib>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "access/capability.h"
#include "access/policy.h"
#include "clients/core/list_resolver.h"
#include "codec/operation.h"
#include "crdt/list_diff.h"
#include "crdt/list_id.h"
#include "text/text.h"

namespace shoplist::client {
namespace {

constexpr char kPersonNameSetting[] = "person_name";

std::string CategorySetting(absl::string_view item) {
  return absl::StrCat("category/", text::ItemKey(item));
}

ItemInfo InfoOf(const crdt::ItemView& item) {
  return ItemInfo{
      item.key,
      item.name,
      item.wanted,
      item.bought,
      item.note,
      item.category,
      item.changed_by_name,
      absl::FromUnixMicros(static_cast<int64_t>(item.changed_at_micros))};
}

std::optional<ItemInfo> FindItem(const ListInfo& list, const std::string& key) {
  for (const ItemInfo& item : list.items) {
    if (item.key == key) return item;
  }
  return std::nullopt;
}

std::vector<v1::LogEvent> ToRecords(
    const std::vector<crdt::ListEvent>& events) {
  std::vector<v1::LogEvent> records;
  for (const crdt::ListEvent& e : events) {
    v1::LogEvent& r = records.emplace_back();
    r.set_kind(crdt::KindName(e.kind));
    r.set_item(e.item);
    r.set_count(e.count);
    r.set_text(e.text);
    r.set_by(e.by);
    r.set_by_name(e.by_name);
    r.set_at_micros(e.at_micros);
  }
  return records;
}

LogEntry EntryOf(const v1::LogEvent& r, crdt::ReplicaId me) {
  return LogEntry{r.kind(),
                  r.item(),
                  r.count(),
                  r.text(),
                  r.by_name(),
                  r.by() == me,
                  absl::FromUnixMicros(static_cast<int64_t>(r.at_micros()))};
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

bool IsOpen(const LocalList& list) {
  return !list.access_lost && list.secret.empty() && !list.state.access().set();
}

Access AccessFor(access::Capability capability) {
  switch (capability) {
    case access::Capability::kOwner:
      return Access::kOwner;
    case access::Capability::kEdit:
      return Access::kEdit;
    case access::Capability::kRead:
      return Access::kRead;
    case access::Capability::kNone:
      break;
  }
  return Access::kRevoked;
}

Access AccessOf(const LocalList& list) {
  return IsOpen(list) ? Access::kOpen : AccessFor(HeldBy(list));
}

std::string TitleOf(const LocalList& list) {
  return list.state.title() ? list.state.title()->value : list.id;
}

absl::Status RevokedError(const LocalList& list) {
  return absl::PermissionDeniedError(absl::StrCat(
      "this home's link to '", TitleOf(list),
      "' no longer works: its owner revoked it. Ask for a new link and "
      "join it"));
}

// The check the servers make, made here first, so a home refuses what the
// cloud would refuse, offline too.
absl::Status CheckLocally(const LocalList& list, const crdt::ListState& delta) {
  const access::Capability needed = access::Needed(delta);
  const access::Capability held = HeldBy(list);
  if (held >= needed) return absl::OkStatus();
  if (held == access::Capability::kNone) return RevokedError(list);
  if (needed == access::Capability::kOwner) {
    return absl::PermissionDeniedError(absl::StrCat(
        "deleting '", TitleOf(list),
        "' for everyone, or changing who may use it, needs its owner link; "
        "this home holds an ",
        access::CapabilityName(held), " link (forget removes it from here)"));
  }
  return absl::PermissionDeniedError(
      absl::StrCat("this home holds a read-only link to '", TitleOf(list),
                   "': it can see and watch the list, not change it"));
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
  crdt::ListView view = list.state.View();
  for (const crdt::ItemView& item : view.items) {
    info.items.push_back(InfoOf(item));
  }
  info.aisles = std::move(view.aisles);
  info.undoable = list.undo.size();
  info.unsynced = list.UnsyncedChanges();
  info.in_cloud = list.on_server;
  info.access = AccessOf(list);
  return info;
}

access::Capability HeldBy(const LocalList& list) {
  if (list.access_lost) return access::Capability::kNone;
  if (list.state.access().set()) {
    return access::Held(list.state, access::HashSecret(list.secret));
  }
  if (!list.secret.empty()) return list.link_capability;
  return access::Capability::kOwner;  // open to its id
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
  input.secret = sent.secret;

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
      if (current.on_server && !IsOpen(current)) {
        // The cloud knew this list and this link: the link was revoked.
        // What the home has stays; nothing more is changed here.
        if (!current.access_lost) {
          current.access_lost = true;
          (void)store.Save(current);
        }
        report.error = std::string(RevokedError(current).message());
      } else {
        report.error = absl::StrCat(
            "no list ", id, " exists in the cloud, or the link is not valid");
      }
      return report;
    }
    case SyncReply::Answer::kStored:
      break;
  }
  const bool deleting = sent.pending.deleted();
  const SyncReport before = Report(current, SyncReport::Outcome::kSynced);
  const size_t unsynced = current.UnsyncedChanges();
  const std::vector<v1::LogEvent> events = ToRecords(
      crdt::EventsOf(MergeRemote(current, reply->missing), current.state));
  // What was sent is acknowledged. Changes made while the call was out
  // stay pending (sent again next time: merging is idempotent).
  if (current.pending == sent.pending) current.pending = crdt::ListState();
  current.on_server = true;
  current.awaiting_fetch = false;
  current.access_lost = false;
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
  if (absl::Status s = store.Save(current, events); !s.ok()) {
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

absl::StatusOr<ShareResult> Home::Share(
    absl::string_view typed, std::optional<access::Capability> wanted) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  std::string id;
  bool synced = false;
  {
    absl::MutexLock lock(&records_mu_);
    absl::StatusOr<LocalList> list = Resolve(**store, typed);
    if (!list.ok()) return list.status();
    id = list->id;
    synced = list->on_server;
  }
  if (!synced) SyncList(**store, id, options_.change_timeout);
  absl::MutexLock lock(&records_mu_);
  absl::StatusOr<std::optional<LocalList>> loaded = (*store)->Load(id);
  if (!loaded.ok()) return loaded.status();
  if (!*loaded) return absl::NotFoundError("the list was deleted meanwhile");
  const LocalList& list = **loaded;
  ShareResult result;
  result.list = InfoOf(list);
  if (IsOpen(list)) {
    if (wanted && *wanted != access::Capability::kEdit) {
      return absl::FailedPreconditionError(absl::StrCat(
          "'", TitleOf(list),
          "' is open to anyone with its id (it was made before links "
          "existed), so it has no read-only or owner link yet; share "
          "--revoke closes it and makes this home its owner"));
    }
    result.link = list.id;
    result.gives = Access::kOpen;
    return result;
  }
  const access::Capability held = HeldBy(list);
  if (held == access::Capability::kNone) return RevokedError(list);
  const access::Capability give =
      wanted ? *wanted : std::min(held, access::Capability::kEdit);
  if (give > held) {
    return absl::PermissionDeniedError(absl::StrCat(
        "this home holds ", held == access::Capability::kEdit ? "an " : "a ",
        access::CapabilityName(held), " link to '", TitleOf(list),
        "'; it can give links up to that"));
  }
  // Until the list's record arrives, the home can give only its own link.
  std::string secret = list.secret;
  if (!list.state.access().set()) {
    if (give != list.link_capability) {
      return absl::UnavailableError(
          "this list has not been fetched yet; sync when online");
    }
  } else {
    absl::StatusOr<access::Grants> grants =
        access::DecodeGrants(list.state.access().value);
    if (!grants.ok()) return grants.status();
    absl::StatusOr<std::string> derived =
        access::SecretFor(*grants, list.secret, give);
    if (!derived.ok()) return derived.status();
    secret = *std::move(derived);
  }
  result.link = access::FormatLink({list.id, give, secret});
  result.gives = AccessFor(give);
  return result;
}

absl::StatusOr<RevokeResult> Home::Revoke(absl::string_view typed) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  RevokeResult result;
  std::string id;
  {
    absl::MutexLock lock(&records_mu_);
    absl::StatusOr<LocalList> list = Resolve(**store, typed);
    if (!list.ok()) return list.status();
    id = list->id;
    if (list->awaiting_fetch) {
      return absl::UnavailableError(
          "this list has not been fetched yet; sync when online");
    }
    absl::StatusOr<access::NewAccess> next;
    if (IsOpen(*list)) {
      next = access::MakeAccess();
    } else if (HeldBy(*list) != access::Capability::kOwner) {
      return absl::PermissionDeniedError(absl::StrCat(
          "revoking the links to '", TitleOf(*list),
          "' needs its owner link; this home holds ",
          HeldBy(*list) == access::Capability::kNone
              ? "a revoked link"
              : absl::StrCat("an ", access::CapabilityName(HeldBy(*list)),
                             " link")));
    } else {
      absl::StatusOr<access::Grants> grants =
          access::DecodeGrants(list->state.access().value);
      if (!grants.ok()) return grants.status();
      next = access::Revoke(*grants, list->secret);
    }
    if (!next.ok()) return next.status();
    absl::StatusOr<crdt::Writer> writer = WriterOf(**store);
    if (!writer.ok()) return writer.status();
    writer->now_micros = NowMicros();
    const crdt::ListState before = list->state;
    absl::StatusOr<crdt::ListState> delta =
        list->state.SetAccess(*writer, access::EncodeGrants(next->grants));
    if (!delta.ok()) return delta.status();
    const std::vector<v1::LogEvent> events = ToRecords(
        crdt::EventsOf(crdt::Diff(before, list->state, *delta), list->state));
    list->pending.Merge(*delta);
    list->secret = next->owner_secret;
    list->link_capability = access::Capability::kOwner;
    list->access_lost = false;
    if (absl::Status s = (*store)->Save(*list, events); !s.ok()) return s;
    result.read_link =
        access::FormatLink({id, access::Capability::kRead, next->read_secret});
    result.edit_link =
        access::FormatLink({id, access::Capability::kEdit, next->edit_secret});
  }
  result.sync = SyncList(**store, id, options_.change_timeout);
  absl::StatusOr<std::optional<LocalList>> list = (*store)->Load(id);
  if (!list.ok()) return list.status();
  if (*list) result.list = InfoOf(**list);
  return result;
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
    absl::StatusOr<crdt::Writer> writer = WriterOf(**store);
    if (!writer.ok()) return writer.status();
    LocalList list;
    list.id = *id;
    absl::StatusOr<crdt::ListState> delta =
        codec::ApplyOperation(operation, *writer, NowMicros(), list.state);
    if (!delta.ok()) return delta.status();
    // Closed from the start: this home holds the owner link.
    absl::StatusOr<access::NewAccess> made = access::MakeAccess();
    if (!made.ok()) return made.status();
    writer->now_micros = NowMicros();
    absl::StatusOr<crdt::ListState> record =
        list.state.SetAccess(*writer, access::EncodeGrants(made->grants));
    if (!record.ok()) return record.status();
    delta->Merge(*record);
    list.pending = *std::move(delta);
    list.secret = made->owner_secret;
    list.link_capability = access::Capability::kOwner;
    if (absl::Status s = (*store)->Save(list); !s.ok()) return s;
  }
  ChangeResult result;
  result.sync = SyncList(**store, *id, options_.change_timeout);
  absl::StatusOr<std::optional<LocalList>> list = (*store)->Load(*id);
  if (!list.ok()) return list.status();
  if (*list) result.list = InfoOf(**list);
  return result;
}

absl::StatusOr<crdt::Writer> Home::WriterOf(LocalStore& store) {
  absl::StatusOr<uint64_t> replica = store.ReplicaId();
  if (!replica.ok()) return replica.status();
  crdt::Writer writer(*replica);
  absl::StatusOr<std::optional<std::string>> name =
      store.Setting(kPersonNameSetting);
  if (!name.ok()) return name.status();
  if (*name) {
    writer.name = **name;
  } else if (const char* user = std::getenv("USER"); user != nullptr) {
    absl::StatusOr<std::string> clean = codec::CleanName(user, "name");
    if (clean.ok()) writer.name = *clean;
  }
  return writer;
}

crdt::ListDiff Home::MergeRemote(LocalList& list,
                                 const crdt::ListState& delta) {
  // Most sync replies bring nothing: no copy of the state for them.
  if (delta.deleted() || list.state.deleted() || delta.carries_no_change()) {
    list.state.Merge(delta);
    return {};
  }
  const crdt::ListState before = list.state;
  list.state.Merge(delta);
  return crdt::Diff(before, list.state, delta);
}

absl::StatusOr<ChangeResult> Home::Change(absl::string_view typed,
                                          std::vector<v1::Operation> operations,
                                          bool undo) {
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
  std::vector<LogEntry> entries;
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
    if (undo) {
      if (list.undo.empty()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "nothing of this home's to undo in '", InfoOf(list).title, "'"));
      }
      operations.assign(list.undo.back().operations().begin(),
                        list.undo.back().operations().end());
      list.undo.pop_back();
    }
    absl::StatusOr<crdt::Writer> writer = WriterOf(**store);
    if (!writer.ok()) return writer.status();
    std::vector<std::pair<std::string, std::string>> remember;
    for (v1::Operation& op : operations) {
      if (op.has_add() && op.add().category().empty()) {
        absl::StatusOr<std::optional<std::string>> category =
            (*store)->Setting(CategorySetting(op.add().item()));
        if (!category.ok()) return category.status();
        if (*category) op.mutable_add()->set_category(**category);
      }
      if (op.has_category() && !undo) {
        remember.emplace_back(CategorySetting(op.category().item()),
                              op.category().category());
      }
    }
    const crdt::ListState before = list.state;
    crdt::ListState delta;
    for (const v1::Operation& op : operations) {
      absl::StatusOr<crdt::ListState> one =
          codec::ApplyOperation(op, *writer, NowMicros(), list.state);
      if (!one.ok()) {
        if (undo) continue;  // that part no longer applies
        return one.status();
      }
      delta.Merge(*one);
    }
    if (absl::Status s = CheckLocally(list, delta); !s.ok()) return s;
    const crdt::ListDiff diff = crdt::Diff(before, list.state, delta);
    if (!undo && !diff.empty()) {
      std::vector<v1::Operation> back = codec::UndoOperations(diff);
      if (!back.empty()) {
        v1::UndoStep& step = list.undo.emplace_back();
        for (v1::Operation& op : back) *step.add_operations() = std::move(op);
      }
    }
    const std::vector<v1::LogEvent> events =
        ToRecords(crdt::EventsOf(diff, list.state));
    for (const v1::LogEvent& e : events) {
      entries.push_back(EntryOf(e, writer->replica));
    }
    item = ChangedItem(delta);
    list.pending.Merge(delta);
    // The change is durable here, with its pending delta, undo step and
    // history, before anything is reported or sent.
    if (absl::Status s = (*store)->Save(list, events); !s.ok()) return s;
    for (const auto& [key, category] : remember) {
      if (absl::Status s = (*store)->SetSetting(key, category); !s.ok()) {
        return s;
      }
    }
  }
  ChangeResult result;
  result.events = std::move(entries);
  result.sync = SyncList(**store, id, options_.change_timeout);
  absl::StatusOr<std::optional<LocalList>> list = (*store)->Load(id);
  if (!list.ok()) return list.status();
  if (*list) {
    result.list = InfoOf(**list);
  } else {
    result.list.id = id;
    result.list.title = result.sync.title;
  }
  if (!item.empty()) {
    result.item = FindItem(result.list, item);
    result.item_name = result.item ? result.item->name : item;
    if (!result.item && *list) {
      if (auto gone = (*list)->state.ItemAt(item))
        result.item_name = gone->name;
    }
  }
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

absl::StatusOr<std::vector<LogEntry>> Home::Log(absl::string_view typed,
                                                size_t limit) {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::MutexLock lock(&records_mu_);
  absl::StatusOr<LocalList> list = Resolve(**store, typed);
  if (!list.ok()) return list.status();
  absl::StatusOr<uint64_t> me = (*store)->ReplicaId();
  if (!me.ok()) return me.status();
  absl::StatusOr<std::vector<v1::LogEvent>> events =
      (*store)->Log(list->id, limit);
  if (!events.ok()) return events.status();
  std::vector<LogEntry> entries;
  for (const v1::LogEvent& e : *events) entries.push_back(EntryOf(e, *me));
  return entries;
}

absl::StatusOr<std::string> Home::PersonName() {
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::MutexLock lock(&records_mu_);
  absl::StatusOr<crdt::Writer> writer = WriterOf(**store);
  if (!writer.ok()) return writer.status();
  return writer->name;
}

absl::StatusOr<std::string> Home::SetPersonName(absl::string_view typed) {
  absl::StatusOr<std::string> name = codec::CleanName(typed, "name");
  if (!name.ok()) return name.status();
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::MutexLock lock(&records_mu_);
  if (absl::Status s = (*store)->SetSetting(kPersonNameSetting, *name);
      !s.ok()) {
    return s;
  }
  return *name;
}

absl::StatusOr<JoinResult> Home::Join(absl::string_view typed) {
  const std::string text = text::TrimSpace(typed);
  access::Link link;
  if (crdt::ValidateListId(text).ok()) {
    link.list_id = text;  // an open list's bare id
  } else {
    absl::StatusOr<access::Link> parsed = access::ParseLink(text);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", text,
          "' is neither a link nor a list id: ", parsed.status().message()));
    }
    link = *std::move(parsed);
  }
  const std::string& id = link.list_id;
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  JoinResult result;
  bool fresh = false;
  {
    absl::MutexLock lock(&records_mu_);
    absl::StatusOr<std::optional<LocalList>> existing = (*store)->Load(id);
    if (!existing.ok()) return existing.status();
    if (*existing) {
      LocalList& list = **existing;
      // A new link replaces this home's only when it gives more.
      if (link.secret.empty() || link.secret == list.secret ||
          (!list.access_lost && link.capability <= HeldBy(list))) {
        result.joined = false;
        result.list = InfoOf(list);
        result.sync =
            Report(list, list.on_server ? SyncReport::Outcome::kSynced
                                        : SyncReport::Outcome::kOffline);
        return result;
      }
      list.secret = link.secret;
      list.link_capability = link.capability;
      list.access_lost = false;
      if (absl::Status s = (*store)->Save(list); !s.ok()) return s;
    } else {
      LocalList list;
      list.id = id;
      list.awaiting_fetch = true;
      list.secret = link.secret;
      list.link_capability = link.capability;
      if (absl::Status s = (*store)->Save(list); !s.ok()) return s;
      fresh = true;
    }
  }
  bool not_found = false;
  result.sync = SyncList(**store, id, options_.sync_timeout, &not_found);
  switch (result.sync.outcome) {
    case SyncReport::Outcome::kDeletedElsewhere:
      return absl::NotFoundError(
          absl::StrCat("list ", id, " was deleted by its owners"));
    case SyncReport::Outcome::kFailed: {
      if (fresh) {
        absl::MutexLock lock(&records_mu_);
        (void)(*store)->Forget(id);
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
    crdt::ListState copy = list->state;
    if (absl::Status s = CheckLocally(*list, copy.Delete()); !s.ok()) return s;
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
  absl::StatusOr<Lease> store = Acquire();
  if (!store.ok()) return store.status();
  absl::MutexLock lock(&records_mu_);
  absl::StatusOr<LocalList> list = Resolve(**store, typed);
  if (!list.ok()) return list.status();
  return std::unique_ptr<ListWatch>(
      new WatchImpl(this, InfoOf(*list), list->secret, std::move(on_event),
                    std::move(on_interrupted)));
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
    const std::string title_before = InfoOf(list).title;
    const crdt::ListDiff diff = MergeRemote(list, delta);
    const std::vector<v1::LogEvent> events =
        ToRecords(crdt::EventsOf(diff, list.state));
    event.id = id;
    event.at = options_.clock();
    if (list.state.deleted()) {
      if (!(*store)->Forget(id).ok()) return true;
      event.title = title_before;
      event.deleted = true;
    } else {
      if (!(*store)->Save(list, events).ok()) return true;
      event.title = InfoOf(list).title;
      event.title_changed = diff.title_before.has_value();
      if (diff.aisles_before) {
        event.aisles_changed = true;
        event.aisles = diff.aisles_after;
      }
      for (const crdt::ItemChange& c : diff.items) {
        event.changes.push_back(
            {c.after.name, c.after.wanted, c.after.bought, !c.after.visible});
      }
      if (diff.empty()) return true;
    }
  }
  on_event(event);
  return !event.deleted;
}

}  // namespace shoplist::client
