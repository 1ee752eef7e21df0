// shoplist-cli: the local-first client. Builds the command line from the
// table of commands (commands.h), parses it and runs the one given, which
// calls the home (clients/core) and prints its result as text or JSON.
// See README.md and docs/json.md.
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "clients/cli/commands.h"
#include "clients/cli/output.h"
#include "clients/core/cloud_link.h"
#include "clients/core/home.h"
#include "clients/core/local_store.h"
#include "services/common/channels.h"

namespace {

using shoplist::cli::Output;

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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shoplist-cli: shopping lists that work offline and sync"};
  app.require_subcommand(1);
  std::string home_dir, proxy, tls_ca, tls_cert, tls_key;
  bool json = false;
  shoplist::cli::Args args;
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
  app.add_flag("--yes,-y", args.yes,
               "Do not ask before deleting or forgetting");

  std::vector<std::pair<const shoplist::cli::Command*, CLI::App*>> commands;
  for (const shoplist::cli::Command& command : shoplist::cli::Commands()) {
    CLI::App* parent = &app;
    if (command.parent != nullptr) parent = app.get_subcommand(command.parent);
    CLI::App* sub = parent->add_subcommand(command.name, command.help);
    command.declare(*sub, args);
    sub->fallthrough();
    commands.emplace_back(&command, sub);
  }

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

  // The command given: the deepest one parsed.
  const shoplist::cli::Command* given = nullptr;
  for (const auto& [command, sub] : commands) {
    if (sub->parsed() && command->run != nullptr) given = command;
  }
  if (given == nullptr) return 2;

  // Before any thread starts; what it stops is set below.
  auto stopper = std::make_shared<Stopper>();
  if (given->serves) StopOnSignals([stopper] { stopper->Stop(); });

  shoplist::client::HomeOptions options;
  options.dir = shoplist::client::ResolveHome(home_dir);
  shoplist::client::Home home(options,
                              shoplist::client::CloudLink::Connect(proxy));
  shoplist::cli::Context context{
      home, *output, args,
      [stopper](std::function<void()> stop) { stopper->Set(std::move(stop)); }};
  return given->run(context);
}
