#include "clients/cli/cli.h"

#include <algorithm>
#include <atomic>
#include <istream>
#include <map>
#include <ostream>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"

namespace shoplist::cli {
namespace {

std::string Title(const LocalList& list) {
  if (list.state.deleted()) return "(deleted; not synced yet)";
  if (list.state.title()) return list.state.title()->value;
  return list.awaiting_fetch ? "(not fetched yet)" : "";
}

void PrintItemsJson(std::ostream& out, const crdt::ListView& view) {
  out << "[";
  for (size_t i = 0; i < view.items.size(); ++i) {
    const crdt::ItemView& item = view.items[i];
    out << (i ? ", " : "") << "{\"name\": " << JsonString(item.name)
        << ", \"wanted\": " << item.wanted << ", \"bought\": " << item.bought
        << "}";
  }
  out << "]";
}

}  // namespace

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

Cli::Cli(CliOptions options, std::ostream& out, std::ostream& err,
         std::istream& in)
    : options_(std::move(options)), out_(out), err_(err), in_(in) {
  engine_factory_ = [proxies = options_.proxies](absl::Duration timeout) {
    return std::make_unique<SyncEngine>(NewListStubs(proxies), timeout);
  };
}

uint64_t Cli::NowMicros() const {
  return static_cast<uint64_t>(absl::ToUnixMicros(options_.clock()));
}

int Cli::Fail(const absl::Status& status) {
  err_ << "shoplist-cli: " << status.message() << "\n";
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

absl::StatusOr<std::unique_ptr<LocalStore>> Cli::OpenStore() {
  return LocalStore::Open(options_.home);
}

absl::StatusOr<LocalList> Cli::Resolve(LocalStore& store,
                                       const std::string& list) {
  if (crdt::ValidateListId(list).ok()) {
    absl::StatusOr<std::optional<LocalList>> found = store.Load(list);
    if (!found.ok()) return found.status();
    if (*found) return **found;
  }
  absl::StatusOr<std::vector<std::string>> ids = store.ListIds();
  if (!ids.ok()) return ids.status();
  std::vector<LocalList> by_prefix, by_title;
  for (const std::string& id : *ids) {
    absl::StatusOr<std::optional<LocalList>> candidate = store.Load(id);
    if (!candidate.ok()) return candidate.status();
    if (!*candidate) continue;
    if (!list.empty() && absl::StartsWith(id, list)) {
      by_prefix.push_back(**candidate);
    }
    if (Title(**candidate) == list) by_title.push_back(**candidate);
  }
  for (const auto* matches : {&by_prefix, &by_title}) {
    if (matches->size() == 1) return matches->front();
    if (matches->size() > 1) {
      std::string names;
      for (const LocalList& l : *matches) {
        absl::StrAppend(&names, "\n  ", l.id, "  ", Title(l));
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "'", list,
          "' matches more than one list; use more of the id:", names));
    }
  }
  return absl::NotFoundError(absl::StrCat(
      "no list '", list, "' in this home (see: shoplist-cli lists)"));
}

std::optional<SyncOutcome> Cli::SyncAndReport(LocalStore& store,
                                              LocalList& list,
                                              SyncEngine& engine,
                                              bool quiet_when_offline) {
  const size_t unsynced = list.UnsyncedChanges();
  const bool deleting = list.pending.deleted();
  const std::string title = Title(list);
  LocalList synced = list;
  absl::StatusOr<SyncOutcome> outcome = engine.Sync(synced);
  if (!outcome.ok()) {
    err_ << "shoplist-cli: sync of " << list.id
         << " failed: " << outcome.status().message() << "\n";
    return std::nullopt;
  }
  switch (*outcome) {
    case SyncOutcome::kOffline:
      if (!quiet_when_offline) {
        err_ << "offline: no proxy answered (" << options_.proxies
             << "); changes are saved in this home and will sync later\n";
      }
      break;
    case SyncOutcome::kNotFound:
      err_ << "shoplist-cli: no list " << list.id << " exists in the cloud\n";
      return std::nullopt;
    case SyncOutcome::kDeleted:
      if (absl::Status s = store.Forget(list.id); !s.ok()) {
        err_ << "shoplist-cli: " << s.message() << "\n";
        return std::nullopt;
      }
      if (deleting) {
        err_ << "deleted " << list.id << " for everyone\n";
      } else {
        err_ << "'" << title << "' (" << list.id
             << ") was deleted by someone else; removed from this home\n";
        if (unsynced > 0) {
          err_ << "  " << unsynced
               << " unsynced change(s) to it were dropped with it\n";
        }
      }
      list = synced;
      break;
    case SyncOutcome::kSynced:
      if (absl::Status s = store.Save(synced); !s.ok()) {
        err_ << "shoplist-cli: " << s.message() << "\n";
        return std::nullopt;
      }
      list = synced;
      break;
  }
  return *outcome;
}

int Cli::Change(const std::string& list_name,
                const std::function<absl::StatusOr<crdt::ListState>(
                    crdt::ListState&, uint64_t)>& change,
                const std::function<void(const LocalList&)>& done) {
  absl::StatusOr<std::unique_ptr<LocalStore>> store = OpenStore();
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<LocalList> list = Resolve(**store, list_name);
  if (!list.ok()) return Fail(list.status());
  std::unique_ptr<SyncEngine> engine = engine_factory_(options_.change_timeout);
  if (list->awaiting_fetch) {
    // Fetch first, so the change applies to what the list really holds.
    SyncAndReport(**store, *list, *engine, true);
    if (list->awaiting_fetch) {
      return Fail(absl::UnavailableError(
          "this list has not been fetched yet; run shoplist-cli sync when "
          "online"));
    }
  }
  absl::StatusOr<uint64_t> replica = (*store)->ReplicaId();
  if (!replica.ok()) return Fail(replica.status());
  absl::StatusOr<crdt::ListState> delta = change(list->state, *replica);
  if (!delta.ok()) return Fail(delta.status());
  list->pending.Merge(*delta);
  // The change is durable here, with its pending delta, before anything is
  // reported or sent.
  if (absl::Status s = (*store)->Save(*list); !s.ok()) return Fail(s);
  done(*list);
  return SyncAndReport(**store, *list, *engine, false) ? 0 : 1;
}

int Cli::New(const std::string& title) {
  absl::StatusOr<std::string> id = crdt::NewListId();
  if (!id.ok()) return Fail(id.status());
  absl::StatusOr<std::unique_ptr<LocalStore>> store = OpenStore();
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<uint64_t> replica = (*store)->ReplicaId();
  if (!replica.ok()) return Fail(replica.status());
  LocalList list;
  list.id = *id;
  absl::StatusOr<crdt::ListState> delta =
      list.state.Create(*replica, title, NowMicros());
  if (!delta.ok()) return Fail(delta.status());
  list.pending = *delta;
  if (absl::Status s = (*store)->Save(list); !s.ok()) return Fail(s);
  if (options_.json) {
    out_ << "{\"id\": " << JsonString(list.id) << "}\n";
  } else {
    out_ << list.id << "\n";
  }
  std::unique_ptr<SyncEngine> engine = engine_factory_(options_.change_timeout);
  return SyncAndReport(**store, list, *engine, false) ? 0 : 1;
}

void Cli::PrintList(const LocalList& list) {
  crdt::ListView view = list.state.View();
  if (options_.json) {
    out_ << "{\"id\": " << JsonString(list.id)
         << ", \"title\": " << JsonString(Title(list)) << ", \"items\": ";
    PrintItemsJson(out_, view);
    out_ << ", \"unsynced\": " << list.UnsyncedChanges() << "}\n";
    return;
  }
  out_ << Title(list) << "  (" << list.id << ")\n";
  if (view.items.empty()) {
    out_ << "  (no items)\n";
  } else {
    size_t width = 4;
    for (const auto& item : view.items)
      width = std::max(width, item.name.size());
    out_ << absl::StrFormat("  %-*s  %6s  %6s\n", width, "ITEM", "WANTED",
                            "BOUGHT");
    for (const auto& item : view.items) {
      out_ << absl::StrFormat(
          "  %-*s  %6d  %6d%s\n", width, item.name, item.wanted, item.bought,
          item.bought >= item.wanted && item.wanted > 0 ? "  done" : "");
    }
  }
  if (size_t n = list.UnsyncedChanges(); n > 0) {
    out_ << "  " << n << " change(s) not synced yet\n";
  }
}

int Cli::Lists() {
  absl::StatusOr<std::unique_ptr<LocalStore>> store = OpenStore();
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<std::vector<std::string>> ids = (*store)->ListIds();
  if (!ids.ok()) return Fail(ids.status());
  std::vector<LocalList> lists;
  for (const std::string& id : *ids) {
    absl::StatusOr<std::optional<LocalList>> list = (*store)->Load(id);
    if (!list.ok()) return Fail(list.status());
    if (*list) lists.push_back(**list);
  }
  if (options_.json) {
    out_ << "[";
    for (size_t i = 0; i < lists.size(); ++i) {
      const LocalList& l = lists[i];
      out_ << (i ? ", " : "") << "{\"id\": " << JsonString(l.id)
           << ", \"title\": " << JsonString(Title(l)) << ", \"items\": ";
      PrintItemsJson(out_, l.state.View());
      out_ << ", \"unsynced\": " << l.UnsyncedChanges() << "}";
    }
    out_ << "]\n";
    return 0;
  }
  if (lists.empty()) {
    out_ << "no lists yet: shoplist-cli new TITLE, or shoplist-cli join ID\n";
    return 0;
  }
  size_t width = 5;
  for (const LocalList& l : lists) width = std::max(width, Title(l).size());
  out_ << absl::StrFormat("%-26s  %-*s  %5s  %s\n", "ID", width, "TITLE",
                          "ITEMS", "UNSYNCED");
  for (const LocalList& l : lists) {
    out_ << absl::StrFormat("%-26s  %-*s  %5d  %d\n", l.id, width, Title(l),
                            l.state.VisibleItems(), l.UnsyncedChanges());
  }
  return 0;
}

int Cli::Show(const std::string& list_name) {
  absl::StatusOr<std::unique_ptr<LocalStore>> store = OpenStore();
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<LocalList> list = Resolve(**store, list_name);
  if (!list.ok()) return Fail(list.status());
  PrintList(*list);
  return 0;
}

int Cli::Add(const std::string& list, const std::string& item, int64_t count) {
  return Change(
      list,
      [&](crdt::ListState& state, uint64_t replica) {
        return state.Add(replica, item, count);
      },
      [&](const LocalList& l) {
        if (options_.json) return PrintList(l);
        for (const auto& i : l.state.View().items) {
          if (i.name == item) {
            out_ << "added " << count << " " << item << " to '" << Title(l)
                 << "' (wanted " << i.wanted << ")\n";
          }
        }
      });
}

int Cli::Remove(const std::string& list, const std::string& item,
                std::optional<int64_t> count) {
  return Change(
      list,
      [&](crdt::ListState& state, uint64_t replica) {
        return count ? state.Remove(replica, item, *count)
                     : state.RemoveItem(replica, item);
      },
      [&](const LocalList& l) {
        if (options_.json) return PrintList(l);
        if (!count) {
          out_ << "removed " << item << " from '" << Title(l) << "'\n";
          return;
        }
        for (const auto& i : l.state.View().items) {
          if (i.name == item) {
            out_ << item << " in '" << Title(l) << "': wanted " << i.wanted
                 << "\n";
          }
        }
      });
}

int Cli::Buy(const std::string& list, const std::string& item,
             std::optional<int64_t> count) {
  return Change(
      list,
      [&](crdt::ListState& state, uint64_t replica) {
        return state.Buy(replica, item, count.value_or(0));
      },
      [&](const LocalList& l) {
        if (options_.json) return PrintList(l);
        for (const auto& i : l.state.View().items) {
          if (i.name == item) {
            out_ << item << " in '" << Title(l) << "': bought " << i.bought
                 << " of " << i.wanted << "\n";
          }
        }
      });
}

int Cli::Rename(const std::string& list, const std::string& title) {
  return Change(
      list,
      [&](crdt::ListState& state, uint64_t replica) {
        return state.Rename(replica, title, NowMicros());
      },
      [&](const LocalList& l) {
        if (options_.json) return PrintList(l);
        out_ << "renamed " << l.id << " to '" << title << "'\n";
      });
}

int Cli::Share(const std::string& list_name) {
  absl::StatusOr<std::unique_ptr<LocalStore>> store = OpenStore();
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<LocalList> list = Resolve(**store, list_name);
  if (!list.ok()) return Fail(list.status());
  if (options_.json) {
    out_ << "{\"id\": " << JsonString(list->id) << "}\n";
    return 0;
  }
  out_ << list->id << "\n";
  err_ << "anyone with this id can read and change '" << Title(*list)
       << "': shoplist-cli join " << list->id << "\n";
  if (!list->on_server) {
    err_ << "note: not in the cloud yet; run shoplist-cli sync when online\n";
  }
  return 0;
}

int Cli::Join(const std::string& id) {
  if (absl::Status s = crdt::ValidateListId(id); !s.ok()) return Fail(s);
  absl::StatusOr<std::unique_ptr<LocalStore>> store = OpenStore();
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<std::optional<LocalList>> existing = (*store)->Load(id);
  if (!existing.ok()) return Fail(existing.status());
  if (*existing) {
    err_ << "already in this home: '" << Title(**existing) << "'\n";
    return 0;
  }
  LocalList list;
  list.id = id;
  list.awaiting_fetch = true;
  if (absl::Status s = (*store)->Save(list); !s.ok()) return Fail(s);
  std::unique_ptr<SyncEngine> engine = engine_factory_(options_.sync_timeout);
  LocalList fetched = list;
  absl::StatusOr<SyncOutcome> outcome = engine->Sync(fetched);
  if (!outcome.ok()) return Fail(outcome.status());
  switch (*outcome) {
    case SyncOutcome::kOffline:
      err_ << "offline: joined " << id
           << "; the list fills in at the next sync\n";
      return 0;
    case SyncOutcome::kNotFound:
      (void)(*store)->Forget(id);
      return Fail(absl::NotFoundError(absl::StrCat(
          "no list ", id, " exists; check the id you were given")));
    case SyncOutcome::kDeleted:
      (void)(*store)->Forget(id);
      return Fail(absl::NotFoundError(
          absl::StrCat("list ", id, " was deleted by its owners")));
    case SyncOutcome::kSynced:
      if (absl::Status s = (*store)->Save(fetched); !s.ok()) return Fail(s);
      PrintList(fetched);
      return 0;
  }
  return 1;
}

int Cli::Sync(const std::string& list_name) {
  absl::StatusOr<std::unique_ptr<LocalStore>> store = OpenStore();
  if (!store.ok()) return Fail(store.status());
  std::vector<LocalList> lists;
  if (!list_name.empty()) {
    absl::StatusOr<LocalList> list = Resolve(**store, list_name);
    if (!list.ok()) return Fail(list.status());
    lists.push_back(*std::move(list));
  } else {
    absl::StatusOr<std::vector<std::string>> ids = (*store)->ListIds();
    if (!ids.ok()) return Fail(ids.status());
    for (const std::string& id : *ids) {
      absl::StatusOr<std::optional<LocalList>> list = (*store)->Load(id);
      if (!list.ok()) return Fail(list.status());
      if (*list) lists.push_back(**list);
    }
  }
  std::unique_ptr<SyncEngine> engine = engine_factory_(options_.sync_timeout);
  int failures = 0, synced = 0;
  for (LocalList& list : lists) {
    std::optional<SyncOutcome> outcome =
        SyncAndReport(**store, list, *engine, true);
    if (!outcome) {
      ++failures;
    } else if (*outcome == SyncOutcome::kOffline) {
      // No proxy answers: the other lists would wait in vain.
      err_ << "offline: no proxy answered (" << options_.proxies
           << "); nothing lost, changes stay in this home\n";
      return 1;
    } else {
      ++synced;
    }
  }
  if (!options_.json) err_ << "synced " << synced << " list(s)\n";
  return failures > 0 ? 1 : 0;
}

int Cli::Forget(const std::string& list_name) {
  absl::StatusOr<std::unique_ptr<LocalStore>> store = OpenStore();
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<LocalList> list = Resolve(**store, list_name);
  if (!list.ok()) return Fail(list.status());
  if (size_t n = list->UnsyncedChanges(); n > 0 && !options_.yes) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(
        "'", Title(*list), "' has ", n,
        " unsynced change(s); run shoplist-cli sync first, or --yes to drop "
        "them")));
  }
  if (absl::Status s = (*store)->Forget(list->id); !s.ok()) return Fail(s);
  err_ << "forgot '" << Title(*list) << "' in this home (the list itself "
       << "stays; join " << list->id << " to get it back)\n";
  return 0;
}

int Cli::Delete(const std::string& list_name) {
  absl::StatusOr<std::unique_ptr<LocalStore>> store = OpenStore();
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<LocalList> list = Resolve(**store, list_name);
  if (!list.ok()) return Fail(list.status());
  if (!options_.yes) {
    err_ << "Delete '" << Title(*list) << "' (" << list->id
         << ") for everyone who shares it? This cannot be undone. [y/N] ";
    std::string answer;
    if (!std::getline(in_, answer) || (answer != "y" && answer != "yes")) {
      err_ << "not deleted\n";
      return 1;
    }
  }
  list->pending.Merge(list->state.Delete());
  if (absl::Status s = (*store)->Save(*list); !s.ok()) return Fail(s);
  if (!list->on_server) {
    // Never left this home: nothing to tell anyone.
    if (absl::Status s = (*store)->Forget(list->id); !s.ok()) return Fail(s);
    err_ << "deleted " << list->id << "\n";
    return 0;
  }
  std::unique_ptr<SyncEngine> engine = engine_factory_(options_.change_timeout);
  std::optional<SyncOutcome> outcome =
      SyncAndReport(**store, *list, *engine, true);
  if (!outcome) return 1;
  if (*outcome == SyncOutcome::kOffline) {
    err_ << "offline: " << list->id
         << " will be deleted for everyone at the next sync\n";
  }
  return 0;
}

}  // namespace shoplist::cli

namespace shoplist::cli {
namespace {

// One line per item that changed between two views.
void PrintChanges(std::ostream& out, const crdt::ListView& before,
                  const crdt::ListView& after) {
  std::string stamp =
      absl::FormatTime("%H:%M:%S ", absl::Now(), absl::LocalTimeZone());
  if (before.title != after.title) {
    out << stamp << "title: " << after.title << "\n";
  }
  std::map<std::string, crdt::ItemView> old_items;
  for (const auto& i : before.items) old_items[i.name] = i;
  for (const auto& i : after.items) {
    auto it = old_items.find(i.name);
    if (it == old_items.end() || !(it->second == i)) {
      out << stamp << i.name << ": wanted " << i.wanted << ", bought "
          << i.bought << "\n";
    }
    if (it != old_items.end()) old_items.erase(it);
  }
  for (const auto& [name, item] : old_items) {
    out << stamp << name << ": removed\n";
  }
  out.flush();
}

}  // namespace

int Cli::Watch(const std::string& list_name,
               const std::function<bool()>& stop) {
  LocalList list;
  {
    absl::StatusOr<std::unique_ptr<LocalStore>> store = OpenStore();
    if (!store.ok()) return Fail(store.status());
    absl::StatusOr<LocalList> found = Resolve(**store, list_name);
    if (!found.ok()) return Fail(found.status());
    list = *std::move(found);
    // Push what is pending first, so the watch starts from a synced list.
    std::unique_ptr<SyncEngine> engine =
        engine_factory_(options_.change_timeout);
    SyncAndReport(**store, list, *engine, true);
    if (list.state.deleted()) return 0;
  }  // The home stays free for other commands while watching.
  err_ << "watching '" << Title(list) << "' (" << list.id
       << "); Ctrl-C to stop\n";
  crdt::CausalContext known = list.state.context();
  auto stubs = NewListStubs(options_.proxies);
  if (stubs.empty()) {
    return Fail(absl::InvalidArgumentError("--proxy names no proxy"));
  }
  absl::Duration backoff = absl::Milliseconds(200);
  for (size_t attempt = 0; !stop(); ++attempt) {
    v1::ListService::StubInterface& stub = *stubs[attempt % stubs.size()];
    grpc::ClientContext context;
    std::atomic<bool> done{false};
    std::thread canceller([&] {
      while (!done.load()) {
        if (stop()) {
          context.TryCancel();
          return;
        }
        absl::SleepFor(absl::Milliseconds(100));
      }
    });
    v1::WatchRequest request;
    request.set_list_id(list.id);
    codec::EncodeContext(known, request.mutable_known());
    std::unique_ptr<grpc::ClientReaderInterface<v1::WatchEvent>> reader =
        stub.Watch(&context, request);
    v1::WatchEvent event;
    bool deleted = false;
    while (reader->Read(&event)) {
      backoff = absl::Milliseconds(200);
      absl::StatusOr<crdt::ListState> delta = codec::DecodeState(event.delta());
      if (!delta.ok()) continue;
      known.Merge(delta->context());
      // Apply to the home's replica: open, merge, close, so other commands
      // on this home keep working meanwhile.
      absl::StatusOr<std::unique_ptr<LocalStore>> store = OpenStore();
      if (!store.ok()) {
        err_ << "shoplist-cli: " << store.status().message() << "\n";
        continue;
      }
      absl::StatusOr<std::optional<LocalList>> current =
          (*store)->Load(list.id);
      if (!current.ok() || !*current) break;  // forgotten meanwhile
      crdt::ListView before = (*current)->state.View();
      (*current)->state.Merge(*delta);
      if (delta->deleted()) {
        (void)(*store)->Forget(list.id);
        err_ << "'" << before.title << "' was deleted\n";
        deleted = true;
        break;
      }
      (void)(*store)->Save(**current);
      PrintChanges(out_, before, (*current)->state.View());
    }
    if (deleted) context.TryCancel();
    grpc::Status status = reader->Finish();
    done = true;
    canceller.join();
    if (deleted || stop()) return 0;
    if (status.error_code() == grpc::StatusCode::NOT_FOUND ||
        status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      return Fail(
          absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                       status.error_message()));
    }
    err_ << "watch interrupted (" << status.error_message()
         << "); reconnecting\n";
    absl::Time until = absl::Now() + backoff;
    while (absl::Now() < until && !stop()) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
  return 0;
}

}  // namespace shoplist::cli
