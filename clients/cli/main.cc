// shoplist-cli: the local-first client. See README.md.
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "clients/cli/cli.h"
#include "clients/cli/local_store.h"
#include "clients/cli/ui_server.h"
#include "services/common/channels.h"

namespace {

std::atomic<bool> interrupted{false};

void OnInterrupt(int) { interrupted = true; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shoplist-cli: shopping lists that work offline and sync"};
  app.require_subcommand(1);
  std::string home, proxy, tls_ca, tls_cert, tls_key;
  bool json = false, yes = false;
  app.add_option("--home", home,
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
  app.add_flag("--json", json, "Print results as JSON");
  app.add_flag("--yes,-y", yes, "Do not ask before deleting or forgetting");

  std::string list, item, title, id;
  std::optional<int64_t> count;
  auto positive = CLI::Range(int64_t{1}, int64_t{1'000'000});

  auto* cmd_new = app.add_subcommand("new", "Create a list here; print its ID");
  cmd_new->add_option("TITLE", title, "Title")->required();
  app.add_subcommand("lists", "Lists in this home");
  auto* cmd_show = app.add_subcommand("show", "Items of a list");
  cmd_show->add_option("LIST", list, "ID, ID prefix or title")->required();
  auto* cmd_add = app.add_subcommand("add", "Want N more of ITEM (default 1)");
  cmd_add->add_option("LIST", list, "ID, ID prefix or title")->required();
  cmd_add->add_option("ITEM", item, "Item name")->required();
  cmd_add->add_option("N", count, "How many")->check(positive);
  auto* cmd_remove = app.add_subcommand(
      "remove", "Want N fewer of ITEM; without N remove the item");
  cmd_remove->add_option("LIST", list, "ID, ID prefix or title")->required();
  cmd_remove->add_option("ITEM", item, "Item name")->required();
  cmd_remove->add_option("N", count, "How many")->check(positive);
  auto* cmd_buy = app.add_subcommand(
      "buy", "Mark N of ITEM bought (default: all still wanted)");
  cmd_buy->add_option("LIST", list, "ID, ID prefix or title")->required();
  cmd_buy->add_option("ITEM", item, "Item name")->required();
  cmd_buy->add_option("N", count, "How many")->check(positive);
  auto* cmd_rename = app.add_subcommand("rename", "Give a list a new title");
  cmd_rename->add_option("LIST", list, "ID, ID prefix or title")->required();
  cmd_rename->add_option("TITLE", title, "New title")->required();
  auto* cmd_share =
      app.add_subcommand("share", "Print the ID to give to others");
  cmd_share->add_option("LIST", list, "ID, ID prefix or title")->required();
  auto* cmd_join =
      app.add_subcommand("join", "Fetch a shared list and keep it here");
  cmd_join->add_option("ID", id, "The list's ID")->required();
  auto* cmd_sync = app.add_subcommand(
      "sync", "Push local changes and pull others' (all lists by default)");
  cmd_sync->add_option("LIST", list, "ID, ID prefix or title");
  int ui_port = 8180;
  auto* cmd_ui = app.add_subcommand(
      "ui", "Serve this home's lists as a web page on 127.0.0.1");
  cmd_ui->add_option("--port", ui_port, "Port on 127.0.0.1 (default 8180)")
      ->check(CLI::Range(1, 65535));
  auto* cmd_watch =
      app.add_subcommand("watch", "Follow a list live; Ctrl-C ends");
  cmd_watch->add_option("LIST", list, "ID, ID prefix or title")->required();
  auto* cmd_forget = app.add_subcommand("forget", "Delete the local copy only");
  cmd_forget->add_option("LIST", list, "ID, ID prefix or title")->required();
  auto* cmd_delete = app.add_subcommand(
      "delete", "Delete the list for everyone (asks first; --yes to skip)");
  cmd_delete->add_option("LIST", list, "ID, ID prefix or title")->required();
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

  shoplist::cli::CliOptions options;
  options.home = shoplist::cli::ResolveHome(home);
  if (proxy.empty()) {
    const char* env = std::getenv("SHOPLIST_PROXY");
    proxy = env && *env ? env : "127.0.0.1:7000";
  }
  options.proxies = proxy;
  if (tls_ca.empty()) {
    const char* env = std::getenv("SHOPLIST_TLS_CA");
    if (env != nullptr) tls_ca = env;
  }
  shoplist::SecurityFiles files;
  files.ca_file = tls_ca;
  files.cert_file = tls_cert;
  files.key_file = tls_key;
  // No cluster token: a user's client never needs one.
  absl::StatusOr<shoplist::SecurityOptions> security =
      shoplist::LoadSecurityOptions(files);
  if (!security.ok()) {
    std::cerr << "shoplist-cli: " << security.status().message() << "\n";
    return 2;
  }
  security->cluster_token.clear();
  shoplist::SetChannelSecurity(*security);
  options.json = json;
  options.yes = yes;
  shoplist::cli::Cli cli(options, std::cout, std::cerr, std::cin);

  if (cmd_new->parsed()) return cli.New(title);
  if (app.got_subcommand("lists")) return cli.Lists();
  if (cmd_show->parsed()) return cli.Show(list);
  if (cmd_add->parsed()) return cli.Add(list, item, count.value_or(1));
  if (cmd_remove->parsed()) return cli.Remove(list, item, count);
  if (cmd_buy->parsed()) return cli.Buy(list, item, count);
  if (cmd_rename->parsed()) return cli.Rename(list, title);
  if (cmd_share->parsed()) return cli.Share(list);
  if (cmd_join->parsed()) return cli.Join(id);
  if (cmd_sync->parsed()) return cli.Sync(list);
  if (cmd_forget->parsed()) return cli.Forget(list);
  if (cmd_delete->parsed()) return cli.Delete(list);
  if (cmd_ui->parsed()) {
    struct sigaction action {};
    action.sa_handler = OnInterrupt;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    return shoplist::cli::ServeUi(
        options, ui_port, [] { return interrupted.load(); }, std::cout,
        std::cerr);
  }
  if (cmd_watch->parsed()) {
    struct sigaction action {};
    action.sa_handler = OnInterrupt;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    return cli.Watch(list, [] { return interrupted.load(); });
  }
  return 2;
}
