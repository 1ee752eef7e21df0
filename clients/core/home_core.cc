#include "clients/core/home_core.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "access/policy.h"
#include "clients/core/list_resolver.h"
#include "clients/core/suggest.h"
#include "codec/list_codec.h"
#include "codec/operation.h"
#include "crdt/list_diff.h"
#include "crdt/list_id.h"
#include "text/text.h"

namespace shoplist::client {
namespace {

constexpr char kPersonNameSetting[] = "person_name";

// The setting of the category this home remembers for an item key.
std::string CategoryKeySetting(absl::string_view key) {
  return absl::StrCat("category/", key);
}

std::string CategorySetting(absl::string_view item) {
  return CategoryKeySetting(text::ItemKey(item));
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

LogEntry EntryOf(const v1::LogEvent& r, std::optional<crdt::ReplicaId> me) {
  return LogEntry{r.kind(),
                  r.item(),
                  r.count(),
                  r.text(),
                  r.by_name(),
                  me.has_value() && r.by() == *me,
                  absl::FromUnixMicros(static_cast<int64_t>(r.at_micros()))};
}

// The list's title as InfoOf shows it, without building the whole view
// (which sorts every item).
std::string ShownTitle(const LocalList& list) {
  return list.state.title() ? list.state.title()->value : "";
}

SyncReport Report(const LocalList& list, SyncReport::Outcome outcome) {
  SyncReport report;
  report.id = list.id;
  report.title = ShownTitle(list);
  report.outcome = outcome;
  return report;
}

SyncReport Failed(std::string id, std::string error) {
  SyncReport report;
  report.id = std::move(id);
  report.outcome = SyncReport::Outcome::kFailed;
  report.error = std::move(error);
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

absl::Status NotFetchedError() {
  return absl::UnavailableError(
      "this list has not been fetched yet; sync when online");
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

// Merges what the cloud sent into `list` and returns what it changed.
crdt::ListDiff MergeRemote(LocalList& list, const crdt::ListState& delta) {
  // Most sync replies bring nothing: no copy of the state for them.
  if (delta.deleted() || list.state.deleted() || delta.carries_no_change()) {
    list.state.Merge(delta);
    return {};
  }
  const crdt::ListState before = list.state;
  list.state.Merge(delta);
  return crdt::Diff(before, list.state, delta);
}

std::array<uint8_t, 16> Bits(const Inputs& in, size_t from) {
  std::array<uint8_t, 16> bits;
  std::copy_n(in.random.begin() + from, bits.size(), bits.begin());
  return bits;
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

HomeCore::HomeCore(absl::string_view default_name) {
  absl::StatusOr<std::string> clean = codec::CleanName(default_name, "name");
  if (clean.ok()) default_name_ = *std::move(clean);
}

absl::Status HomeCore::Load(absl::string_view key, absl::string_view value) {
  if (key == kReplicaIdKey) {
    // A damaged id fails only what needs it (changes, the history), so the
    // lists can still be read and synced.
    absl::StatusOr<uint64_t> id = DecodeReplicaId(value);
    replica_damaged_ = id.status();
    if (id.ok()) replica_ = *id;
  } else if (absl::ConsumePrefix(&key, kSettingPrefix)) {
    settings_[std::string(key)] = std::string(value);
  } else if (absl::StartsWith(key, kLogPrefix)) {
    v1::LogEvent event;
    if (!event.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      return absl::DataLossError(
          absl::StrCat("history record ", key, " is damaged"));
    }
    log_[std::string(key)] = std::move(event);
  } else if (absl::ConsumePrefix(&key, kListPrefix)) {
    absl::StatusOr<LocalList> list = DecodeList(key, value);
    if (!list.ok()) return list.status();
    lists_[std::string(key)] = *std::move(list);
  }
  return absl::OkStatus();
}

// --- Reading ---

std::vector<std::string> HomeCore::ListIds() const {
  std::vector<std::string> ids;
  for (const auto& [id, list] : lists_) ids.push_back(id);
  return ids;
}

std::vector<ListInfo> HomeCore::Lists() const {
  std::vector<ListInfo> lists;
  for (const auto& [id, list] : lists_) lists.push_back(InfoOf(list));
  return lists;
}

const LocalList* HomeCore::Loaded(absl::string_view id) const {
  auto it = lists_.find(id);
  return it == lists_.end() ? nullptr : &it->second;
}

absl::StatusOr<std::string> HomeCore::Resolve(absl::string_view typed) const {
  const std::string name = text::TrimSpace(typed);
  if (Loaded(name) != nullptr) return name;
  std::vector<ListName> names;
  for (const auto& [id, list] : lists_) {
    names.push_back({id, list.state.title() ? list.state.title()->value : ""});
  }
  return ResolveList(name, names);
}

absl::StatusOr<LocalList> HomeCore::Find(absl::string_view typed) const {
  absl::StatusOr<std::string> id = Resolve(typed);
  if (!id.ok()) return id.status();
  return *Loaded(*id);
}

absl::StatusOr<ListInfo> HomeCore::Show(absl::string_view typed) const {
  absl::StatusOr<std::string> id = Resolve(typed);
  if (!id.ok()) return id.status();
  return InfoOf(*Loaded(*id));
}

std::optional<ListInfo> HomeCore::Info(absl::string_view id) const {
  const LocalList* list = Loaded(id);
  if (list == nullptr) return std::nullopt;
  return InfoOf(*list);
}

absl::StatusOr<ShareResult> HomeCore::Share(
    absl::string_view typed, std::optional<access::Capability> wanted) const {
  absl::StatusOr<std::string> id = Resolve(typed);
  if (!id.ok()) return id.status();
  const LocalList& list = *Loaded(*id);
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
    if (give != list.link_capability) return NotFetchedError();
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

absl::StatusOr<std::vector<LogEntry>> HomeCore::Log(absl::string_view typed,
                                                    size_t limit) const {
  absl::StatusOr<std::string> id = Resolve(typed);
  if (!id.ok()) return id.status();
  if (!replica_damaged_.ok()) return replica_damaged_;
  const std::string prefix = LogPrefix(*id);
  std::vector<LogEntry> entries;
  // Newest first: from just past the list's last key, backwards.
  for (auto it = std::make_reverse_iterator(log_.lower_bound(prefix + "~"));
       it != log_.rend() && absl::StartsWith(it->first, prefix) &&
       entries.size() < limit;
       ++it) {
    entries.push_back(EntryOf(it->second, replica_));
  }
  return entries;
}

std::vector<const v1::LogEvent*> HomeCore::History(absl::string_view id) const {
  const std::string prefix = LogPrefix(id);
  std::vector<const v1::LogEvent*> events;
  for (auto it = log_.lower_bound(prefix);
       it != log_.end() && absl::StartsWith(it->first, prefix); ++it) {
    events.push_back(&it->second);
  }
  return events;
}

std::string HomeCore::RememberedCategory(absl::string_view key) const {
  return Setting(CategoryKeySetting(key)).value_or("");
}

absl::StatusOr<std::vector<Suggestion>> HomeCore::Suggest(
    absl::string_view typed, absl::string_view list, size_t limit) const {
  std::string adding_to;
  if (!text::TrimSpace(list).empty()) {
    absl::StatusOr<std::string> id = Resolve(list);
    if (!id.ok()) return id.status();
    adding_to = *id;
  }
  std::vector<ListInfo> infos;
  infos.reserve(lists_.size());
  std::vector<ListHistory> histories;
  for (const auto& [id, local] : lists_) infos.push_back(InfoOf(local));
  for (const ListInfo& info : infos) {
    histories.push_back(ListHistory{&info, History(info.id)});
  }
  return client::Suggest(
      typed, histories, adding_to,
      [this](absl::string_view key) { return RememberedCategory(key); }, limit);
}

absl::StatusOr<std::vector<Suggestion>> HomeCore::BoughtBefore(
    absl::string_view typed, size_t limit) const {
  absl::StatusOr<ListInfo> info = Show(typed);
  if (!info.ok()) return info.status();
  return client::BoughtBefore(
      ListHistory{&*info, History(info->id)},
      [this](absl::string_view key) { return RememberedCategory(key); }, limit);
}

std::optional<std::string> HomeCore::Setting(const std::string& name) const {
  auto it = settings_.find(name);
  if (it == settings_.end()) return std::nullopt;
  return it->second;
}

std::string HomeCore::PersonName() const {
  return Setting(kPersonNameSetting).value_or(default_name_);
}

absl::StatusOr<crdt::CausalContext> HomeCore::Known(
    absl::string_view id) const {
  const LocalList* list = Loaded(id);
  if (list == nullptr) {
    return absl::NotFoundError("the list is no longer in this home");
  }
  return list->state.context();
}

bool HomeCore::NeedsSync(absl::string_view id) const {
  const LocalList* list = Loaded(id);
  return list != nullptr && (!list->pending.empty() || !list->on_server);
}

bool HomeCore::AwaitingFetch(absl::string_view id) const {
  const LocalList* list = Loaded(id);
  return list != nullptr && list->awaiting_fetch;
}

std::string HomeCore::Title(absl::string_view id) const {
  const LocalList* list = Loaded(id);
  return list == nullptr ? "" : ShownTitle(*list);
}

std::string HomeCore::Secret(absl::string_view id) const {
  const LocalList* list = Loaded(id);
  return list == nullptr ? "" : list->secret;
}

// --- Writing ---

absl::StatusOr<crdt::Writer> HomeCore::WriterFor(const Inputs& in,
                                                 Batch& batch) {
  if (!replica_damaged_.ok()) return replica_damaged_;
  if (!replica_) {
    uint64_t id = 0;
    for (size_t i = 0; i < 8; ++i) id |= uint64_t{in.random[i]} << (8 * i);
    replica_ = id == 0 ? 1 : id;
    batch.Put(std::string(kReplicaIdKey), EncodeReplicaId(*replica_));
  }
  crdt::Writer writer(*replica_);
  writer.name = PersonName();
  writer.now_micros = in.now_micros;
  return writer;
}

void HomeCore::Save(LocalList list, const std::vector<v1::LogEvent>& events,
                    Batch& batch) {
  const uint64_t first = list.log_next;
  SaveList(list, events, batch);
  for (size_t i = 0; i < events.size(); ++i) {
    log_[LogKey(list.id, first + i)] = events[i];
    if (first + i >= kMaxLogEvents) {
      log_.erase(LogKey(list.id, first + i - kMaxLogEvents));
    }
  }
  const std::string id = list.id;
  lists_[id] = std::move(list);
}

void HomeCore::Drop(absl::string_view id, Batch& batch) {
  ForgetList(id, batch);
  lists_.erase(std::string(id));
  const std::string prefix = LogPrefix(id);
  log_.erase(log_.lower_bound(prefix), log_.lower_bound(prefix + "~"));
}

void HomeCore::SetSetting(const std::string& name, std::string value,
                          Batch& batch) {
  batch.Put(SettingKey(name), value);
  settings_[name] = std::move(value);
}

absl::StatusOr<Applied<std::string>> HomeCore::SetPersonName(
    absl::string_view typed) {
  absl::StatusOr<std::string> name = codec::CleanName(typed, "name");
  if (!name.ok()) return name.status();
  Applied<std::string> applied{*name, {}};
  SetSetting(kPersonNameSetting, *std::move(name), applied.batch);
  return applied;
}

absl::StatusOr<Applied<MadeChange>> HomeCore::New(absl::string_view title,
                                                  const Inputs& in) {
  v1::Operation operation;
  operation.mutable_create()->set_title(std::string(title));
  Applied<MadeChange> applied;
  const uint64_t replica_before = replica_.value_or(0);
  absl::StatusOr<crdt::Writer> made_by = WriterFor(in, applied.batch);
  if (!made_by.ok()) return made_by.status();
  const crdt::Writer& writer = *made_by;
  LocalList list;
  list.id = crdt::SpellId(Bits(in, 8));
  absl::StatusOr<crdt::ListState> delta =
      codec::ApplyOperation(operation, writer, in.now_micros, list.state);
  // Closed from the start: this home holds the owner link.
  const access::NewAccess made =
      access::AccessAt(crdt::SpellId(Bits(in, 24)), 1);
  absl::StatusOr<crdt::ListState> record =
      delta.ok()
          ? list.state.SetAccess(writer, access::EncodeGrants(made.grants))
          : delta.status();
  if (!record.ok()) {
    if (replica_before == 0) replica_.reset();  // nothing changed after all
    return record.status();
  }
  delta->Merge(*record);
  list.pending = *std::move(delta);
  list.secret = made.owner_secret;
  list.link_capability = access::Capability::kOwner;
  applied.value.id = list.id;
  Save(std::move(list), {}, applied.batch);
  return applied;
}

absl::StatusOr<Applied<MadeChange>> HomeCore::Change(
    absl::string_view typed, std::vector<v1::Operation> operations,
    const Inputs& in, bool undo) {
  absl::StatusOr<LocalList> found = Find(typed);
  if (!found.ok()) return found.status();
  LocalList& list = *found;
  if (list.awaiting_fetch) return NotFetchedError();
  if (undo) {
    if (list.undo.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "nothing of this home's to undo in '", ShownTitle(list), "'"));
    }
    operations.assign(list.undo.back().operations().begin(),
                      list.undo.back().operations().end());
    list.undo.pop_back();
  }
  std::vector<std::pair<std::string, std::string>> remember;
  for (v1::Operation& op : operations) {
    if (op.has_add() && op.add().category().empty()) {
      if (auto category = Setting(CategorySetting(op.add().item()))) {
        op.mutable_add()->set_category(*category);
      }
    }
    if (op.has_category() && !undo) {
      remember.emplace_back(CategorySetting(op.category().item()),
                            op.category().category());
    }
  }
  Applied<MadeChange> applied;
  const std::optional<uint64_t> replica_before = replica_;
  absl::StatusOr<crdt::Writer> made_by = WriterFor(in, applied.batch);
  if (!made_by.ok()) return made_by.status();
  const crdt::Writer& writer = *made_by;
  const crdt::ListState before = list.state;
  crdt::ListState delta;
  absl::Status failed;
  for (const v1::Operation& op : operations) {
    absl::StatusOr<crdt::ListState> one =
        codec::ApplyOperation(op, writer, in.now_micros, list.state);
    if (!one.ok()) {
      if (undo) continue;  // that part no longer applies
      failed = one.status();
      break;
    }
    delta.Merge(*one);
  }
  if (failed.ok()) failed = CheckLocally(list, delta);
  if (!failed.ok()) {
    replica_ = replica_before;
    return failed;
  }
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
    applied.value.events.push_back(EntryOf(e, writer.replica));
  }
  applied.value.id = list.id;
  applied.value.item = ChangedItem(delta);
  list.pending.Merge(delta);
  // The change, its pending delta, undo step, history and the categories
  // it teaches, in one batch.
  Save(std::move(list), events, applied.batch);
  for (auto& [name, category] : remember) {
    SetSetting(name, std::move(category), applied.batch);
  }
  return applied;
}

ChangeResult HomeCore::Outcome(const MadeChange& change,
                               SyncReport sync) const {
  ChangeResult result;
  result.events = change.events;
  result.sync = std::move(sync);
  const LocalList* list = Loaded(change.id);
  if (list != nullptr) {
    result.list = InfoOf(*list);
  } else {
    result.list.id = change.id;
    result.list.title = result.sync.title;
  }
  if (!change.item.empty()) {
    result.item = FindItem(result.list, change.item);
    result.item_name = result.item ? result.item->name : change.item;
    if (!result.item && list != nullptr) {
      if (auto gone = list->state.ItemAt(change.item)) {
        result.item_name = gone->name;
      }
    }
  }
  return result;
}

absl::StatusOr<Applied<RevokeResult>> HomeCore::Revoke(absl::string_view typed,
                                                       const Inputs& in) {
  absl::StatusOr<LocalList> found = Find(typed);
  if (!found.ok()) return found.status();
  LocalList& list = *found;
  if (list.awaiting_fetch) return NotFetchedError();
  access::NewAccess next;
  if (IsOpen(list)) {
    next = access::AccessAt(crdt::SpellId(Bits(in, 24)), 1);
  } else if (HeldBy(list) != access::Capability::kOwner) {
    return absl::PermissionDeniedError(absl::StrCat(
        "revoking the links to '", TitleOf(list),
        "' needs its owner link; this home holds ",
        HeldBy(list) == access::Capability::kNone
            ? "a revoked link"
            : absl::StrCat("an ", access::CapabilityName(HeldBy(list)),
                           " link")));
  } else {
    absl::StatusOr<access::Grants> grants =
        access::DecodeGrants(list.state.access().value);
    if (!grants.ok()) return grants.status();
    absl::StatusOr<access::NewAccess> revoked =
        access::Revoke(*grants, list.secret);
    if (!revoked.ok()) return revoked.status();
    next = *std::move(revoked);
  }
  Applied<RevokeResult> applied;
  const std::optional<uint64_t> replica_before = replica_;
  absl::StatusOr<crdt::Writer> made_by = WriterFor(in, applied.batch);
  if (!made_by.ok()) return made_by.status();
  const crdt::Writer& writer = *made_by;
  const crdt::ListState before = list.state;
  absl::StatusOr<crdt::ListState> delta =
      list.state.SetAccess(writer, access::EncodeGrants(next.grants));
  if (!delta.ok()) {
    replica_ = replica_before;
    return delta.status();
  }
  const std::vector<v1::LogEvent> events = ToRecords(
      crdt::EventsOf(crdt::Diff(before, list.state, *delta), list.state));
  list.pending.Merge(*delta);
  list.secret = next.owner_secret;
  list.link_capability = access::Capability::kOwner;
  list.access_lost = false;
  applied.value.read_link = access::FormatLink(
      {list.id, access::Capability::kRead, next.read_secret});
  applied.value.edit_link = access::FormatLink(
      {list.id, access::Capability::kEdit, next.edit_secret});
  applied.value.list.id = list.id;
  Save(std::move(list), events, applied.batch);
  return applied;
}

absl::StatusOr<access::Link> ParseJoinLink(absl::string_view typed) {
  const std::string text = text::TrimSpace(typed);
  access::Link link;
  if (crdt::ValidateListId(text).ok()) {
    link.list_id = text;  // an open list's bare id
    return link;
  }
  absl::StatusOr<access::Link> parsed = access::ParseLink(text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text,
        "' is neither a link nor a list id: ", parsed.status().message()));
  }
  return parsed;
}

absl::StatusOr<Applied<JoinStart>> HomeCore::Join(absl::string_view typed) {
  absl::StatusOr<access::Link> parsed = ParseJoinLink(typed);
  if (!parsed.ok()) return parsed.status();
  const access::Link& link = *parsed;
  Applied<JoinStart> applied;
  applied.value.id = link.list_id;
  const LocalList* existing = Loaded(link.list_id);
  LocalList list;
  if (existing != nullptr) {
    // A new link replaces this home's only when it gives more.
    if (link.secret.empty() || link.secret == existing->secret ||
        (!existing->access_lost && link.capability <= HeldBy(*existing))) {
      JoinResult& done = applied.value.done.emplace();
      done.joined = false;
      done.list = InfoOf(*existing);
      done.sync = Report(*existing, existing->on_server
                                        ? SyncReport::Outcome::kSynced
                                        : SyncReport::Outcome::kOffline);
      return applied;
    }
    list = *existing;
  } else {
    list.id = link.list_id;
    list.awaiting_fetch = true;
    applied.value.fresh = true;
  }
  list.secret = link.secret;
  list.link_capability = link.capability;
  list.access_lost = false;
  Save(std::move(list), {}, applied.batch);
  return applied;
}

absl::StatusOr<Applied<ForgetResult>> HomeCore::Forget(absl::string_view typed,
                                                       bool drop_unsynced) {
  absl::StatusOr<std::string> id = Resolve(typed);
  if (!id.ok()) return id.status();
  Applied<ForgetResult> applied{ForgetResult{InfoOf(*Loaded(*id))}, {}};
  const ListInfo& list = applied.value.list;
  if (list.unsynced > 0 && !drop_unsynced) {
    return absl::FailedPreconditionError(absl::StrCat(
        "'", list.title, "' has ", list.unsynced,
        " unsynced change(s); sync first, or forget anyway to drop them"));
  }
  Drop(*id, applied.batch);
  return applied;
}

absl::StatusOr<Applied<DeleteResult>> HomeCore::Delete(
    absl::string_view typed) {
  absl::StatusOr<LocalList> found = Find(typed);
  if (!found.ok()) return found.status();
  LocalList& list = *found;
  Applied<DeleteResult> applied;
  applied.value.list = InfoOf(list);
  crdt::ListState copy = list.state;
  if (absl::Status s = CheckLocally(list, copy.Delete()); !s.ok()) return s;
  list.pending.Merge(list.state.Delete());
  if (!list.on_server) {
    // Never left this home: nothing to tell anyone.
    applied.value.sync = Report(list, SyncReport::Outcome::kDeleted);
    applied.value.sync.title = applied.value.list.title;
    Drop(list.id, applied.batch);
    return applied;
  }
  applied.value.sync = Report(list, SyncReport::Outcome::kOffline);
  Save(std::move(list), {}, applied.batch);
  return applied;
}

// --- Sync ---

absl::StatusOr<std::string> HomeCore::SyncRequest(absl::string_view id) const {
  const LocalList* list = Loaded(id);
  if (list == nullptr) {
    return absl::NotFoundError("the list is no longer in this home");
  }
  v1::SyncRequest request;
  request.set_list_id(list->id);
  codec::EncodeState(list->pending, request.mutable_delta());
  codec::EncodeContext(list->state.context(), request.mutable_known());
  request.set_create(!list->on_server && !list->awaiting_fetch);
  request.set_secret(list->secret);
  return request.SerializeAsString();
}

SyncReport HomeCore::OfflineReport(absl::string_view id) const {
  const LocalList* list = Loaded(id);
  if (list == nullptr) {
    SyncReport report;
    report.id = std::string(id);
    return report;
  }
  return Report(*list, SyncReport::Outcome::kOffline);
}

Applied<SyncReport> HomeCore::MergeSync(absl::string_view request_bytes,
                                        const SyncAnswer& answer,
                                        bool* not_found) {
  Applied<SyncReport> applied;
  v1::SyncRequest request;
  absl::StatusOr<crdt::ListState> sent =
      request.ParseFromArray(request_bytes.data(),
                             static_cast<int>(request_bytes.size()))
          ? codec::DecodeState(request.delta())
          : absl::InvalidArgumentError("a sync request that does not decode");
  const std::string& id = request.list_id();
  if (!sent.ok()) {
    applied.value = Failed(id, std::string(sent.status().message()));
    return applied;
  }
  const LocalList* loaded = Loaded(id);
  if (loaded == nullptr) {
    // Forgotten or deleted while the call was out.
    applied.value.id = id;
    applied.value.outcome = SyncReport::Outcome::kSynced;
    return applied;
  }
  LocalList current = *loaded;
  switch (answer.kind) {
    case SyncAnswer::Kind::kOffline:
      applied.value = Report(current, SyncReport::Outcome::kOffline);
      return applied;
    case SyncAnswer::Kind::kFailed:
      applied.value = Report(current, SyncReport::Outcome::kFailed);
      applied.value.error = answer.error;
      return applied;
    case SyncAnswer::Kind::kNotFound: {
      if (not_found != nullptr) *not_found = true;
      applied.value = Report(current, SyncReport::Outcome::kFailed);
      if (current.on_server && !IsOpen(current)) {
        // The cloud knew this list and this link: the link was revoked.
        // What the home has stays; nothing more is changed here.
        applied.value.error = std::string(RevokedError(current).message());
        if (!current.access_lost) {
          current.access_lost = true;
          Save(std::move(current), {}, applied.batch);
        }
      } else {
        applied.value.error = absl::StrCat(
            "no list ", id, " exists in the cloud, or the link is not valid");
      }
      return applied;
    }
    case SyncAnswer::Kind::kStored:
      break;
  }
  v1::SyncResponse response;
  absl::StatusOr<crdt::ListState> missing =
      response.ParseFromArray(answer.reply.data(),
                              static_cast<int>(answer.reply.size()))
          ? codec::DecodeState(response.missing())
          : absl::InvalidArgumentError("a sync reply that does not decode");
  if (!missing.ok()) {
    applied.value = Report(current, SyncReport::Outcome::kFailed);
    applied.value.error = std::string(missing.status().message());
    return applied;
  }
  const bool deleting = sent->deleted();
  const SyncReport before = Report(current, SyncReport::Outcome::kSynced);
  const size_t unsynced = current.UnsyncedChanges();
  const std::vector<v1::LogEvent> events =
      ToRecords(crdt::EventsOf(MergeRemote(current, *missing), current.state));
  // What was sent is acknowledged. Changes made while the call was out
  // stay pending (sent again next time: merging is idempotent).
  if (current.pending == *sent) current.pending = crdt::ListState();
  current.on_server = true;
  current.awaiting_fetch = false;
  current.access_lost = false;
  if (current.state.deleted()) {
    applied.value = before;
    applied.value.outcome = deleting ? SyncReport::Outcome::kDeleted
                                     : SyncReport::Outcome::kDeletedElsewhere;
    if (!deleting) applied.value.dropped_changes = unsynced;
    Drop(id, applied.batch);
    return applied;
  }
  applied.value = Report(current, SyncReport::Outcome::kSynced);
  Save(std::move(current), events, applied.batch);
  return applied;
}

// --- Watching ---

Applied<HomeCore::Watched> HomeCore::MergeWatched(absl::string_view id,
                                                  const crdt::ListState& delta,
                                                  const Inputs& in) {
  Applied<Watched> applied;
  const LocalList* loaded = Loaded(id);
  if (loaded == nullptr) {
    applied.value.keep_watching = false;  // forgotten meanwhile
    return applied;
  }
  LocalList list = *loaded;
  const std::string title_before = ShownTitle(list);
  const crdt::ListDiff diff = MergeRemote(list, delta);
  WatchEvent event;
  event.id = std::string(id);
  event.at = absl::FromUnixMicros(static_cast<int64_t>(in.now_micros));
  if (list.state.deleted()) {
    event.title = title_before;
    event.deleted = true;
    applied.value.event = std::move(event);
    applied.value.keep_watching = false;
    Drop(id, applied.batch);
    return applied;
  }
  const std::vector<v1::LogEvent> events =
      ToRecords(crdt::EventsOf(diff, list.state));
  event.title = ShownTitle(list);
  event.title_changed = diff.title_before.has_value();
  if (diff.aisles_before) {
    event.aisles_changed = true;
    event.aisles = diff.aisles_after;
  }
  for (const crdt::ItemChange& c : diff.items) {
    event.changes.push_back(
        {c.after.name, c.after.wanted, c.after.bought, !c.after.visible});
  }
  if (!diff.empty()) applied.value.event = std::move(event);
  Save(std::move(list), events, applied.batch);
  return applied;
}

}  // namespace shoplist::client
