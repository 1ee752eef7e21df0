// `shoplist-cli ui`: the home's lists in a browser, served on 127.0.0.1
// only. Every request runs the same command the CLI would (same home, same
// checks, same messages, JSON output), so the page and the terminal cannot
// disagree; the home's LevelDB is opened per command and closed again, so
// CLI commands on the same home keep working while the page is served.
//
// Changes apply locally at once (also offline) and sync right after; a
// background loop pushes what is still pending when the proxies come back.
// One watch stream per list (Cli::Watch) merges what others change; each
// change, and each change of online/offline, is pushed to open pages as a
// server-sent event, so pages never poll.
#ifndef SHOPLIST_CLIENTS_CLI_UI_SERVER_H_
#define SHOPLIST_CLIENTS_CLI_UI_SERVER_H_

#include <functional>

#include "clients/cli/cli.h"

namespace shoplist::cli {

// Serves until `stop` returns true; returns the process exit code. Prints
// the page's address to `out` once listening.
int ServeUi(const CliOptions& options, int port,
            const std::function<bool()>& stop, std::ostream& out,
            std::ostream& err);

}  // namespace shoplist::cli

#endif  // SHOPLIST_CLIENTS_CLI_UI_SERVER_H_
