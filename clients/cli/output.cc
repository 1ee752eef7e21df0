#include "clients/cli/output.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/core/json.h"

namespace shoplist::cli {
namespace {

using client::ChangeResult;
using client::ListInfo;
using client::SyncReport;

// Columns count characters, not bytes ("Äpfel" is 5 wide). Close enough
// for names in Latin, Cyrillic or Greek; wide CJK glyphs stay narrower.
size_t Width(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string PadRight(const std::string& s, size_t width) {
  const size_t w = Width(s);
  return w >= width ? s : s + std::string(width - w, ' ');
}

std::string DisplayTitle(const ListInfo& list) {
  switch (list.phase) {
    case ListInfo::Phase::kDeleting:
      return "(deleted; not synced yet)";
    case ListInfo::Phase::kAwaitingFetch:
      return "(not fetched yet)";
    case ListInfo::Phase::kReady:
      break;
  }
  return list.title;
}

// "when" in a person's words: the time today, the date otherwise.
std::string When(absl::Time t, absl::Time now) {
  if (t <= absl::UnixEpoch()) return "some time ago";
  const absl::TimeZone zone = absl::LocalTimeZone();
  const bool today = absl::FormatTime("%Y-%m-%d", t, zone) ==
                     absl::FormatTime("%Y-%m-%d", now, zone);
  return absl::FormatTime(today ? "%H:%M" : "%Y-%m-%d %H:%M", t, zone);
}

std::string Who(const std::string& by, bool by_me) {
  if (by_me) return by.empty() ? "you" : by + " (you)";
  return by.empty() ? "someone" : by;
}

// One history event as a sentence without its subject.
std::string Describe(const client::LogEntry& e) {
  if (e.kind == "add") return absl::StrFormat("added %d %s", e.count, e.item);
  if (e.kind == "remove") {
    return absl::StrFormat("wants %d fewer %s", e.count, e.item);
  }
  if (e.kind == "take_off") return absl::StrFormat("took %s off", e.item);
  if (e.kind == "buy") return absl::StrFormat("bought %d %s", e.count, e.item);
  if (e.kind == "unbuy") {
    return absl::StrFormat("unmarked %d %s as bought", e.count, e.item);
  }
  if (e.kind == "note") {
    return e.text.empty() ? absl::StrFormat("cleared the note of %s", e.item)
                          : absl::StrFormat("noted %s: %s", e.item, e.text);
  }
  if (e.kind == "category") {
    return absl::StrFormat("put %s in %s", e.item, e.text);
  }
  if (e.kind == "rename")
    return absl::StrFormat("renamed the list '%s'", e.text);
  if (e.kind == "aisles") {
    return e.text.empty() ? "cleared the aisle order"
                          : absl::StrFormat("set the aisles: %s", e.text);
  }
  if (e.kind == "access") return "revoked the list's links";
  return e.kind;
}

class TextOutput final : public Output {
 public:
  TextOutput(std::ostream& out, std::ostream& err, std::string proxies)
      : out_(out), err_(err), proxies_(std::move(proxies)) {}

  void Lists(const std::vector<ListInfo>& lists) override {
    if (lists.empty()) {
      out_ << "no lists yet: shoplist-cli new TITLE, or shoplist-cli join "
              "ID\n";
      return;
    }
    size_t width = 5;
    for (const ListInfo& l : lists) {
      width = std::max(width, DisplayTitle(l).size());
    }
    out_ << absl::StrFormat("%-26s  %-*s  %5s  %6s  %-7s  %s\n", "ID", width,
                            "TITLE", "ITEMS", "TO BUY", "ACCESS", "UNSYNCED");
    for (const ListInfo& l : lists) {
      out_ << absl::StrFormat("%-26s  %-*s  %5d  %6d  %-7s  %d\n", l.id, width,
                              DisplayTitle(l), l.items.size(), l.to_buy(),
                              client::AccessName(l.access), l.unsynced);
    }
  }

  void Show(const ListInfo& list, bool verbose) override {
    out_ << DisplayTitle(list) << "  (" << list.id << ")\n";
    if (list.items.empty()) out_ << "  (no items)\n";
    size_t width = 4;
    for (const auto& item : list.items) {
      width = std::max(width, Width(item.name));
    }
    const absl::Time now = absl::Now();
    // Items come in display order: to buy first, grouped by aisle, then
    // the bought ones.
    bool in_bought = false;
    const std::string* group = nullptr;
    for (const auto& item : list.items) {
      if (item.done() && !in_bought) {
        in_bought = true;
        group = nullptr;
        out_ << "  bought\n";
      }
      if (!in_bought && (group == nullptr || *group != item.category)) {
        group = &item.category;
        out_ << "  " << item.category << "\n";
      }
      std::string amount =
          item.bought > 0
              ? absl::StrFormat("%d of %d", item.bought, item.wanted)
              : absl::StrFormat("%d", item.wanted);
      out_ << "    " << PadRight(item.name, width)
           << absl::StrFormat("  %8s", amount);
      if (verbose) {
        out_ << "   " << Who(item.changed_by, false) << ", "
             << When(item.changed_at, now);
      }
      out_ << "\n";
      if (!item.note.empty()) out_ << "      " << item.note << "\n";
    }
    if (list.unsynced > 0) {
      out_ << "  " << list.unsynced << " change(s) not synced yet\n";
    }
    switch (list.access) {
      case client::Access::kRead:
        out_ << "  read-only: this home can see and watch the list\n";
        break;
      case client::Access::kRevoked:
        out_ << "  revoked: the cloud no longer takes this home's link; "
                "join a new one\n";
        break;
      case client::Access::kEdit:
        out_ << "  edit: this home can change the list, not delete it\n";
        break;
      case client::Access::kOpen:
        out_ << "  open: anyone with its id can change it (share --revoke "
                "closes it)\n";
        break;
      case client::Access::kOwner:
        break;
    }
  }

  void Share(const client::ShareResult& r) override {
    out_ << r.link << "\n";
    const std::string title = DisplayTitle(r.list);
    switch (r.gives) {
      case client::Access::kOpen:
        err_ << "anyone with this id can read and change '" << title
             << "' (share --revoke closes it)";
        break;
      case client::Access::kRead:
        err_ << "whoever joins this link can see and watch '" << title
             << "', not change it";
        break;
      case client::Access::kOwner:
        err_ << "whoever joins this link owns '" << title
             << "': they can revoke links and delete it";
        break;
      default:
        err_ << "whoever joins this link can read and change '" << title << "'";
        break;
    }
    err_ << ": shoplist-cli join " << r.link << "\n";
    if (!r.list.in_cloud) {
      err_ << "note: not in the cloud yet; run shoplist-cli sync when "
              "online\n";
    }
  }

  void Revoke(const client::RevokeResult& r) override {
    out_ << "edit: " << r.edit_link << "\n"
         << "read: " << r.read_link << "\n";
    err_ << "every earlier read and edit link to '" << DisplayTitle(r.list)
         << "' stops working as the cloud learns of this; owner links stay\n";
    Note(r.sync, "the revocation is saved in this home and will sync later");
  }

  void Change(ChangeKind kind, const ChangeResult& r,
              std::optional<int64_t> count) override {
    const std::string title = DisplayTitle(r.list);
    const std::string& name = r.item_name;
    switch (kind) {
      case ChangeKind::kNew:
        out_ << r.list.id << "\n";
        break;
      case ChangeKind::kAdd:
        if (r.item) {
          out_ << "added " << count.value_or(1) << " " << name << " to '"
               << title << "' (wanted " << r.item->wanted << ")\n";
        }
        break;
      case ChangeKind::kRemove:
        if (!r.item) {
          out_ << "removed " << name << " from '" << title << "'\n";
        } else {
          out_ << name << " in '" << title << "': wanted " << r.item->wanted
               << "\n";
        }
        break;
      case ChangeKind::kBuy:
        if (r.item) {
          out_ << name << " in '" << title << "': bought " << r.item->bought
               << " of " << r.item->wanted << "\n";
        }
        break;
      case ChangeKind::kRename:
        out_ << "renamed " << r.list.id << " to '" << r.list.title << "'\n";
        break;
      case ChangeKind::kUnbuy:
      case ChangeKind::kNote:
      case ChangeKind::kCategory:
      case ChangeKind::kAisles:
      case ChangeKind::kClear:
      case ChangeKind::kUndo:
        if (r.events.empty()) {
          out_ << "nothing to change in '" << title << "'\n";
        }
        for (const client::LogEntry& e : r.events) {
          out_ << (kind == ChangeKind::kUndo ? "undone: " : "") << Describe(e)
               << " in '" << title << "'\n";
        }
        break;
    }
    Note(r.sync, "changes are saved in this home and will sync later");
  }

  void Join(const client::JoinResult& r) override {
    if (!r.joined) {
      err_ << "already in this home: '" << DisplayTitle(r.list) << "'\n";
      return;
    }
    if (r.sync.outcome == SyncReport::Outcome::kOffline) {
      err_ << "offline: joined " << r.list.id
           << "; the list fills in at the next sync\n";
      return;
    }
    Show(r.list, false);
  }

  void Sync(const std::vector<SyncReport>& reports) override {
    int synced = 0;
    bool offline = false;
    for (const SyncReport& r : reports) {
      if (r.outcome == SyncReport::Outcome::kOffline) {
        offline = true;
        continue;
      }
      if (r.outcome != SyncReport::Outcome::kFailed) ++synced;
      Note(r, "");
    }
    if (offline) {
      err_ << "offline: no proxy answered (" << proxies_
           << "); nothing lost, changes stay in this home\n";
    }
    err_ << "synced " << synced << " list(s)\n";
  }

  void Log(const ListInfo& list,
           const std::vector<client::LogEntry>& entries) override {
    if (entries.empty()) {
      out_ << "no changes recorded for '" << DisplayTitle(list) << "' yet\n";
    }
    const absl::Time now = absl::Now();
    for (const client::LogEntry& e : entries) {
      out_ << absl::StrFormat("%16s  %s %s\n", When(e.at, now),
                              Who(e.by, e.by_me), Describe(e));
    }
  }

  void Suggest(absl::string_view typed,
               const std::vector<client::Suggestion>& found) override {
    if (found.empty()) {
      out_ << "no name this home used before matches '" << typed << "'\n";
    }
    PrintSuggestions(found, /*when=*/false);
  }

  void Again(const ListInfo& list,
             const std::vector<client::Suggestion>& bought) override {
    if (bought.empty()) {
      out_ << "nothing bought on '" << DisplayTitle(list)
           << "' is off it yet: what 'clear' takes off shows here\n";
      return;
    }
    PrintSuggestions(bought, /*when=*/true);
    err_ << "to add one again: shoplist-cli add '" << DisplayTitle(list)
         << "' NAME COUNT\n";
  }

  void Aisles(const ListInfo& list) override {
    if (list.aisles.empty()) {
      out_ << "no aisle order for '" << DisplayTitle(list)
           << "': categories show alphabetically, Other last\n";
      return;
    }
    for (size_t i = 0; i < list.aisles.size(); ++i) {
      out_ << i + 1 << ". " << list.aisles[i] << "\n";
    }
  }

  void Name(const std::string& name) override { out_ << name << "\n"; }

  void Forget(const client::ForgetResult& r) override {
    err_ << "forgot '" << DisplayTitle(r.list)
         << "' in this home (the list itself stays; join " << r.list.id
         << " to get it back)\n";
  }

  void Delete(const client::DeleteResult& r) override {
    switch (r.sync.outcome) {
      case SyncReport::Outcome::kOffline:
        err_ << "offline: " << r.list.id
             << " will be deleted for everyone at the next sync\n";
        break;
      case SyncReport::Outcome::kDeletedElsewhere:
        err_ << "'" << r.list.title << "' (" << r.list.id
             << ") was already deleted by someone else\n";
        break;
      default:
        Note(r.sync, "");
    }
  }

  void NotDeleted() override { err_ << "not deleted\n"; }

  void Watching(const ListInfo& list) override {
    err_ << "watching '" << DisplayTitle(list) << "' (" << list.id
         << "); Ctrl-C to stop" << std::endl;
  }

  void Event(const client::WatchEvent& e) override {
    if (e.deleted) {
      err_ << "'" << e.title << "' was deleted" << std::endl;
      return;
    }
    const std::string stamp =
        absl::FormatTime("%H:%M:%S ", e.at, absl::LocalTimeZone());
    if (e.title_changed) out_ << stamp << "title: " << e.title << "\n";
    if (e.aisles_changed) {
      out_ << stamp << "aisles: " << absl::StrJoin(e.aisles, ", ") << "\n";
    }
    for (const auto& c : e.changes) {
      if (c.removed) {
        out_ << stamp << c.name << ": removed\n";
      } else {
        out_ << stamp << c.name << ": wanted " << c.wanted << ", bought "
             << c.bought << "\n";
      }
    }
    out_.flush();
  }

  void Interrupted(const absl::Status& why) override {
    err_ << "watch interrupted (" << why.message() << "); reconnecting"
         << std::endl;
  }

  void Error(const absl::Status& status) override {
    err_ << "shoplist-cli: " << status.message() << "\n";
  }

 private:
  // One a line: how many, the name, its aisle; `when`: when it was bought.
  void PrintSuggestions(const std::vector<client::Suggestion>& found,
                        bool when) {
    size_t width = 4;
    for (const client::Suggestion& s : found) {
      width = std::max(width, s.name.size());
    }
    const absl::Time now = absl::Now();
    for (const client::Suggestion& s : found) {
      out_ << absl::StrFormat("%4d  %-*s  %s", s.count, static_cast<int>(width),
                              s.name, s.category.empty() ? "-" : s.category);
      if (when) out_ << "  (" << When(s.last, now) << ")";
      out_ << "\n";
    }
  }

  // What a person should know about a sync that went with a command.
  void Note(const SyncReport& r, const std::string& offline_note) {
    switch (r.outcome) {
      case SyncReport::Outcome::kSynced:
        break;
      case SyncReport::Outcome::kOffline:
        if (!offline_note.empty()) {
          err_ << "offline: no proxy answered (" << proxies_ << "); "
               << offline_note << "\n";
        }
        break;
      case SyncReport::Outcome::kDeletedElsewhere:
        err_ << "'" << r.title << "' (" << r.id
             << ") was deleted by someone else; removed from this home\n";
        if (r.dropped_changes > 0) {
          err_ << "  " << r.dropped_changes
               << " unsynced change(s) to it were dropped with it\n";
        }
        break;
      case SyncReport::Outcome::kDeleted:
        err_ << "deleted " << r.id << " for everyone\n";
        break;
      case SyncReport::Outcome::kFailed:
        err_ << "shoplist-cli: sync of " << r.id << " failed: " << r.error
             << "\n";
        break;
    }
  }

  std::ostream& out_;
  std::ostream& err_;
  const std::string proxies_;
};

class JsonOutput final : public Output {
 public:
  JsonOutput(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}

  void Lists(const std::vector<ListInfo>& lists) override {
    Print(client::ListsJson(lists));
  }
  void Show(const ListInfo& list, bool) override {
    Print(client::ShowJson(list));
  }
  void Share(const client::ShareResult& r) override {
    Print(client::ShareJson(r));
  }
  void Revoke(const client::RevokeResult& r) override {
    Print(client::RevokeJson(r));
  }
  void Change(ChangeKind, const ChangeResult& r,
              std::optional<int64_t>) override {
    Print(client::ChangeJson(r));
  }
  void Join(const client::JoinResult& r) override {
    Print(client::JoinJson(r));
  }
  void Sync(const std::vector<SyncReport>& reports) override {
    Print(client::SyncJson(reports));
  }
  void Log(const ListInfo& list,
           const std::vector<client::LogEntry>& entries) override {
    Print(client::LogJson(list, entries));
  }
  void Suggest(absl::string_view,
               const std::vector<client::Suggestion>& found) override {
    Print(client::SuggestJson(found));
  }
  void Again(const ListInfo& list,
             const std::vector<client::Suggestion>& bought) override {
    Print(client::AgainJson(list, bought));
  }
  void Aisles(const ListInfo& list) override {
    Print(client::AislesJson(list));
  }
  void Name(const std::string& name) override { Print(client::NameJson(name)); }
  void Forget(const client::ForgetResult& r) override {
    Print(client::ForgetJson(r));
  }
  void Delete(const client::DeleteResult& r) override {
    Print(client::DeleteJson(r));
  }
  void NotDeleted() override { Error(absl::CancelledError("not deleted")); }
  void Watching(const ListInfo&) override {}
  // One line per event (JSON Lines).
  void Event(const client::WatchEvent& e) override {
    out_ << client::ToJson(e).dump() << std::endl;
  }
  void Interrupted(const absl::Status& why) override {
    err_ << "watch interrupted (" << why.message() << "); reconnecting"
         << std::endl;
  }
  void Error(const absl::Status& status) override {
    Print(client::ErrorJson(status));
    err_ << "shoplist-cli: " << status.message() << "\n";
  }

 private:
  void Print(const client::Json& json) { out_ << json.dump() << "\n"; }

  std::ostream& out_;
  std::ostream& err_;
};

}  // namespace

std::unique_ptr<Output> NewTextOutput(std::ostream& out, std::ostream& err,
                                      std::string proxies) {
  return std::make_unique<TextOutput>(out, err, std::move(proxies));
}

std::unique_ptr<Output> NewJsonOutput(std::ostream& out, std::ostream& err) {
  return std::make_unique<JsonOutput>(out, err);
}

}  // namespace shoplist::cli
