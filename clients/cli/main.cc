// shoplist-cli: the local-first client. Parses the command line, calls the
// client library (clients/core) and prints its results as text or JSON.
// See README.md and docs/json.md.
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "clients/cli/output.h"
#include "clients/core/cloud_link.h"
#include "clients/core/home.h"
#include "clients/core/local_store.h"
#include "clients/core/status_codes.h"
#include "clients/ui/ui_server.h"
#include "services/common/channels.h"

namespace {

using shoplist::cli::ChangeKind;
using shoplist::cli::Output;
using shoplist::client::ExitCode;
using shoplist::client::SyncReport;

// What SIGINT or SIGTERM stops: the running watch or page, set once it
// exists. A signal that comes first is remembered.
class Stopper {
 public:
  void Set(std::function<void()> stop) {
    absl::MutexLock lock(&mu_);
    stop_ = std::move(stop);
    if (stopped_ && stop_) stop_();
  }
  void Stop() {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    if (stop_) stop_();
  }

 private:
  absl::Mutex mu_;
  std::function<void()> stop_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// SIGINT and SIGTERM go to one thread that calls `stop`, instead of
// interrupting whichever thread they hit. Must run before any other thread
// starts (gRPC starts its own with the first channel).
void StopOnSignals(std::function<void()> stop) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([signals, stop = std::move(stop)] {
    int signal = 0;
    sigwait(&signals, &signal);
    stop();
  }).detach();
}

template <typename T>
int Finish(const absl::StatusOr<T>& result, Output& output,
           const std::function<int(const T&)>& print) {
  if (!result.ok()) {
    output.Error(result.status());
    return ExitCode(result.status());
  }
  return print(*result);
}

int Failed(const SyncReport& report) {
  return report.outcome == SyncReport::Outcome::kFailed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shoplist-cli: shopping lists that work offline and sync"};
  app.require_subcommand(1);
  std::string home_dir, proxy, tls_ca, tls_cert, tls_key;
  bool json = false, yes = false;
  app.add_option("--home", home_dir,
                 "Home folder (default: $SHOPLIST_HOME, "
                 "$XDG_DATA_HOME/shoplist, ~/.local/share/shoplist)");
  app.add_option("--proxy", proxy,
                 "Proxies, HOST:PORT[,HOST:PORT...] "
                 "(default: $SHOPLIST_PROXY or 127.0.0.1:7000)");
  app.add_option("--tls-ca", tls_ca,
                 "Talk TLS to the proxies, trusting this PEM CA "
                 "(default: $SHOPLIST_TLS_CA; none: plaintext)");
  app.add_option("--tls-cert", tls_cert,
                 "PEM client certificate, for proxies that ask for one");
  app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert");
  app.add_flag("--json", json, "Print results as JSON (docs/json.md)");
  app.add_flag("--yes,-y", yes, "Do not ask before deleting or forgetting");

  std::string list, item, title, id;
  std::optional<int64_t> count;
  auto positive = CLI::Range(int64_t{1}, int64_t{1'000'000});
  const std::string kList = "Title, title prefix, ID or ID prefix";

  auto* cmd_new = app.add_subcommand("new", "Create a list here; print its ID");
  cmd_new->add_option("TITLE", title, "Title")->required();
  auto* cmd_lists = app.add_subcommand("lists", "Lists in this home");
  bool verbose = false;
  auto* cmd_show = app.add_subcommand(
      "show", "Items of a list: to buy by aisle, then bought");
  cmd_show->add_option("LIST", list, kList)->required();
  cmd_show->add_flag("-v,--verbose", verbose,
                     "Say who changed each item last, and when");
  auto* cmd_add = app.add_subcommand("add", "Want N more of ITEM (default 1)");
  cmd_add->add_option("LIST", list, kList)->required();
  cmd_add->add_option("ITEM", item, "Item name")->required();
  cmd_add->add_option("N", count, "How many")->check(positive);
  auto* cmd_remove = app.add_subcommand(
      "remove", "Want N fewer of ITEM; without N remove the item");
  cmd_remove->add_option("LIST", list, kList)->required();
  cmd_remove->add_option("ITEM", item, "Item name")->required();
  cmd_remove->add_option("N", count, "How many")->check(positive);
  auto* cmd_buy = app.add_subcommand(
      "buy", "Mark N of ITEM bought (default: all still wanted)");
  cmd_buy->add_option("LIST", list, kList)->required();
  cmd_buy->add_option("ITEM", item, "Item name")->required();
  cmd_buy->add_option("N", count, "How many")->check(positive);
  auto* cmd_unbuy = app.add_subcommand(
      "unbuy", "Unmark N of ITEM as bought (default: all of them)");
  cmd_unbuy->add_option("LIST", list, kList)->required();
  cmd_unbuy->add_option("ITEM", item, "Item name")->required();
  cmd_unbuy->add_option("N", count, "How many")->check(positive);
  std::string text;
  auto* cmd_note = app.add_subcommand(
      "note", "Set ITEM's note (up to 1 KiB); without TEXT clear it");
  cmd_note->add_option("LIST", list, kList)->required();
  cmd_note->add_option("ITEM", item, "Item name")->required();
  cmd_note->add_option("TEXT", text, "The note");
  auto* cmd_category = app.add_subcommand(
      "category", "Put ITEM in aisle NAME; later adds of ITEM here use it too");
  cmd_category->add_option("LIST", list, kList)->required();
  cmd_category->add_option("ITEM", item, "Item name")->required();
  cmd_category->add_option("NAME", text, "Category, e.g. Dairy")->required();
  std::vector<std::string> aisles;
  auto* cmd_aisles = app.add_subcommand(
      "aisles", "Print the list's order of aisles, or set it to NAME...");
  cmd_aisles->add_option("LIST", list, kList)->required();
  cmd_aisles->add_option("NAME", aisles, "Categories in store order");
  bool clear_aisles = false;
  cmd_aisles->add_flag("--clear", clear_aisles, "Forget the order");
  auto* cmd_clear =
      app.add_subcommand("clear", "Take every fully bought item off the list");
  cmd_clear->add_option("LIST", list, kList)->required();
  auto* cmd_undo = app.add_subcommand(
      "undo", "Take back this home's last change to LIST (again: further)");
  cmd_undo->add_option("LIST", list, kList)->required();
  size_t log_limit = shoplist::client::kMaxLogEvents;
  auto* cmd_log =
      app.add_subcommand("log", "Recent changes to LIST: what, who, when");
  cmd_log->add_option("LIST", list, kList)->required();
  cmd_log->add_option("-n,--limit", log_limit, "At most this many (newest)")
      ->check(CLI::Range(size_t{1}, shoplist::client::kMaxLogEvents));
  auto* cmd_config = app.add_subcommand("config", "This home's settings");
  cmd_config->require_subcommand(1);
  std::optional<std::string> person;
  auto* cmd_config_name = cmd_config->add_subcommand(
      "name", "Print or set the name others see on your changes");
  cmd_config_name->add_option("NAME", person, "Your name (default: $USER)");
  auto* cmd_rename = app.add_subcommand("rename", "Give a list a new title");
  cmd_rename->add_option("LIST", list, kList)->required();
  cmd_rename->add_option("TITLE", title, "New title")->required();
  auto* cmd_share = app.add_subcommand(
      "share", "Print a link to give others (an edit link by default)");
  cmd_share->add_option("LIST", list, kList)->required();
  bool share_read_only = false, share_owner = false, share_revoke = false;
  auto* read_only_flag = cmd_share->add_flag(
      "--read-only", share_read_only, "A link that can only see and watch");
  auto* owner_flag =
      cmd_share->add_flag("--owner", share_owner,
                          "A link that owns the list: revoke links, delete it");
  auto* revoke_flag = cmd_share->add_flag(
      "--revoke", share_revoke,
      "Make every earlier read and edit link stop working; print new ones");
  read_only_flag->excludes(owner_flag)->excludes(revoke_flag);
  owner_flag->excludes(revoke_flag);
  auto* cmd_join =
      app.add_subcommand("join", "Fetch a shared list and keep it here");
  cmd_join->add_option("LINK", id, "The link you were given (or a list's ID)")
      ->required();
  auto* cmd_sync = app.add_subcommand(
      "sync", "Push local changes and pull others' (all lists by default)");
  cmd_sync->add_option("LIST", list, kList);
  int ui_port = 8180;
  auto* cmd_ui = app.add_subcommand(
      "ui", "Serve this home's lists as a web page on 127.0.0.1");
  cmd_ui->add_option("--port", ui_port, "Port on 127.0.0.1 (default 8180)")
      ->check(CLI::Range(1, 65535));
  auto* cmd_watch =
      app.add_subcommand("watch", "Follow a list live; Ctrl-C ends");
  cmd_watch->add_option("LIST", list, kList)->required();
  auto* cmd_forget = app.add_subcommand("forget", "Delete the local copy only");
  cmd_forget->add_option("LIST", list, kList)->required();
  auto* cmd_delete = app.add_subcommand(
      "delete", "Delete the list for everyone (asks first; --yes to skip)");
  cmd_delete->add_option("LIST", list, kList)->required();
  for (CLI::App* sub : app.get_subcommands({})) sub->fallthrough();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  if (proxy.empty()) {
    const char* env = std::getenv("SHOPLIST_PROXY");
    proxy = env && *env ? env : "127.0.0.1:7000";
  }
  if (tls_ca.empty()) {
    const char* env = std::getenv("SHOPLIST_TLS_CA");
    if (env != nullptr) tls_ca = env;
  }
  shoplist::SecurityFiles files;
  files.ca_file = tls_ca;
  files.cert_file = tls_cert;
  files.key_file = tls_key;
  absl::StatusOr<shoplist::SecurityOptions> security =
      shoplist::LoadSecurityOptions(files);
  if (!security.ok()) {
    std::cerr << "shoplist-cli: " << security.status().message() << "\n";
    return 2;
  }
  security->cluster_token.clear();  // a user's client never needs one
  shoplist::SetChannelSecurity(*security);

  std::unique_ptr<Output> output =
      json ? shoplist::cli::NewJsonOutput(std::cout, std::cerr)
           : shoplist::cli::NewTextOutput(std::cout, std::cerr, proxy);

  // Before any thread starts; what it stops is set below.
  auto stopper = std::make_shared<Stopper>();
  if (cmd_watch->parsed() || cmd_ui->parsed()) {
    StopOnSignals([stopper] { stopper->Stop(); });
  }

  shoplist::client::HomeOptions options;
  options.dir = shoplist::client::ResolveHome(home_dir);
  shoplist::client::Home home(options,
                              shoplist::client::CloudLink::Connect(proxy));
  Output& out = *output;
  using namespace shoplist::client;

  auto change = [&](ChangeKind kind, const absl::StatusOr<ChangeResult>& r,
                    std::optional<int64_t> n) {
    return Finish<ChangeResult>(r, out, [&](const ChangeResult& result) {
      out.Change(kind, result, n);
      return Failed(result.sync);
    });
  };
  if (cmd_new->parsed()) {
    return change(ChangeKind::kNew, home.New(title), std::nullopt);
  }
  if (cmd_add->parsed()) {
    return change(ChangeKind::kAdd, home.Add(list, item, count.value_or(1)),
                  count);
  }
  if (cmd_remove->parsed()) {
    return change(ChangeKind::kRemove, home.Remove(list, item, count), count);
  }
  if (cmd_buy->parsed()) {
    return change(ChangeKind::kBuy, home.Buy(list, item, count), count);
  }
  if (cmd_unbuy->parsed()) {
    return change(ChangeKind::kUnbuy, home.Unbuy(list, item, count), count);
  }
  if (cmd_note->parsed()) {
    return change(ChangeKind::kNote, home.SetNote(list, item, text),
                  std::nullopt);
  }
  if (cmd_category->parsed()) {
    return change(ChangeKind::kCategory, home.SetCategory(list, item, text),
                  std::nullopt);
  }
  if (cmd_aisles->parsed()) {
    if (aisles.empty() && !clear_aisles) {
      return Finish<ListInfo>(home.Show(list), out, [&](const ListInfo& l) {
        out.Aisles(l);
        return 0;
      });
    }
    return change(ChangeKind::kAisles, home.SetAisles(list, aisles),
                  std::nullopt);
  }
  if (cmd_clear->parsed()) {
    return change(ChangeKind::kClear, home.Clear(list), std::nullopt);
  }
  if (cmd_undo->parsed()) {
    return change(ChangeKind::kUndo, home.Undo(list), std::nullopt);
  }
  if (cmd_log->parsed()) {
    absl::StatusOr<ListInfo> shown = home.Show(list);
    if (!shown.ok()) {
      out.Error(shown.status());
      return ExitCode(shown.status());
    }
    return Finish<std::vector<LogEntry>>(
        home.Log(shown->id, log_limit), out,
        [&](const std::vector<LogEntry>& entries) {
          out.Log(*shown, entries);
          return 0;
        });
  }
  if (cmd_config_name->parsed()) {
    return Finish<std::string>(
        person ? home.SetPersonName(*person) : home.PersonName(), out,
        [&](const std::string& name) {
          out.Name(name);
          return 0;
        });
  }
  if (cmd_rename->parsed()) {
    return change(ChangeKind::kRename, home.Rename(list, title), std::nullopt);
  }
  if (cmd_lists->parsed()) {
    return Finish<std::vector<ListInfo>>(
        home.Lists(), out, [&](const std::vector<ListInfo>& lists) {
          out.Lists(lists);
          return 0;
        });
  }
  if (cmd_show->parsed()) {
    return Finish<ListInfo>(home.Show(list), out, [&](const ListInfo& l) {
      out.Show(l, verbose);
      return 0;
    });
  }
  if (cmd_share->parsed()) {
    if (share_revoke) {
      return Finish<shoplist::client::RevokeResult>(
          home.Revoke(list), out, [&](const shoplist::client::RevokeResult& r) {
            out.Revoke(r);
            return 0;
          });
    }
    std::optional<shoplist::access::Capability> wanted;
    if (share_read_only) wanted = shoplist::access::Capability::kRead;
    if (share_owner) wanted = shoplist::access::Capability::kOwner;
    return Finish<shoplist::client::ShareResult>(
        home.Share(list, wanted), out,
        [&](const shoplist::client::ShareResult& r) {
          out.Share(r);
          return 0;
        });
  }
  if (cmd_join->parsed()) {
    return Finish<JoinResult>(home.Join(id), out, [&](const JoinResult& r) {
      out.Join(r);
      return 0;
    });
  }
  if (cmd_sync->parsed()) {
    std::optional<absl::string_view> which;
    if (!list.empty()) which = list;
    return Finish<std::vector<SyncReport>>(
        home.Sync(which), out, [&](const std::vector<SyncReport>& reports) {
          out.Sync(reports);
          for (const SyncReport& r : reports) {
            if (r.outcome == SyncReport::Outcome::kOffline ||
                r.outcome == SyncReport::Outcome::kFailed) {
              return 1;
            }
          }
          return 0;
        });
  }
  if (cmd_forget->parsed()) {
    return Finish<ForgetResult>(home.Forget(list, yes), out,
                                [&](const ForgetResult& r) {
                                  out.Forget(r);
                                  return 0;
                                });
  }
  if (cmd_delete->parsed()) {
    std::string target = list;
    if (!yes) {
      absl::StatusOr<ListInfo> found = home.Show(list);
      if (!found.ok()) {
        out.Error(found.status());
        return ExitCode(found.status());
      }
      std::cerr << "Delete '" << found->title << "' (" << found->id
                << ") for everyone who shares it? This cannot be undone. "
                   "[y/N] ";
      std::string answer;
      if (!std::getline(std::cin, answer) ||
          (answer != "y" && answer != "yes")) {
        out.NotDeleted();
        return 1;
      }
      target = found->id;
    }
    return Finish<DeleteResult>(home.Delete(target), out,
                                [&](const DeleteResult& r) {
                                  out.Delete(r);
                                  return Failed(r.sync);
                                });
  }
  if (cmd_watch->parsed()) {
    absl::StatusOr<std::unique_ptr<ListWatch>> watch = home.Watch(
        list, [&](const WatchEvent& e) { out.Event(e); },
        [&](const absl::Status& why) { out.Interrupted(why); });
    if (!watch.ok()) {
      out.Error(watch.status());
      return ExitCode(watch.status());
    }
    ListWatch* running = watch->get();
    stopper->Set([running] { running->Stop(); });
    out.Watching(running->list());
    absl::Status status = running->Run();
    stopper->Set(nullptr);
    if (!status.ok()) {
      out.Error(status);
      return ExitCode(status);
    }
    return 0;
  }
  if (cmd_ui->parsed()) {
    shoplist::ui::UiServer server(home);
    stopper->Set([&server] { server.Stop(); });
    absl::Status status = server.Serve(ui_port, std::cout);
    stopper->Set(nullptr);
    if (!status.ok()) {
      out.Error(status);
      return ExitCode(status);
    }
    return 0;
  }
  return 2;
}
