#include "clients/core/core_session.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "clients/core/suggest.h"
#include "codec/list_codec.h"

namespace shoplist::client {
namespace {

// Typed fields of a command, without exceptions (the wasm build has none):
// a missing or mistyped field is INVALID_ARGUMENT.
const Json* Field(const Json& command, const char* key) {
  auto it = command.find(key);
  return it == command.end() || it->is_null() ? nullptr : &*it;
}

absl::Status Mistyped(const char* key, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("the command's \"", key, "\" must be ", what));
}

absl::StatusOr<std::string> String(const Json& command, const char* key) {
  const Json* field = Field(command, key);
  if (field == nullptr || !field->is_string()) return Mistyped(key, "a string");
  return field->get<std::string>();
}

absl::StatusOr<std::optional<int64_t>> OptionalInt(const Json& command,
                                                   const char* key) {
  const Json* field = Field(command, key);
  if (field == nullptr) return std::nullopt;
  if (!field->is_number_integer()) return Mistyped(key, "an integer");
  return field->get<int64_t>();
}

absl::StatusOr<std::string> Bytes(const Json& command, const char* key) {
  absl::StatusOr<std::string> text = String(command, key);
  if (!text.ok()) return text.status();
  std::string bytes;
  if (!absl::Base64Unescape(*text, &bytes)) return Mistyped(key, "base64");
  return bytes;
}

// A change's clock and random bytes: both required, so that no host makes
// ids or secrets of zeros by forgetting them.
// A command's "limit": `fallback` when absent; 1 to `most` otherwise.
absl::StatusOr<size_t> LimitOf(const Json& command, size_t fallback,
                               size_t most) {
  absl::StatusOr<std::optional<int64_t>> limit = OptionalInt(command, "limit");
  if (!limit.ok()) return limit.status();
  if (!*limit) return fallback;
  if (**limit < 1 || static_cast<uint64_t>(**limit) > most) {
    return Mistyped("limit", absl::StrCat("from 1 to ", most));
  }
  return static_cast<size_t>(**limit);
}

absl::StatusOr<Inputs> InputsOf(const Json& command) {
  Inputs in;
  absl::StatusOr<std::optional<int64_t>> now = OptionalInt(command, "now");
  if (!now.ok()) return now.status();
  if (!*now || **now <= 0) {
    return Mistyped("now", "the time in microseconds since the epoch");
  }
  in.now_micros = static_cast<uint64_t>(**now);
  absl::StatusOr<std::string> random = Bytes(command, "random");
  if (!random.ok()) return random.status();
  if (random->size() != in.random.size()) {
    return Mistyped("random", "40 fresh random bytes, in base64");
  }
  std::copy(random->begin(), random->end(), in.random.begin());
  return in;
}

absl::StatusOr<SyncAnswer> AnswerOf(const Json& command) {
  const Json* answer = Field(command, "answer");
  if (answer == nullptr || !answer->is_object()) {
    return Mistyped("answer", "an object");
  }
  absl::StatusOr<std::string> kind = String(*answer, "kind");
  if (!kind.ok()) return kind.status();
  SyncAnswer out;
  if (*kind == "stored") {
    out.kind = SyncAnswer::Kind::kStored;
    absl::StatusOr<std::string> reply = Bytes(*answer, "reply");
    if (!reply.ok()) return reply.status();
    out.reply = *std::move(reply);
  } else if (*kind == "offline") {
    out.kind = SyncAnswer::Kind::kOffline;
  } else if (*kind == "not_found") {
    out.kind = SyncAnswer::Kind::kNotFound;
  } else if (*kind == "failed") {
    out.kind = SyncAnswer::Kind::kFailed;
    absl::StatusOr<std::string> error = String(*answer, "error");
    out.error = error.ok() ? *std::move(error) : "the cloud refused";
  } else {
    return Mistyped("kind", "stored, offline, not_found or failed");
  }
  return out;
}

absl::StatusOr<std::optional<access::Capability>> CapabilityOf(
    const Json& command) {
  if (Field(command, "as") == nullptr) return std::nullopt;
  absl::StatusOr<std::string> as = String(command, "as");
  if (!as.ok()) return as.status();
  if (*as == "read") return access::Capability::kRead;
  if (*as == "edit") return access::Capability::kEdit;
  if (*as == "owner") return access::Capability::kOwner;
  return Mistyped("as", "read, edit or owner");
}

// The operation of a change command; nullopt for commands that are not.
absl::StatusOr<std::optional<v1::Operation>> OperationOf(const std::string& cmd,
                                                         const Json& command) {
  v1::Operation op;
  const auto item = [&]() { return String(command, "item"); };
  absl::StatusOr<std::optional<int64_t>> count = OptionalInt(command, "count");
  if (!count.ok()) return count.status();
  absl::StatusOr<std::string> name;
  if (cmd == "add") {
    if (!(name = item()).ok()) return name.status();
    op.mutable_add()->set_item(*name);
    op.mutable_add()->set_count(count->value_or(1));
  } else if (cmd == "remove") {
    if (!(name = item()).ok()) return name.status();
    if (*count) {
      op.mutable_remove()->set_item(*name);
      op.mutable_remove()->set_count(**count);
    } else {
      op.mutable_remove_item()->set_item(*name);
    }
  } else if (cmd == "buy") {
    if (!(name = item()).ok()) return name.status();
    op.mutable_buy()->set_item(*name);
    op.mutable_buy()->set_count(count->value_or(0));
  } else if (cmd == "unbuy") {
    if (!(name = item()).ok()) return name.status();
    op.mutable_unbuy()->set_item(*name);
    op.mutable_unbuy()->set_count(count->value_or(0));
  } else if (cmd == "note" || cmd == "category") {
    if (!(name = item()).ok()) return name.status();
    absl::StatusOr<std::string> text = String(command, cmd.c_str());
    if (!text.ok()) return text.status();
    if (cmd == "note") {
      op.mutable_note()->set_item(*name);
      op.mutable_note()->set_note(*text);
    } else {
      op.mutable_category()->set_item(*name);
      op.mutable_category()->set_category(*text);
    }
  } else if (cmd == "aisles") {
    const Json* order = Field(command, "order");
    if (order == nullptr || !order->is_array()) {
      return Mistyped("order", "an array of strings");
    }
    op.mutable_aisles();
    for (const Json& aisle : *order) {
      if (!aisle.is_string()) return Mistyped("order", "an array of strings");
      op.mutable_aisles()->add_categories(aisle.get<std::string>());
    }
  } else if (cmd == "clear") {
    op.mutable_clear_bought();
  } else if (cmd == "rename") {
    absl::StatusOr<std::string> title = String(command, "title");
    if (!title.ok()) return title.status();
    op.mutable_rename()->set_title(*title);
  } else {
    return std::nullopt;
  }
  return op;
}

}  // namespace

Json WritesJson(const Batch& batch) {
  Json writes = Json::array();
  for (const Batch::Write& write : batch.writes) {
    switch (write.kind) {
      case Batch::Write::Kind::kPut:
        writes.push_back(
            {{"put", write.key}, {"value", absl::Base64Escape(write.value)}});
        break;
      case Batch::Write::Kind::kDelete:
        writes.push_back({{"delete", write.key}});
        break;
      case Batch::Write::Kind::kDeletePrefix:
        writes.push_back({{"delete_prefix", write.key}});
        break;
    }
  }
  return writes;
}

CoreSession::CoreSession(absl::string_view default_name)
    : core_(default_name) {}

std::string CoreSession::Call(absl::string_view text) {
  Json command = Json::parse(text.begin(), text.end(), nullptr,
                             /*allow_exceptions=*/false);
  if (command.is_discarded()) {
    return Json{{"error", ErrorJson(absl::InvalidArgumentError(
                              "the command is not JSON"))}}
        .dump();
  }
  // Invalid UTF-8 (none should reach a document) is replaced, not thrown:
  // the wasm build has no exceptions.
  return Call(command).dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json CoreSession::Call(const Json& command) {
  if (!command.is_object()) {
    return {{"error", ErrorJson(absl::InvalidArgumentError(
                          "a command is a JSON object"))}};
  }
  absl::StatusOr<Json> answer = Dispatch(command);
  if (!answer.ok()) return {{"error", ErrorJson(answer.status())}};
  return *std::move(answer);
}

absl::StatusOr<Json> CoreSession::Syncing(const std::string& id, Batch batch,
                                          Then then) {
  absl::StatusOr<std::string> request = core_.SyncRequest(id);
  if (!request.ok()) return request.status();
  const uint64_t step = next_step_++;
  // The list's title as it was sent, for a report on a list gone meanwhile.
  steps_[step] = [this, request = *request, then = std::move(then),
                  title = core_.Title(id)](const SyncAnswer& answer,
                                           Batch& writes) {
    bool not_found = false;
    Applied<SyncReport> merged = core_.MergeSync(request, answer, &not_found);
    if (merged.value.title.empty()) merged.value.title = title;
    writes = std::move(merged.batch);
    return then(std::move(merged.value), not_found, writes);
  };
  return Json{
      {"writes", WritesJson(batch)},
      {"step", step},
      {"sync", {{"id", id}, {"request", absl::Base64Escape(*request)}}}};
}

absl::StatusOr<Json> CoreSession::Dispatch(const Json& command) {
  absl::StatusOr<std::string> cmd_or = String(command, "cmd");
  if (!cmd_or.ok()) return cmd_or.status();
  const std::string& cmd = *cmd_or;
  const auto list = [&]() { return String(command, "list"); };

  // --- Records and sync steps.
  if (cmd == "load") {
    absl::StatusOr<std::string> key = String(command, "key");
    absl::StatusOr<std::string> value = Bytes(command, "value");
    if (!key.ok()) return key.status();
    if (!value.ok()) return value.status();
    if (absl::Status s = core_.Load(*key, *value); !s.ok()) return s;
    return Json::object();
  }
  if (cmd == "finish") {
    absl::StatusOr<std::optional<int64_t>> step = OptionalInt(command, "step");
    if (!step.ok()) return step.status();
    absl::StatusOr<SyncAnswer> answer = AnswerOf(command);
    if (!answer.ok()) return answer.status();
    auto it = *step ? steps_.find(static_cast<uint64_t>(**step)) : steps_.end();
    if (it == steps_.end()) return Mistyped("step", "a step not finished yet");
    Finish finish = std::move(it->second);
    steps_.erase(it);
    Batch writes;
    absl::StatusOr<Json> result = finish(*answer, writes);
    Json out = {{"writes", WritesJson(writes)}};
    // The merge's writes stand even when the command fails now.
    if (result.ok()) {
      out["result"] = *std::move(result);
    } else {
      out["error"] = ErrorJson(result.status());
    }
    return out;
  }
  if (cmd == "sync_request") {
    absl::StatusOr<std::string> typed = list();
    if (!typed.ok()) return typed.status();
    absl::StatusOr<std::string> id = core_.Resolve(*typed);
    if (!id.ok()) return id.status();
    absl::StatusOr<std::string> request = core_.SyncRequest(*id);
    if (!request.ok()) return request.status();
    return Json{{"id", *id}, {"request", absl::Base64Escape(*request)}};
  }
  if (cmd == "merge_sync") {
    absl::StatusOr<std::string> request = Bytes(command, "request");
    if (!request.ok()) return request.status();
    absl::StatusOr<SyncAnswer> answer = AnswerOf(command);
    if (!answer.ok()) return answer.status();
    bool not_found = false;
    Applied<SyncReport> merged = core_.MergeSync(*request, *answer, &not_found);
    return Json{{"writes", WritesJson(merged.batch)},
                {"report", ToJson(merged.value)},
                {"not_found", not_found}};
  }
  if (cmd == "watch_request") {
    absl::StatusOr<std::string> typed = list();
    if (!typed.ok()) return typed.status();
    absl::StatusOr<std::string> id = core_.Resolve(*typed);
    if (!id.ok()) return id.status();
    absl::StatusOr<crdt::CausalContext> known = core_.Known(*id);
    if (!known.ok()) return known.status();
    v1::WatchRequest request;
    request.set_list_id(*id);
    codec::EncodeContext(*known, request.mutable_known());
    request.set_secret(core_.Secret(*id));
    return Json{{"id", *id},
                {"request", absl::Base64Escape(request.SerializeAsString())}};
  }
  if (cmd == "watched") {
    // A delta ("delta": a v1::ListState), or a watch stream's event
    // ("event": a v1::WatchEvent, whose delta is merged).
    absl::StatusOr<std::string> id = String(command, "id");
    const bool event = Field(command, "event") != nullptr;
    absl::StatusOr<std::string> bytes =
        Bytes(command, event ? "event" : "delta");
    absl::StatusOr<Inputs> in = InputsOf(command);
    if (!id.ok()) return id.status();
    if (!bytes.ok()) return bytes.status();
    if (!in.ok()) return in.status();
    v1::ListState encoded;
    v1::WatchEvent watched;
    const bool parsed = event ? watched.ParseFromString(*bytes)
                              : encoded.ParseFromString(*bytes);
    if (!parsed) return Mistyped(event ? "event" : "delta", "its message");
    absl::StatusOr<crdt::ListState> delta =
        codec::DecodeState(event ? watched.delta() : encoded);
    if (!delta.ok()) return delta.status();
    Applied<HomeCore::Watched> merged = core_.MergeWatched(*id, *delta, *in);
    return Json{
        {"writes", WritesJson(merged.batch)},
        {"event", merged.value.event ? ToJson(*merged.value.event) : Json()},
        {"keep", merged.value.keep_watching}};
  }

  // --- Reading.
  if (cmd == "lists") return ListsJson(core_.Lists());
  if (cmd == "ids") return Json{{"ids", core_.ListIds()}};
  if (cmd == "name") return NameJson(core_.PersonName());
  if (cmd == "show") {
    absl::StatusOr<std::string> typed = list();
    if (!typed.ok()) return typed.status();
    absl::StatusOr<ListInfo> info = core_.Show(*typed);
    if (!info.ok()) return info.status();
    return ShowJson(*info);
  }
  if (cmd == "log") {
    absl::StatusOr<std::string> typed = list();
    absl::StatusOr<std::optional<int64_t>> limit =
        OptionalInt(command, "limit");
    if (!typed.ok()) return typed.status();
    if (!limit.ok()) return limit.status();
    absl::StatusOr<ListInfo> info = core_.Show(*typed);
    if (!info.ok()) return info.status();
    absl::StatusOr<std::vector<LogEntry>> entries = core_.Log(
        info->id,
        static_cast<size_t>(std::max<int64_t>(
            0, limit->value_or(static_cast<int64_t>(kMaxLogEvents)))));
    if (!entries.ok()) return entries.status();
    return LogJson(*info, *entries);
  }
  if (cmd == "suggest") {
    // "list" is optional: what is adding to it.
    absl::StatusOr<std::string> typed = String(command, "text");
    absl::StatusOr<size_t> limit =
        LimitOf(command, kDefaultSuggestions, kMaxSuggestions);
    if (!typed.ok()) return typed.status();
    if (!limit.ok()) return limit.status();
    absl::StatusOr<std::string> adding_to =
        Field(command, "list") ? list() : std::string();
    if (!adding_to.ok()) return adding_to.status();
    absl::StatusOr<std::vector<Suggestion>> found =
        core_.Suggest(*typed, *adding_to, *limit);
    if (!found.ok()) return found.status();
    return SuggestJson(*found);
  }
  if (cmd == "again") {
    absl::StatusOr<std::string> typed = list();
    absl::StatusOr<size_t> limit =
        LimitOf(command, kDefaultSuggestions, kMaxSuggestions);
    if (!typed.ok()) return typed.status();
    if (!limit.ok()) return limit.status();
    absl::StatusOr<ListInfo> info = core_.Show(*typed);
    if (!info.ok()) return info.status();
    absl::StatusOr<std::vector<Suggestion>> bought =
        core_.BoughtBefore(info->id, *limit);
    if (!bought.ok()) return bought.status();
    return AgainJson(*info, *bought);
  }
  if (cmd == "share") {
    absl::StatusOr<std::string> typed = list();
    absl::StatusOr<std::optional<access::Capability>> as =
        CapabilityOf(command);
    if (!typed.ok()) return typed.status();
    if (!as.ok()) return as.status();
    absl::StatusOr<ShareResult> share = core_.Share(*typed, *as);
    if (!share.ok()) return share.status();
    return ShareJson(*share);
  }

  // --- Changes without a sync.
  if (cmd == "set_name") {
    absl::StatusOr<std::string> name = String(command, "name");
    if (!name.ok()) return name.status();
    absl::StatusOr<Applied<std::string>> set = core_.SetPersonName(*name);
    if (!set.ok()) return set.status();
    return Json{{"writes", WritesJson(set->batch)},
                {"result", NameJson(set->value)}};
  }
  if (cmd == "forget") {
    absl::StatusOr<std::string> typed = list();
    if (!typed.ok()) return typed.status();
    const Json* drop = Field(command, "drop_unsynced");
    if (drop != nullptr && !drop->is_boolean()) {
      return Mistyped("drop_unsynced", "true or false");
    }
    absl::StatusOr<Applied<ForgetResult>> forgot =
        core_.Forget(*typed, drop != nullptr && drop->get<bool>());
    if (!forgot.ok()) return forgot.status();
    return Json{{"writes", WritesJson(forgot->batch)},
                {"result", ForgetJson(forgot->value)}};
  }

  // --- Changes that sync.
  static constexpr absl::string_view kSyncing[] = {
      "join", "revoke", "delete", "new",      "undo",   "add",   "remove",
      "buy",  "unbuy",  "note",   "category", "aisles", "clear", "rename"};
  if (std::find(std::begin(kSyncing), std::end(kSyncing), cmd) ==
      std::end(kSyncing)) {
    return absl::InvalidArgumentError(absl::StrCat("no command \"", cmd, "\""));
  }
  absl::StatusOr<Inputs> in = InputsOf(command);
  if (!in.ok()) return in.status();
  if (cmd == "join") {
    absl::StatusOr<std::string> link = String(command, "link");
    if (!link.ok()) return link.status();
    absl::StatusOr<Applied<JoinStart>> start = core_.Join(*link);
    if (!start.ok()) return start.status();
    if (start->value.done) {
      return Json{{"writes", Json::array()},
                  {"result", JoinJson(*start->value.done)}};
    }
    const JoinStart join = start->value;
    return Syncing(
        join.id, std::move(start->batch),
        [this, join](SyncReport report, bool not_found,
                     Batch& writes) -> absl::StatusOr<Json> {
          if (report.outcome == SyncReport::Outcome::kDeletedElsewhere) {
            return absl::NotFoundError(
                absl::StrCat("list ", join.id, " was deleted by its owners"));
          }
          if (report.outcome == SyncReport::Outcome::kFailed) {
            if (join.fresh) {
              // Nothing new is kept.
              absl::StatusOr<Applied<ForgetResult>> forgot =
                  core_.Forget(join.id, /*drop_unsynced=*/true);
              if (forgot.ok()) {
                writes.writes.insert(writes.writes.end(),
                                     forgot->batch.writes.begin(),
                                     forgot->batch.writes.end());
              }
            }
            if (not_found) {
              return absl::NotFoundError(absl::StrCat(
                  "no list ", join.id,
                  " exists, or the link no longer works; check the link "
                  "you were given"));
            }
            return absl::UnavailableError(report.error);
          }
          JoinResult result;
          result.sync = std::move(report);
          if (auto info = core_.Info(join.id)) result.list = *info;
          return JoinJson(result);
        });
  }
  absl::StatusOr<std::string> typed =
      cmd == "new" ? String(command, "title") : list();
  if (!typed.ok()) return typed.status();
  if (cmd == "revoke") {
    absl::StatusOr<Applied<RevokeResult>> revoked = core_.Revoke(*typed, *in);
    if (!revoked.ok()) return revoked.status();
    RevokeResult result = revoked->value;
    return Syncing(result.list.id, std::move(revoked->batch),
                   [this, result](SyncReport report, bool,
                                  Batch&) mutable -> absl::StatusOr<Json> {
                     result.sync = std::move(report);
                     if (auto info = core_.Info(result.list.id)) {
                       result.list = *info;
                     }
                     return RevokeJson(result);
                   });
  }
  if (cmd == "delete") {
    absl::StatusOr<Applied<DeleteResult>> deleted = core_.Delete(*typed);
    if (!deleted.ok()) return deleted.status();
    DeleteResult result = deleted->value;
    if (result.sync.outcome == SyncReport::Outcome::kDeleted) {
      return Json{{"writes", WritesJson(deleted->batch)},
                  {"result", DeleteJson(result)}};
    }
    return Syncing(result.list.id, std::move(deleted->batch),
                   [result](SyncReport report, bool,
                            Batch&) mutable -> absl::StatusOr<Json> {
                     result.sync = std::move(report);
                     result.sync.title = result.list.title;
                     return DeleteJson(result);
                   });
  }
  absl::StatusOr<Applied<MadeChange>> made;
  if (cmd == "new") {
    made = core_.New(*typed, *in);
  } else if (cmd == "undo") {
    made = core_.Change(*typed, {}, *in, /*undo=*/true);
  } else {
    absl::StatusOr<std::optional<v1::Operation>> op = OperationOf(cmd, command);
    if (!op.ok()) return op.status();
    made = core_.Change(*typed, {**op}, *in);
  }
  if (!made.ok()) return made.status();
  const MadeChange change = made->value;
  return Syncing(
      change.id, std::move(made->batch),
      [this, change](SyncReport report, bool, Batch&) -> absl::StatusOr<Json> {
        return ChangeJson(core_.Outcome(change, std::move(report)));
      });
}

}  // namespace shoplist::client
