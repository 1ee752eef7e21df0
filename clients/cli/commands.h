// shoplist-cli's commands, each declared once: its name and help, its
// arguments, and what it runs (one call into the home, one printer). main.cc
// builds the command line from this table and runs the one given.
#ifndef SHOPLIST_CLIENTS_CLI_COMMANDS_H_
#define SHOPLIST_CLIENTS_CLI_COMMANDS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/types/span.h"
#include "clients/cli/output.h"
#include "clients/core/home.h"
#include "clients/core/suggest.h"

namespace shoplist::cli {

// Every argument a command may take, filled in by the parser.
struct Args {
  std::string list, item, title, text, link;
  std::optional<int64_t> count;
  std::vector<std::string> aisles;
  bool clear_aisles = false;
  bool verbose = false;
  bool yes = false;  // --yes: do not ask before deleting or forgetting
  bool read_only = false, owner = false, revoke = false;  // share
  size_t log_limit = client::kMaxLogEvents;
  size_t suggest_limit = client::kDefaultSuggestions;
  std::optional<std::string> person;
  int ui_port = 8180;
};

// What a running command may use. `stop_with` installs what SIGINT and
// SIGTERM stop (a watch, the page); null removes it.
struct Context {
  client::Home& home;
  Output& out;
  const Args& args;
  std::function<void(std::function<void()>)> stop_with;
};

struct Command {
  const char* parent;  // nullptr, or the command it is a subcommand of
  const char* name;
  const char* help;
  // Adds the command's arguments to its (sub)command line.
  void (*declare)(CLI::App& command, Args& args);
  // Runs it; returns the exit code (status_codes.h). Null for a command
  // that only groups subcommands.
  int (*run)(Context& context);
  // Runs until a signal stops it (watch, ui).
  bool serves = false;
};

absl::Span<const Command> Commands();

}  // namespace shoplist::cli

#endif  // SHOPLIST_CLIENTS_CLI_COMMANDS_H_
