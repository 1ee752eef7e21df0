#include "clients/cli/commands.h"

#include <iostream>
#include <memory>

#include "absl/status/statusor.h"
#include "clients/core/status_codes.h"
#include "clients/ui/ui_server.h"

namespace shoplist::cli {
namespace {

using client::ExitCode;
using client::SyncReport;

const char kList[] = "Title, title prefix, ID or ID prefix";

// A call's result printed by `print`, or its error; the exit code.
template <typename T, typename Print>
int Finish(Context& c, const absl::StatusOr<T>& result, Print print) {
  if (!result.ok()) {
    c.out.Error(result.status());
    return ExitCode(result.status());
  }
  return print(*result);
}

// A call that returns nothing to print: its error, or 0.
int Done(Context& c, const absl::Status& status) {
  if (status.ok()) return 0;
  c.out.Error(status);
  return ExitCode(status);
}

int Failed(const SyncReport& report) {
  return report.outcome == SyncReport::Outcome::kFailed ? 1 : 0;
}

int Change(Context& c, ChangeKind kind,
           const absl::StatusOr<client::ChangeResult>& result,
           std::optional<int64_t> count = std::nullopt) {
  return Finish(c, result, [&](const client::ChangeResult& r) {
    c.out.Change(kind, r, count);
    return Failed(r.sync);
  });
}

// --- Arguments.
CLI::Option* List(CLI::App& command, Args& a) {
  return command.add_option("LIST", a.list, kList)->required();
}
void ListOnly(CLI::App& command, Args& a) { List(command, a); }
void ListItem(CLI::App& command, Args& a) {
  List(command, a);
  command.add_option("ITEM", a.item, "Item name")->required();
}
void ListItemCount(CLI::App& command, Args& a) {
  ListItem(command, a);
  command.add_option("N", a.count, "How many")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
}

void SuggestLimit(CLI::App& command, Args& a) {
  command.add_option("-n,--limit", a.suggest_limit, "At most this many")
      ->check(CLI::Range(size_t{1}, client::kMaxSuggestions));
}

// --- What each command runs.
int RunNew(Context& c) {
  return Change(c, ChangeKind::kNew, c.home.New(c.args.title));
}
int RunAdd(Context& c) {
  const Args& a = c.args;
  return Change(c, ChangeKind::kAdd,
                c.home.Add(a.list, a.item, a.count.value_or(1)), a.count);
}
int RunRemove(Context& c) {
  const Args& a = c.args;
  return Change(c, ChangeKind::kRemove, c.home.Remove(a.list, a.item, a.count),
                a.count);
}
int RunBuy(Context& c) {
  const Args& a = c.args;
  return Change(c, ChangeKind::kBuy, c.home.Buy(a.list, a.item, a.count),
                a.count);
}
int RunUnbuy(Context& c) {
  const Args& a = c.args;
  return Change(c, ChangeKind::kUnbuy, c.home.Unbuy(a.list, a.item, a.count),
                a.count);
}
int RunNote(Context& c) {
  const Args& a = c.args;
  return Change(c, ChangeKind::kNote, c.home.SetNote(a.list, a.item, a.text));
}
int RunCategory(Context& c) {
  const Args& a = c.args;
  return Change(c, ChangeKind::kCategory,
                c.home.SetCategory(a.list, a.item, a.text));
}
int RunAisles(Context& c) {
  const Args& a = c.args;
  if (a.aisles.empty() && !a.clear_aisles) {
    return Finish(c, c.home.Show(a.list), [&](const client::ListInfo& l) {
      c.out.Aisles(l);
      return 0;
    });
  }
  return Change(c, ChangeKind::kAisles, c.home.SetAisles(a.list, a.aisles));
}
int RunClear(Context& c) {
  return Change(c, ChangeKind::kClear, c.home.Clear(c.args.list));
}
int RunUndo(Context& c) {
  return Change(c, ChangeKind::kUndo, c.home.Undo(c.args.list));
}
int RunRename(Context& c) {
  return Change(c, ChangeKind::kRename,
                c.home.Rename(c.args.list, c.args.title));
}
int RunLists(Context& c) {
  return Finish(c, c.home.Lists(),
                [&](const std::vector<client::ListInfo>& lists) {
                  c.out.Lists(lists);
                  return 0;
                });
}
int RunShow(Context& c) {
  return Finish(c, c.home.Show(c.args.list), [&](const client::ListInfo& l) {
    c.out.Show(l, c.args.verbose);
    return 0;
  });
}
// Prints the list LIST names with something read about it by its id
// (`read(id)`), with `print(list, that)`.
template <typename Read, typename Print>
int RunAbout(Context& c, Read read, Print print) {
  absl::StatusOr<client::ListInfo> shown = c.home.Show(c.args.list);
  if (!shown.ok()) return Done(c, shown.status());
  return Finish(c, read(shown->id), [&](const auto& about) {
    print(*shown, about);
    return 0;
  });
}
int RunLog(Context& c) {
  return RunAbout(
      c,
      [&](const std::string& id) { return c.home.Log(id, c.args.log_limit); },
      [&](const client::ListInfo& l, const auto& e) { c.out.Log(l, e); });
}
int RunSuggest(Context& c) {
  const Args& a = c.args;
  return Finish(c, c.home.Suggest(a.text, a.list, a.suggest_limit),
                [&](const std::vector<client::Suggestion>& found) {
                  c.out.Suggest(a.text, found);
                  return 0;
                });
}
int RunAgain(Context& c) {
  return RunAbout(
      c,
      [&](const std::string& id) {
        return c.home.BoughtBefore(id, c.args.suggest_limit);
      },
      [&](const client::ListInfo& l, const auto& b) { c.out.Again(l, b); });
}
int RunName(Context& c) {
  const Args& a = c.args;
  return Finish(
      c, a.person ? c.home.SetPersonName(*a.person) : c.home.PersonName(),
      [&](const std::string& name) {
        c.out.Name(name);
        return 0;
      });
}
int RunShare(Context& c) {
  const Args& a = c.args;
  if (a.revoke) {
    return Finish(c, c.home.Revoke(a.list), [&](const client::RevokeResult& r) {
      c.out.Revoke(r);
      return 0;
    });
  }
  std::optional<access::Capability> wanted;
  if (a.read_only) wanted = access::Capability::kRead;
  if (a.owner) wanted = access::Capability::kOwner;
  return Finish(c, c.home.Share(a.list, wanted),
                [&](const client::ShareResult& r) {
                  c.out.Share(r);
                  return 0;
                });
}
int RunJoin(Context& c) {
  return Finish(c, c.home.Join(c.args.link), [&](const client::JoinResult& r) {
    c.out.Join(r);
    return 0;
  });
}
int RunSync(Context& c) {
  std::optional<absl::string_view> which;
  if (!c.args.list.empty()) which = c.args.list;
  return Finish(c, c.home.Sync(which),
                [&](const std::vector<SyncReport>& reports) {
                  c.out.Sync(reports);
                  for (const SyncReport& r : reports) {
                    if (r.outcome == SyncReport::Outcome::kOffline ||
                        r.outcome == SyncReport::Outcome::kFailed) {
                      return 1;
                    }
                  }
                  return 0;
                });
}
int RunForget(Context& c) {
  return Finish(c, c.home.Forget(c.args.list, c.args.yes),
                [&](const client::ForgetResult& r) {
                  c.out.Forget(r);
                  return 0;
                });
}
int RunDelete(Context& c) {
  std::string target = c.args.list;
  if (!c.args.yes) {
    absl::StatusOr<client::ListInfo> found = c.home.Show(c.args.list);
    if (!found.ok()) return Done(c, found.status());
    std::cerr << "Delete '" << found->title << "' (" << found->id
              << ") for everyone who shares it? This cannot be undone. "
                 "[y/N] ";
    std::string answer;
    if (!std::getline(std::cin, answer) || (answer != "y" && answer != "yes")) {
      c.out.NotDeleted();
      return 1;
    }
    target = found->id;
  }
  return Finish(c, c.home.Delete(target), [&](const client::DeleteResult& r) {
    c.out.Delete(r);
    return Failed(r.sync);
  });
}
int RunWatch(Context& c) {
  absl::StatusOr<std::unique_ptr<client::ListWatch>> watch = c.home.Watch(
      c.args.list, [&](const client::WatchEvent& e) { c.out.Event(e); },
      [&](const absl::Status& why) { c.out.Interrupted(why); });
  if (!watch.ok()) return Done(c, watch.status());
  client::ListWatch* running = watch->get();
  c.stop_with([running] { running->Stop(); });
  c.out.Watching(running->list());
  absl::Status status = running->Run();
  c.stop_with(nullptr);
  return Done(c, status);
}
int RunUi(Context& c) {
  ui::UiServer server(c.home);
  c.stop_with([&server] { server.Stop(); });
  absl::Status status = server.Serve(c.args.ui_port, std::cout);
  c.stop_with(nullptr);
  return Done(c, status);
}

}  // namespace

absl::Span<const Command> Commands() {
  static const Command kCommands[] = {
      {nullptr, "new", "Create a list here; print its ID",
       [](CLI::App& c, Args& a) {
         c.add_option("TITLE", a.title, "Title")->required();
       },
       RunNew},
      {nullptr, "lists", "Lists in this home", [](CLI::App&, Args&) {},
       RunLists},
      {nullptr, "show", "Items of a list: to buy by aisle, then bought",
       [](CLI::App& c, Args& a) {
         List(c, a);
         c.add_flag("-v,--verbose", a.verbose,
                    "Say who changed each item last, and when");
       },
       RunShow},
      {nullptr, "add", "Want N more of ITEM (default 1)", ListItemCount,
       RunAdd},
      {nullptr, "remove", "Want N fewer of ITEM; without N remove the item",
       ListItemCount, RunRemove},
      {nullptr, "buy", "Mark N of ITEM bought (default: all still wanted)",
       ListItemCount, RunBuy},
      {nullptr, "unbuy", "Unmark N of ITEM as bought (default: all of them)",
       ListItemCount, RunUnbuy},
      {nullptr, "note", "Set ITEM's note (up to 1 KiB); without TEXT clear it",
       [](CLI::App& c, Args& a) {
         ListItem(c, a);
         c.add_option("TEXT", a.text, "The note");
       },
       RunNote},
      {nullptr, "category",
       "Put ITEM in aisle NAME; later adds of ITEM here use it too",
       [](CLI::App& c, Args& a) {
         ListItem(c, a);
         c.add_option("NAME", a.text, "Category, e.g. Dairy")->required();
       },
       RunCategory},
      {nullptr, "aisles",
       "Print the list's order of aisles, or set it to NAME...",
       [](CLI::App& c, Args& a) {
         List(c, a);
         c.add_option("NAME", a.aisles, "Categories in store order");
         c.add_flag("--clear", a.clear_aisles, "Forget the order");
       },
       RunAisles},
      {nullptr, "clear", "Take every fully bought item off the list", ListOnly,
       RunClear},
      {nullptr, "undo",
       "Take back this home's last change to LIST (again: further)", ListOnly,
       RunUndo},
      {nullptr, "log", "Recent changes to LIST: what, who, when",
       [](CLI::App& c, Args& a) {
         List(c, a);
         c.add_option("-n,--limit", a.log_limit, "At most this many (newest)")
             ->check(CLI::Range(size_t{1}, client::kMaxLogEvents));
       },
       RunLog},
      {nullptr, "suggest",
       "Names this home used before that start like TEXT, with their aisle",
       [](CLI::App& c, Args& a) {
         c.add_option("TEXT", a.text, "The start of a name")->required();
         c.add_option("-l,--list", a.list,
                      "Leave out what is still to buy on this list");
         SuggestLimit(c, a);
       },
       RunSuggest},
      {nullptr, "again",
       "What was bought on LIST and is off it now, to add again",
       [](CLI::App& c, Args& a) {
         List(c, a);
         SuggestLimit(c, a);
       },
       RunAgain},
      {nullptr, "config", "This home's settings",
       [](CLI::App& c, Args&) { c.require_subcommand(1); }, nullptr},
      {"config", "name", "Print or set the name others see on your changes",
       [](CLI::App& c, Args& a) {
         c.add_option("NAME", a.person, "Your name (default: $USER)");
       },
       RunName},
      {nullptr, "rename", "Give a list a new title",
       [](CLI::App& c, Args& a) {
         List(c, a);
         c.add_option("TITLE", a.title, "New title")->required();
       },
       RunRename},
      {nullptr, "share",
       "Print a link to give others (an edit link by default)",
       [](CLI::App& c, Args& a) {
         List(c, a);
         auto* read_only = c.add_flag("--read-only", a.read_only,
                                      "A link that can only see and watch");
         auto* owner =
             c.add_flag("--owner", a.owner,
                        "A link that owns the list: revoke links, delete it");
         auto* revoke = c.add_flag(
             "--revoke", a.revoke,
             "Make every earlier read and edit link stop working; print new "
             "ones");
         read_only->excludes(owner)->excludes(revoke);
         owner->excludes(revoke);
       },
       RunShare},
      {nullptr, "join", "Fetch a shared list and keep it here",
       [](CLI::App& c, Args& a) {
         c.add_option("LINK", a.link,
                      "The link you were given (or a list's ID)")
             ->required();
       },
       RunJoin},
      {nullptr, "sync",
       "Push local changes and pull others' (all lists by default)",
       [](CLI::App& c, Args& a) { c.add_option("LIST", a.list, kList); },
       RunSync},
      {nullptr, "ui", "Serve this home's lists as a web page on 127.0.0.1",
       [](CLI::App& c, Args& a) {
         c.add_option("--port", a.ui_port, "Port on 127.0.0.1 (default 8180)")
             ->check(CLI::Range(1, 65535));
       },
       RunUi, /*serves=*/true},
      {nullptr, "watch", "Follow a list live; Ctrl-C ends", ListOnly, RunWatch,
       /*serves=*/true},
      {nullptr, "forget", "Delete the local copy only", ListOnly, RunForget},
      {nullptr, "delete",
       "Delete the list for everyone (asks first; --yes to skip)", ListOnly,
       RunDelete},
  };
  return kCommands;
}

}  // namespace shoplist::cli
