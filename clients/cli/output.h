// What shoplist-cli shows of the client library's results: as text for a
// person (TextOutput) or as the JSON of docs/json.md (JsonOutput, with
// --json). Results go to `out`; notes (offline, deleted elsewhere) and
// errors go to `err`. Printers only: no decisions, no home, no network.
#ifndef SHOPLIST_CLIENTS_CLI_OUTPUT_H_
#define SHOPLIST_CLIENTS_CLI_OUTPUT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/core/results.h"

namespace shoplist::cli {

// The change commands, for their wording.
enum class ChangeKind {
  kNew,
  kAdd,
  kRemove,
  kBuy,
  kUnbuy,
  kNote,
  kCategory,
  kAisles,
  kClear,
  kUndo,
  kRename,
};

class Output {
 public:
  virtual ~Output() = default;
  virtual void Lists(const std::vector<client::ListInfo>& lists) = 0;
  // `verbose`: who changed each item last, and when.
  virtual void Show(const client::ListInfo& list, bool verbose) = 0;
  virtual void Share(const client::ShareResult& result) = 0;
  virtual void Revoke(const client::RevokeResult& result) = 0;
  // `count` is the count asked for (add, remove, buy), if any.
  virtual void Change(ChangeKind kind, const client::ChangeResult& result,
                      std::optional<int64_t> count) = 0;
  virtual void Join(const client::JoinResult& result) = 0;
  virtual void Sync(const std::vector<client::SyncReport>& reports) = 0;
  virtual void Log(const client::ListInfo& list,
                   const std::vector<client::LogEntry>& entries) = 0;
  virtual void Aisles(const client::ListInfo& list) = 0;
  // suggest TEXT: names used before; `typed` is what was asked.
  virtual void Suggest(absl::string_view typed,
                       const std::vector<client::Suggestion>& found) = 0;
  // again LIST: what was bought on it before and is not on it now.
  virtual void Again(const client::ListInfo& list,
                     const std::vector<client::Suggestion>& bought) = 0;
  virtual void Name(const std::string& name) = 0;
  virtual void Forget(const client::ForgetResult& result) = 0;
  virtual void Delete(const client::DeleteResult& result) = 0;
  virtual void NotDeleted() = 0;  // the person answered no
  virtual void Watching(const client::ListInfo& list) = 0;
  virtual void Event(const client::WatchEvent& event) = 0;
  virtual void Interrupted(const absl::Status& why) = 0;
  virtual void Error(const absl::Status& status) = 0;
};

// `proxies` is named in offline notes.
std::unique_ptr<Output> NewTextOutput(std::ostream& out, std::ostream& err,
                                      std::string proxies);
std::unique_ptr<Output> NewJsonOutput(std::ostream& out, std::ostream& err);

}  // namespace shoplist::cli

#endif  // SHOPLIST_CLIENTS_CLI_OUTPUT_H_
