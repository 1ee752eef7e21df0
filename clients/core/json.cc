#include "clients/core/json.h"

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace shoplist::client {
namespace {

const char* PhaseName(ListInfo::Phase phase) {
  switch (phase) {
    case ListInfo::Phase::kReady:
      return "ready";
    case ListInfo::Phase::kAwaitingFetch:
      return "awaiting_fetch";
    case ListInfo::Phase::kDeleting:
      return "deleting";
  }
  return "ready";
}

const char* OutcomeName(SyncReport::Outcome outcome) {
  switch (outcome) {
    case SyncReport::Outcome::kSynced:
      return "synced";
    case SyncReport::Outcome::kOffline:
      return "offline";
    case SyncReport::Outcome::kDeletedElsewhere:
      return "deleted_elsewhere";
    case SyncReport::Outcome::kDeleted:
      return "deleted";
    case SyncReport::Outcome::kFailed:
      return "failed";
  }
  return "failed";
}

// "2026-12-06T09:30:00+00:00". By hand rather than absl::FormatTime: its
// time zone code is a tenth of the WebAssembly module, for UTC alone.
std::string Rfc3339(absl::Time t) {
  using std::chrono::days;
  using std::chrono::floor;
  using std::chrono::seconds;
  const std::chrono::sys_seconds at{seconds{absl::ToUnixSeconds(t)}};
  const std::chrono::sys_days day = floor<days>(at);
  const std::chrono::year_month_day date{day};
  const int64_t second = (at - day).count();
  const auto two = [](int64_t n) { return absl::StrCat(n < 10 ? "0" : "", n); };
  return absl::StrCat(static_cast<int>(date.year()), "-",
                      two(static_cast<unsigned>(date.month())), "-",
                      two(static_cast<unsigned>(date.day())), "T",
                      two(second / 3600), ":", two(second / 60 % 60), ":",
                      two(second % 60), "+00:00");
}

// Times before any change was timed (states from earlier versions) are
// unknown: null.
Json TimeOrNull(absl::Time t) {
  return t <= absl::UnixEpoch() ? Json() : Json(Rfc3339(t));
}

}  // namespace

Json ToJson(const ItemInfo& item) {
  return {{"name", item.name},
          {"wanted", item.wanted},
          {"bought", item.bought},
          {"done", item.done()},
          {"note", item.note},
          {"category", item.category},
          {"changed_by", item.changed_by},
          {"changed_at", TimeOrNull(item.changed_at)}};
}

Json ToJson(const LogEntry& entry) {
  return {
      {"kind", entry.kind},        {"item", entry.item}, {"count", entry.count},
      {"text", entry.text},        {"by", entry.by},     {"by_me", entry.by_me},
      {"at", TimeOrNull(entry.at)}};
}

Json ToJson(const Suggestion& s) {
  return {{"name", s.name},
          {"category", s.category},
          {"count", s.count},
          {"uses", s.uses},
          {"last", TimeOrNull(s.last)}};
}

Json ToJson(const ListInfo& list) {
  Json items = Json::array();
  for (const ItemInfo& item : list.items) items.push_back(ToJson(item));
  return {{"id", list.id},
          {"title", list.title},
          {"phase", PhaseName(list.phase)},
          {"items", std::move(items)},
          {"aisles", list.aisles},
          {"to_buy", list.to_buy()},
          {"unsynced", list.unsynced},
          {"in_cloud", list.in_cloud},
          {"access", AccessName(list.access)},
          {"undoable", list.undoable}};
}

Json ToJson(const SyncReport& report) {
  return {{"id", report.id},
          {"title", report.title},
          {"outcome", OutcomeName(report.outcome)},
          {"dropped_changes", report.dropped_changes},
          {"error", report.error}};
}

Json ToJson(const WatchEvent& event) {
  Json changes = Json::array();
  for (const WatchEvent::Change& c : event.changes) {
    changes.push_back({{"name", c.name},
                       {"wanted", c.wanted},
                       {"bought", c.bought},
                       {"removed", c.removed}});
  }
  return {{"id", event.id},
          {"title", event.title},
          {"at", Rfc3339(event.at)},
          {"title_changed", event.title_changed},
          {"aisles_changed", event.aisles_changed},
          {"aisles", event.aisles},
          {"changes", std::move(changes)},
          {"deleted", event.deleted}};
}

Json ErrorJson(const absl::Status& status) {
  return {{"error", std::string(status.message())},
          {"code", absl::StatusCodeToString(status.code())}};
}

Json ListsJson(const std::vector<ListInfo>& lists) {
  Json all = Json::array();
  for (const ListInfo& list : lists) all.push_back(ToJson(list));
  return {{"lists", std::move(all)}};
}

Json ShowJson(const ListInfo& list) { return {{"list", ToJson(list)}}; }

Json ShareJson(const ShareResult& result) {
  return {{"list", ToJson(result.list)},
          {"link", result.link},
          {"gives", AccessName(result.gives)}};
}

Json RevokeJson(const RevokeResult& result) {
  return {{"list", ToJson(result.list)},
          {"link", result.edit_link},
          {"links", {{"read", result.read_link}, {"edit", result.edit_link}}},
          {"sync", ToJson(result.sync)}};
}

Json ChangeJson(const ChangeResult& result) {
  Json events = Json::array();
  for (const LogEntry& e : result.events) events.push_back(ToJson(e));
  return {{"list", ToJson(result.list)},
          {"item_name", result.item_name},
          {"item", result.item ? ToJson(*result.item) : Json()},
          {"events", std::move(events)},
          {"sync", ToJson(result.sync)}};
}

Json JoinJson(const JoinResult& result) {
  return {{"list", ToJson(result.list)},
          {"joined", result.joined},
          {"sync", ToJson(result.sync)}};
}

Json SyncJson(const std::vector<SyncReport>& reports) {
  Json all = Json::array();
  for (const SyncReport& report : reports) all.push_back(ToJson(report));
  return {{"results", std::move(all)}};
}

Json ForgetJson(const ForgetResult& result) {
  return {{"forgotten", ToJson(result.list)}};
}

Json DeleteJson(const DeleteResult& result) {
  return {{"deleted", ToJson(result.list)}, {"sync", ToJson(result.sync)}};
}

Json LogJson(const ListInfo& list, const std::vector<LogEntry>& entries) {
  Json events = Json::array();
  for (const LogEntry& e : entries) events.push_back(ToJson(e));
  return {
      {"id", list.id}, {"title", list.title}, {"events", std::move(events)}};
}

Json AislesJson(const ListInfo& list) {
  return {{"id", list.id}, {"title", list.title}, {"aisles", list.aisles}};
}

Json NameJson(const std::string& name) { return {{"name", name}}; }

namespace {
Json SuggestionsJson(const std::vector<Suggestion>& suggestions) {
  Json out = Json::array();
  for (const Suggestion& s : suggestions) out.push_back(ToJson(s));
  return out;
}
}  // namespace

Json SuggestJson(const std::vector<Suggestion>& suggestions) {
  return {{"suggestions", SuggestionsJson(suggestions)}};
}

Json AgainJson(const ListInfo& list, const std::vector<Suggestion>& bought) {
  return {{"id", list.id},
          {"title", list.title},
          {"items", SuggestionsJson(bought)}};
}

}  // namespace shoplist::client
