#include "tests/wasm/core_driver.h"

#include "absl/strings/escaping.h"
#include "codec/list_codec.h"
#include "shoplist/v1/list_service.pb.h"

namespace shoplist::testing {

using client::Json;

std::string CoreDriver::Call(const std::string& line) {
  const Json command = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!command.is_object()) return Json{{"error", "not a JSON object"}}.dump();
  if (command.contains("cloud") && command.contains("request") &&
      command["request"].is_string()) {
    std::string request;
    if (!absl::Base64Unescape(command["request"].get<std::string>(),
                              &request)) {
      return Json{{"error", "request is not base64"}}.dump();
    }
    return CloudSync(request).dump();
  }
  if (!command.contains("home") || !command["home"].is_string()) {
    return Json{{"error", "no home"}}.dump();
  }
  return CallHome(homes_[command["home"].get<std::string>()], command).dump();
}

Json CoreDriver::CallHome(Home& home, const Json& command) {
  const auto what_field = command.find("do");
  const std::string what =
      what_field != command.end() && what_field->is_string()
          ? what_field->get<std::string>()
          : "";
  if (what == "dump") {
    Json records = Json::object();
    for (const auto& [key, value] : home.records) {
      records[key] = absl::Base64Escape(value);
    }
    return {{"records", records}};
  }
  if (what == "reload") {
    home.session = std::make_unique<client::CoreSession>();
    for (const auto& [key, value] : home.records) {
      if (absl::Status s = home.session->core().Load(key, value); !s.ok()) {
        return {{"error", client::ErrorJson(s)}};
      }
    }
    return Json::object();
  }
  Json answer = home.session->Call(command);
  if (answer.contains("writes")) Commit(home, answer["writes"]);
  return answer;
}

// The writes come from CoreSession's WritesJson: well formed.
void CoreDriver::Commit(Home& home, const Json& writes) {
  for (const Json& write : writes) {
    if (write.contains("put")) {
      std::string value;
      absl::Base64Unescape(write.at("value").get<std::string>(), &value);
      home.records[write.at("put").get<std::string>()] = value;
    } else if (write.contains("delete")) {
      home.records.erase(write.at("delete").get<std::string>());
    } else if (write.contains("delete_prefix")) {
      const std::string prefix = write.at("delete_prefix").get<std::string>();
      auto it = home.records.lower_bound(prefix);
      while (it != home.records.end() && it->first.starts_with(prefix)) {
        it = home.records.erase(it);
      }
    }
  }
}

Json CoreDriver::CloudSync(const std::string& bytes) {
  v1::SyncRequest request;
  absl::StatusOr<crdt::ListState> delta =
      request.ParseFromString(bytes)
          ? codec::DecodeState(request.delta())
          : absl::InvalidArgumentError("not a sync request");
  absl::StatusOr<crdt::CausalContext> known =
      delta.ok() ? codec::DecodeContext(request.known()) : delta.status();
  if (!known.ok()) {
    return {{"answer",
             {{"kind", "failed"},
              {"error", std::string(known.status().message())}}}};
  }
  auto it = cloud_.find(request.list_id());
  if (it == cloud_.end()) {
    if (!request.create()) return {{"answer", {{"kind", "not_found"}}}};
    it = cloud_.emplace(request.list_id(), crdt::ListState()).first;
  }
  it->second.Merge(*delta);
  v1::SyncResponse response;
  codec::EncodeState(it->second.DeltaSince(*known), response.mutable_missing());
  return {{"answer",
           {{"kind", "stored"},
            {"reply", absl::Base64Escape(response.SerializeAsString())}}}};
}

}  // namespace shoplist::testing
