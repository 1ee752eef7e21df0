// The JSON form of every result of the client library: one schema for
// `shoplist-cli --json` and the page's API, documented type by type and
// command by command in docs/json.md (and checked against it by
// tests/system/json_schema_test.cc). Built with nlohmann-json.
//
// Every object always has all of its keys; absent values are null only
// where docs/json.md says "?".
#ifndef SHOPLIST_CLIENTS_CORE_JSON_H_
#define SHOPLIST_CLIENTS_CORE_JSON_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/core/results.h"
#include "nlohmann/json.hpp"

namespace shoplist::client {

// Keys in the order docs/json.md gives them.
using Json = nlohmann::ordered_json;

// Types (docs/json.md, "Types").
Json ToJson(const ItemInfo& item);
Json ToJson(const ListInfo& list);
Json ToJson(const SyncReport& report);
Json ToJson(const WatchEvent& event);
Json ToJson(const LogEntry& entry);
Json ToJson(const Suggestion& suggestion);
// {"error": message, "code": "NOT_FOUND"}.
Json ErrorJson(const absl::Status& status);

// Answers, one per command (docs/json.md, "Commands").
Json ListsJson(const std::vector<ListInfo>& lists);
Json ShowJson(const ListInfo& list);  // show
Json ShareJson(const ShareResult& result);
Json RevokeJson(const RevokeResult& result);  // share --revoke
Json ChangeJson(const ChangeResult& result);  // new, add, ...
Json JoinJson(const JoinResult& result);
Json SyncJson(const std::vector<SyncReport>& reports);
Json ForgetJson(const ForgetResult& result);
Json DeleteJson(const DeleteResult& result);
Json LogJson(const ListInfo& list, const std::vector<LogEntry>& entries);
Json AislesJson(const ListInfo& list);   // aisles LIST (reading)
Json NameJson(const std::string& name);  // config name
Json SuggestJson(const std::vector<Suggestion>& suggestions);  // suggest
Json AgainJson(const ListInfo& list,
               const std::vector<Suggestion>& bought);  // again LIST

}  // namespace shoplist::client

#endif  // SHOPLIST_CLIENTS_CORE_JSON_H_
