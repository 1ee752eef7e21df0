// The client core as JSON commands: the one API of the WebAssembly module
// (clients/wasm/), and what the golden and randomized tests drive in both
// builds, so one command gives the same bytes natively and in wasm.
//
// Model. A session is one home's core (home_core.h) with the steps of its
// calls that wait for the host's network. A command is a JSON object
// {"cmd": ..., ...}; the answer is a JSON object. Bytes (records, sync
// requests and replies, watched deltas) travel as base64 strings.
//   - Reading: "lists", "show" {list}, "log" {list, limit?}, "share"
//     {list, as?: "read"|"edit"|"owner"}, "name", "suggest" {text, list?,
//     limit?}, "again" {list, limit?}. The answer is the document of
//     docs/json.md.
//   - Changes: "new" {title}, "add" {list, item, count?}, "remove" {list,
//     item, count?}, "buy"/"unbuy" {list, item, count?}, "note" {list,
//     item, note}, "category" {list, item, category}, "aisles" {list,
//     order: [..]}, "clear" {list}, "rename" {list, title}, "undo" {list},
//     "revoke" {list}, "delete" {list}, "join" {link}; "set_name" {name},
//     "forget" {list, drop_unsynced?}. Each change that syncs requires
//     "now" (microseconds since the epoch) and "random" (base64 of 40 fresh
//     random bytes, Inputs): INVALID_ARGUMENT without them. The answer has
//     "writes" (to commit before anything else happens) and, for those that
//     sync, "sync": {"id", "request"} and a "step" number; the host sends the
//     request, then "finish" {step, answer} with answer {"kind":
//     "stored"|"offline"|"not_found"|"failed", "reply"?, "error"?}, which
//     answers with "writes" and "result": the command's document (ChangeJson,
//     RevokeJson, ...). Without a network the host finishes with {"kind":
//     "offline"}.
//   - "load" {key, value}: one stored record. "sync_request" {list} ("id",
//     "request") and "merge_sync" {request, answer} ("writes", "report"):
//     a sync of its own. "ids": the ids of the lists loaded.
//     "watch_request" {list}: the v1::WatchRequest bytes of a watch of it
//     ("id", "request"). "watched" {id, delta | event, now, random}: a
//     watched delta, or a watch stream's v1::WatchEvent ("writes", "event"
//     or null, "keep").
// A failed command answers {"error": ErrorJson} and changed nothing, but
// for "finish": its answer may hold "error" and "writes" both (the merge,
// or a join's record dropped), and the writes are still to be committed.
// When the host cannot commit a command's writes, the core's memory is
// ahead of its store: the host drops the session and loads a new one.
//
// Not thread-safe (one host thread).
#ifndef SHOPLIST_CLIENTS_CORE_CORE_SESSION_H_
#define SHOPLIST_CLIENTS_CORE_CORE_SESSION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "clients/core/home_core.h"
#include "clients/core/json.h"

namespace shoplist::client {

class CoreSession {
 public:
  // `default_name`: HomeCore's.
  explicit CoreSession(absl::string_view default_name = "");
  // Its steps point at it.
  CoreSession(const CoreSession&) = delete;
  CoreSession& operator=(const CoreSession&) = delete;

  // One command; never throws, whatever the input.
  Json Call(const Json& command);
  // The same on text: JSON in, JSON out (what the module exports).
  std::string Call(absl::string_view command);

  HomeCore& core() { return core_; }

 private:
  // What a command does once its sync answered and was merged (`report`):
  // the result document; writes of its own go to `writes`.
  using Then = std::function<absl::StatusOr<Json>(
      SyncReport report, bool not_found, Batch& writes)>;
  // A step waiting for the answer to its sync.
  using Finish = std::function<absl::StatusOr<Json>(const SyncAnswer& answer,
                                                    Batch& writes)>;

  absl::StatusOr<Json> Dispatch(const Json& command);
  // The answer of a command whose writes are `batch` and which goes on
  // with a sync of `id`.
  absl::StatusOr<Json> Syncing(const std::string& id, Batch batch, Then then);

  HomeCore core_;
  uint64_t next_step_ = 1;
  std::map<uint64_t, Finish> steps_;
};

// The JSON of a batch's writes: [{"put": key, "value": base64} |
// {"delete": key} | {"delete_prefix": prefix}].
Json WritesJson(const Batch& batch);

}  // namespace shoplist::client

#endif  // SHOPLIST_CLIENTS_CORE_CORE_SESSION_H_
