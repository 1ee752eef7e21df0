#include "clients/cli/output.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/core/json.h"

namespace shoplist::cli {
namespace {

using client::ChangeResult;
using client::ListInfo;
using client::SyncReport;

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
    out_ << absl::StrFormat("%-26s  %-*s  %5s  %6s  %s\n", "ID", width, "TITLE",
                            "ITEMS", "TO BUY", "UNSYNCED");
    for (const ListInfo& l : lists) {
      out_ << absl::StrFormat("%-26s  %-*s  %5d  %6d  %d\n", l.id, width,
                              DisplayTitle(l), l.items.size(), l.to_buy(),
                              l.unsynced);
    }
  }

  void Show(const ListInfo& list) override {
    out_ << DisplayTitle(list) << "  (" << list.id << ")\n";
    if (list.items.empty()) {
      out_ << "  (no items)\n";
    } else {
      size_t width = 4;
      for (const auto& item : list.items) {
        width = std::max(width, item.name.size());
      }
      out_ << absl::StrFormat("  %-*s  %6s  %6s\n", width, "ITEM", "WANTED",
                              "BOUGHT");
      for (const auto& item : list.items) {
        out_ << absl::StrFormat("  %-*s  %6d  %6d%s\n", width, item.name,
                                item.wanted, item.bought,
                                item.done() ? "  done" : "");
      }
    }
    if (list.unsynced > 0) {
      out_ << "  " << list.unsynced << " change(s) not synced yet\n";
    }
  }

  void Share(const ListInfo& list) override {
    out_ << list.id << "\n";
    err_ << "anyone with this id can read and change '" << DisplayTitle(list)
         << "': shoplist-cli join " << list.id << "\n";
    if (!list.in_cloud) {
      err_ << "note: not in the cloud yet; run shoplist-cli sync when "
              "online\n";
    }
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
    Show(r.list);
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
  void Show(const ListInfo& list) override { Print(client::ShowJson(list)); }
  void Share(const ListInfo& list) override { Print(client::ShowJson(list)); }
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
