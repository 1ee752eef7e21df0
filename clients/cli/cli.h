// The commands of shoplist-cli, over a LocalStore and a SyncEngine. Each
// returns the process exit code: 0 done, 1 failed, 2 bad usage. Results go
// to `out`, messages to `err`; nothing here parses argv.
#ifndef SHOPLIST_CLIENTS_CLI_CLI_H_
#define SHOPLIST_CLIENTS_CLI_CLI_H_

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "clients/cli/local_store.h"
#include "clients/cli/sync_engine.h"

namespace shoplist::cli {

struct CliOptions {
  std::string home;     // resolved
  std::string proxies;  // "host:port,..."
  bool json = false;
  bool yes = false;
  // Deadline of the sync that follows each change; `sync` waits longer.
  absl::Duration change_timeout = absl::Seconds(2);
  absl::Duration sync_timeout = absl::Seconds(10);
  std::function<absl::Time()> clock = &absl::Now;
};

class Cli {
 public:
  Cli(CliOptions options, std::ostream& out, std::ostream& err,
      std::istream& in);

  int New(const std::string& title);
  int Lists();
  int Show(const std::string& list);
  int Add(const std::string& list, const std::string& item, int64_t count);
  // count nullopt: remove the item altogether.
  int Remove(const std::string& list, const std::string& item,
             std::optional<int64_t> count);
  // count nullopt: everything still wanted.
  int Buy(const std::string& list, const std::string& item,
          std::optional<int64_t> count);
  int Rename(const std::string& list, const std::string& title);
  int Share(const std::string& list);
  int Join(const std::string& id);
  // list empty: every list of the home.
  int Sync(const std::string& list);
  int Forget(const std::string& list);
  int Delete(const std::string& list);
  // Follows a list until `stop` returns true (checked between events and
  // at least every second).
  int Watch(const std::string& list, const std::function<bool()>& stop);

  // Lets tests replace the network.
  void set_engine_factory(
      std::function<std::unique_ptr<SyncEngine>(absl::Duration)> factory) {
    engine_factory_ = std::move(factory);
  }

 private:
  absl::StatusOr<std::unique_ptr<LocalStore>> OpenStore();
  // Finds LIST: a full id, a unique id prefix or a unique title.
  absl::StatusOr<LocalList> Resolve(LocalStore& store, const std::string& list);
  // Applies `change` to the list, stores it with its pending delta, then
  // syncs. Prints `done` (given the list after the change) on success.
  int Change(const std::string& list,
             const std::function<absl::StatusOr<crdt::ListState>(
                 crdt::ListState&, uint64_t replica)>& change,
             const std::function<void(const LocalList&)>& done);
  // Syncs one stored list with `engine`, stores the result and reports
  // what happened. nullopt on error (reported).
  std::optional<SyncOutcome> SyncAndReport(LocalStore& store, LocalList& list,
                                           SyncEngine& engine,
                                           bool quiet_when_offline);
  int Fail(const absl::Status& status);
  void PrintList(const LocalList& list);
  uint64_t NowMicros() const;

  CliOptions options_;
  std::ostream& out_;
  std::ostream& err_;
  std::istream& in_;
  std::function<std::unique_ptr<SyncEngine>(absl::Duration)> engine_factory_;
};

// JSON string literal for `s` (quotes included).
std::string JsonString(const std::string& s);

}  // namespace shoplist::cli

#endif  // SHOPLIST_CLIENTS_CLI_CLI_H_
