// Every JSON that `shoplist-cli --json` prints and the page's API answers,
// checked against docs/json.md: the schemas there are parsed from the
// page itself, so the code and the document cannot drift. Runs the real
// CLI and `shoplist-cli ui` against a real cluster, online and offline.
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace shoplist {
namespace {

using Json = nlohmann::ordered_json;
using testing::CommandResult;

constexpr char kDeadProxy[] = "127.0.0.1:1";

// The schemas of docs/json.md: the types block and one block per name.
struct Schemas {
  Json types;
  std::map<std::string, Json> named;
};

Schemas ReadSchemas() {
  std::ifstream in(std::string(SHOPLIST_SOURCE_DIR) + "/docs/json.md");
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  Schemas schemas;
  std::regex block(
      R"(<!-- (schema-types|schema: (\w+)) -->\s*```json\n([\s\S]*?)```)");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), block);
       it != std::sregex_iterator(); ++it) {
    Json schema = Json::parse((*it)[3].str());
    if ((*it)[1] == "schema-types") {
      schemas.types = schema;
    } else {
      schemas.named[(*it)[2]] = schema;
    }
  }
  return schemas;
}

// "" when `value` has the shape `schema` gives (keys in its order); else
// what differs, at `path`.
std::string Check(const Json& value, const Json& schema, const Json& types,
                  const std::string& path) {
  if (schema.is_string()) {
    std::string type = schema.get<std::string>();
    if (absl::EndsWith(type, "?")) {
      if (value.is_null()) return "";
      type.pop_back();
    }
    if (types.contains(type)) return Check(value, types[type], types, path);
    if (type == "string") {
      return value.is_string() ? "" : path + ": not a string";
    }
    if (type == "integer") {
      return value.is_number_integer() ? "" : path + ": not an integer";
    }
    if (type == "boolean") {
      return value.is_boolean() ? "" : path + ": not a boolean";
    }
    if (absl::StrContains(type, "|")) {
      if (!value.is_string()) return path + ": not one of " + type;
      for (absl::string_view option : absl::StrSplit(type, '|')) {
        if (value.get<std::string>() == option) return "";
      }
      return path + ": '" + value.get<std::string>() + "' is not one of " +
             type;
    }
    return path + ": the document names an unknown type " + type;
  }
  if (schema.is_array()) {
    if (!value.is_array()) return path + ": not an array";
    for (size_t i = 0; i < value.size(); ++i) {
      std::string e =
          Check(value[i], schema[0], types, absl::StrCat(path, "[", i, "]"));
      if (!e.empty()) return e;
    }
    return "";
  }
  if (!value.is_object()) return path + ": not an object";
  std::vector<std::string> want, got;
  for (const auto& [key, unused] : schema.items()) want.push_back(key);
  for (const auto& [key, unused] : value.items()) got.push_back(key);
  if (want != got) {
    return absl::StrCat(path, ": keys ", Json(got).dump(),
                        ", the document says ", Json(want).dump());
  }
  for (const auto& [key, sub] : schema.items()) {
    std::string e = Check(value[key], sub, types, path + "." + key);
    if (!e.empty()) return e;
  }
  return "";
}

TEST(JsonSchemaCheckTest, TheCheckerRefusesWhatTheDocumentDoesNotSay) {
  Json types = Json::parse(R"({"Item": {"name": "string", "n": "integer"}})");
  Json schema = Json::parse(R"({"item": "Item?", "all": ["Item"],
                                "mode": "a|b"})");
  auto check = [&](const char* text) {
    return Check(Json::parse(text), schema, types, "x");
  };
  EXPECT_EQ(check(R"({"item": null, "all": [], "mode": "a"})"), "");
  EXPECT_EQ(check(R"({"item": {"name": "m", "n": 1},
                      "all": [{"name": "k", "n": 2}], "mode": "b"})"),
            "");
  EXPECT_NE(check(R"({"item": null, "all": [], "mode": "c"})"), "");
  EXPECT_NE(check(R"({"all": [], "item": null, "mode": "a"})"), "");  // order
  EXPECT_NE(check(R"({"item": null, "all": [], "mode": "a", "x": 1})"), "");
  EXPECT_NE(check(R"({"item": {"name": "m", "n": "1"}, "all": [],
                      "mode": "a"})"),
            "");
  EXPECT_NE(check(R"({"item": null, "all": [{"name": 3, "n": 1}],
                      "mode": "a"})"),
            "");
}

class JsonSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schemas_ = ReadSchemas();
    ASSERT_FALSE(schemas_.types.empty()) << "no types block in docs/json.md";
    ASSERT_GE(schemas_.named.size(), 10u);
    cluster_ = std::make_unique<testing::Cluster>(1, 3, dir_);
    ASSERT_TRUE(cluster_->WaitForView(0, 3, 3));
  }

  // Checks one document against the schema `name`; returns it parsed.
  Json Expect(const std::string& name, const std::string& text,
              const std::string& what) {
    used_.insert(name);
    EXPECT_EQ(schemas_.named.count(name), 1u) << "docs/json.md has no " << name;
    Json value;
    try {
      value = Json::parse(std::string(absl::StripAsciiWhitespace(text)));
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << " printed no JSON: " << text;
      return Json();
    }
    EXPECT_EQ(Check(value, schemas_.named[name], schemas_.types, name), "")
        << what << " printed " << text;
    return value;
  }

  // Runs the CLI with --json on `home` and checks its one line of output.
  Json Command(const std::string& name, const std::string& home,
               std::vector<std::string> args, bool online = true,
               int exit_code = 0) {
    std::vector<std::string> argv = {
        SHOPLIST_CLI_BINARY, "--home=" + dir_.Sub(home),
        "--proxy=" + (online ? cluster_->proxy_address(0) : kDeadProxy),
        "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r = testing::RunCommand(argv, absl::Seconds(30));
    const std::string what =
        absl::StrCat("shoplist-cli --json ", absl::StrJoin(args, " "),
                     online ? "" : " (offline)");
    EXPECT_EQ(r.exit_code, exit_code) << what << "\n" << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1)
        << what << " printed " << r.out;
    return Expect(name, r.out, what);
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::Cluster> cluster_;
  Schemas schemas_;
  std::set<std::string> used_;
};

TEST_F(JsonSchemaTest, EveryCommandAndEveryApiCallPrintsWhatTheDocumentSays) {
  // --- the CLI, online
  Json made = Command("change", "a", {"new", "Groceries"});
  const std::string id = made["list"]["id"];
  Command("change", "a", {"add", "Groceries", "milk", "2"});
  Command("change", "a", {"remove", "Groceries", "milk", "1"});
  Command("change", "a", {"buy", "Groceries", "milk"});
  Command("change", "a", {"add", "Groceries", "eggs"});
  Json removed = Command("change", "a", {"remove", "Groceries", "eggs"});
  EXPECT_TRUE(removed["item"].is_null());
  EXPECT_EQ(removed["item_name"], "eggs");
  Command("change", "a", {"add", "Groceries", "Bread"});
  Command("change", "a", {"unbuy", "Groceries", "milk"});
  Command("change", "a", {"buy", "Groceries", "milk"});
  Command("change", "a", {"note", "Groceries", "bread", "sliced"});
  Command("change", "a", {"category", "Groceries", "bread", "Bakery"});
  Command("change", "a", {"aisles", "Groceries", "Bakery", "Dairy"});
  Command("aisles", "a", {"aisles", "Groceries"});
  Command("name", "a", {"config", "name", "Ann"});
  EXPECT_EQ(Command("name", "a", {"config", "name"})["name"], "Ann");
  Json cleared = Command("change", "a", {"clear", "Groceries"});
  EXPECT_EQ(cleared["events"].size(), 1u) << cleared;
  Json undone = Command("change", "a", {"undo", "Groceries"});
  EXPECT_EQ(undone["events"][0]["kind"], "add") << undone;
  Json history = Command("log", "a", {"log", "Groceries"});
  EXPECT_EQ(history["events"][0]["by"], "Ann") << history;
  Json suggested = Command("suggest", "a", {"suggest", "BR"});
  EXPECT_EQ(suggested["suggestions"][0]["name"], "Bread") << suggested;
  EXPECT_EQ(suggested["suggestions"][0]["category"], "Bakery") << suggested;
  Command("again", "a", {"again", "Groceries"});
  Command("change", "a", {"rename", "Groceries", "Groceries and more"});
  Command("lists", "a", {"lists"});
  Command("show", "a", {"show", "groc"});
  const std::string link = Command("share", "a", {"share", id})["link"];
  EXPECT_EQ(Command("share", "a", {"share", "--read-only", id})["gives"],
            "read");
  EXPECT_EQ(Command("share", "a", {"share", "--owner", id})["gives"], "owner");
  Json joined = Command("join", "b", {"join", link});
  EXPECT_TRUE(joined["joined"].get<bool>());
  EXPECT_EQ(joined["list"]["access"], "edit");
  EXPECT_FALSE(Command("join", "b", {"join", link})["joined"].get<bool>());
  Command("sync", "a", {"sync"});
  Command("forget", "b", {"forget", id});

  // --- watch: one line per event; the last one says deleted
  Command("join", "b", {"join", link});
  testing::ChildProcess watch(
      {SHOPLIST_CLI_BINARY, "--home=" + dir_.Sub("b"),
       "--proxy=" + cluster_->proxy_address(0), "--json", "watch", id},
      dir_.Sub("watch.log"));
  auto log = [&] { return testing::ReadFile(dir_.Sub("watch.log")); };
  absl::SleepFor(absl::Milliseconds(500));
  Command("change", "a", {"add", id, "tea", "3"});
  ASSERT_TRUE(testing::WaitFor(absl::Seconds(10), [&] {
    return absl::StrContains(log(), "tea");
  })) << log();

  // --- offline
  Json offline = Command("change", "a", {"add", id, "bread"}, false);
  EXPECT_EQ(offline["sync"]["outcome"], "offline");
  Json unsynced = Command("sync", "a", {"sync"}, false, /*exit_code=*/1);
  EXPECT_EQ(unsynced["results"][0]["outcome"], "offline");
  Json awaiting = Command("join", "c", {"join", link}, false);
  EXPECT_EQ(awaiting["list"]["phase"], "awaiting_fetch");
  Command("lists", "c", {"lists"});
  Json deleting = Command("delete", "a", {"--yes", "delete", id}, false);
  EXPECT_EQ(deleting["sync"]["outcome"], "offline");
  EXPECT_EQ(Command("show", "a", {"show", id})["list"]["phase"], "deleting");
  Json deleted = Command("sync", "a", {"sync", id});
  EXPECT_EQ(deleted["results"][0]["outcome"], "deleted");
  ASSERT_TRUE(testing::WaitFor(absl::Seconds(10), [&] {
    return absl::StrContains(log(), R"("deleted":true)");
  })) << log();
  EXPECT_EQ(watch.Wait(absl::Seconds(10)), 0);
  int events = 0;
  for (absl::string_view line :
       absl::StrSplit(log(), '\n', absl::SkipEmpty())) {
    if (line.front() != '{') continue;  // stderr notes share the log
    Expect("watch", std::string(line), "watch --json");
    ++events;
  }
  EXPECT_GE(events, 2);

  // --- errors
  Command("error", "a", {"show", "nothing"}, true, 1);
  Command("change", "a", {"new", "Second"});
  Command("error", "a", {"add", "Second", "   "}, true, 2);
  const std::string second =
      Command("share", "a", {"share", "--read-only", "Second"})["link"];
  Command("join", "d", {"join", second});
  Command("error", "d", {"add", second.substr(0, 26), "milk"}, true, 1);
  EXPECT_EQ(Command("share", "d", {"share", second.substr(0, 26)})["gives"],
            "read");
  Command("error", "d", {"share", "--owner", second.substr(0, 26)}, true, 1);
  Json revoked = Command("revoke", "a", {"share", "--revoke", "Second"});
  EXPECT_NE(revoked["links"]["read"], second);
  Command("error", "a", {"join", "not-an-id"}, true, 2);

  // --- the page's API, on a home of its own
  const int port = testing::FreePort();
  testing::ChildProcess ui({SHOPLIST_CLI_BINARY, "--home=" + dir_.Sub("p"),
                            "--proxy=" + cluster_->proxy_address(0), "ui",
                            absl::StrCat("--port=", port)},
                           dir_.Sub("ui.log"));
  httplib::Client http("127.0.0.1", port);
  ASSERT_TRUE(testing::WaitFor(absl::Seconds(20), [&] {
    return static_cast<bool>(http.Get("/api/status"));
  }));
  auto get = [&](const std::string& name, const std::string& path, int status) {
    auto res = http.Get(path);
    if (!res) {
      ADD_FAILURE() << "GET " << path << " got no answer";
      return Json();
    }
    EXPECT_EQ(res->status, status) << path << " " << res->body;
    return Expect(name, res->body, "GET " + path);
  };
  auto post = [&](const std::string& name, const std::string& path,
                  const httplib::Params& params, int status) {
    auto res = http.Post(path, params);
    if (!res) {
      ADD_FAILURE() << "POST " << path << " got no answer";
      return Json();
    }
    EXPECT_EQ(res->status, status) << path << " " << res->body;
    return Expect(name, res->body, "POST " + path);
  };
  get("status", "/api/status", 200);
  Json party = post("change", "/api/lists", {{"title", "Party"}}, 200);
  const std::string pid = party["list"]["id"];
  const std::string at = "/api/lists/" + pid;
  post("change", at + "/add", {{"item", "cake"}, {"count", "2"}}, 200);
  post("change", at + "/buy", {{"item", "cake"}}, 200);
  post("change", at + "/remove", {{"item", "cake"}, {"count", "1"}}, 200);
  post("change", at + "/rename", {{"title", "Big party"}}, 200);
  post("change", at + "/unbuy", {{"item", "cake"}}, 200);
  post("change", at + "/note", {{"item", "cake"}, {"note", "chocolate"}}, 200);
  post("change", at + "/category", {{"item", "cake"}, {"category", "Bakery"}},
       200);
  post("change", at + "/aisles",
       {{"category", "Bakery"}, {"category", "Produce"}}, 200);
  post("change", at + "/buy", {{"item", "cake"}}, 200);
  post("change", at + "/clear", {}, 200);
  Json again = get("again", at + "/again", 200);
  EXPECT_EQ(again["items"][0]["name"], "cake") << again;
  EXPECT_EQ(get("suggest", "/api/suggest?text=CA&list=" + pid,
                200)["suggestions"][0]["category"],
            "Bakery");
  get("error", "/api/suggest?text=ca&list=nosuchlist", 404);
  post("change", at + "/undo", {}, 200);
  get("log", at + "/log", 200);
  EXPECT_EQ(post("name", "/api/name", {{"name", " Pat "}}, 200)["name"], "Pat");
  EXPECT_EQ(get("name", "/api/name", 200)["name"], "Pat");
  post("error", "/api/name", {{"name", "  "}}, 400);
  post("error", at + "/note",
       {{"item", "cake"}, {"note", std::string(1025, 'n')}}, 400);
  get("lists", "/api/lists", 200);
  get("show", at, 200);
  const std::string other =
      Command("change", "a", {"new", "Shared"})["list"]["id"];
  const std::string other_link =
      Command("share", "a", {"share", other})["link"];
  post("join", "/api/join", {{"link", other_link}}, 200);
  post("share", "/api/lists/" + other + "/share", {{"gives", "read"}}, 200);
  post("error", "/api/lists/" + other + "/share", {{"gives", "owner"}}, 403);
  post("revoke", at + "/revoke", {}, 200);
  post("forget", "/api/lists/" + other + "/forget", {}, 200);
  post("error", at + "/add", {{"item", "   "}}, 400);
  post("error", at + "/add", {{"item", "x"}, {"count", "lots"}}, 400);
  post("error", "/api/join", {{"link", "nope"}}, 400);
  get("error", "/api/lists/aaaaaaaaaaaaaaaaaaaaaaaaaa", 404);
  post("delete", at + "/delete", {}, 200);
  ui.Signal(SIGTERM);
  EXPECT_EQ(ui.Wait(absl::Seconds(15)), 0);

  // Every schema of the document was printed by something.
  for (const auto& [name, schema] : schemas_.named) {
    EXPECT_EQ(used_.count(name), 1u) << "nothing printed the schema " << name;
  }
}

}  // namespace
}  // namespace shoplist
