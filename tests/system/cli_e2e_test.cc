// shoplist-cli end to end: real CLI processes on their own homes against a
// real proxy and nodes. Two homes edit one list offline at the same time,
// then sync and agree; watch sees another home's change; deletion reaches a
// home with unsynced edits; bad input gets clear errors.
#include <signal.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace shoplist {
namespace {

using testing::Cluster;
using testing::CommandResult;
using testing::TempDir;

// A port nothing listens on: "offline".
constexpr char kDeadProxy[] = "127.0.0.1:1";

class Home {
 public:
  Home(const TempDir& dir, const std::string& name, std::string proxy)
      : path_(dir.Sub(name)), proxy_(std::move(proxy)) {}

  CommandResult Run(std::vector<std::string> args, bool online = true,
                    const std::string& input = "") const {
    std::vector<std::string> argv = {
        SHOPLIST_CLI_BINARY, "--home=" + path_,
        "--proxy=" + (online ? proxy_ : kDeadProxy)};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunCommand(argv, absl::Seconds(30), input);
  }
  // Runs and expects success.
  std::string Ok(std::vector<std::string> args, bool online = true) const {
    CommandResult r = Run(args, online);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << "\n" << r.err;
    return r.out;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string proxy_;
};

std::string Trim(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(s));
}

// The edit link `home` gives to `list`.
std::string LinkOf(const Home& home, const std::string& list) {
  return Trim(home.Ok({"share", list}));
}

class CliEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<Cluster>(1, 3, dir_);
    ASSERT_TRUE(cluster_->WaitForView(0, 3, 3));
    // A dead proxy first: the CLI fails over to the live one.
    std::string proxies =
        absl::StrCat(kDeadProxy, ",", cluster_->proxy_address(0));
    alice_ = std::make_unique<Home>(dir_, "alice", proxies);
    bob_ = std::make_unique<Home>(dir_, "bob", proxies);
  }

  TempDir dir_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<Home> alice_, bob_;
};

TEST_F(CliEndToEndTest, TwoHomesEditOfflineAtOnceThenAgree) {
  std::string id = Trim(alice_->Ok({"new", "Weekend"}));
  ASSERT_EQ(id.size(), 26u);
  alice_->Ok({"add", "Weekend", "eggs", "6"});
  alice_->Ok({"add", "Weekend", "bread"});
  bob_->Ok({"join", LinkOf(*alice_, id)});

  // Both offline, at the same time.
  alice_->Ok({"add", "Weekend", "milk", "2"}, false);
  alice_->Ok({"add", "Weekend", "eggs", "2"}, false);  // adds to eggs...
  alice_->Ok({"buy", "Weekend", "bread", "1"}, false);
  bob_->Ok({"add", id, "milk", "3"}, false);
  bob_->Ok({"remove", id, "eggs"}, false);  // ...which Bob removes
  bob_->Ok({"buy", id, "bread"}, false);
  bob_->Ok({"add", id, "tea"}, false);
  bob_->Ok({"remove", id, "tea", "1"}, false);
  CommandResult offline = alice_->Run({"sync"}, false);
  EXPECT_NE(offline.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(offline.err, "offline")) << offline.err;

  alice_->Ok({"sync"});
  bob_->Ok({"sync"});
  alice_->Ok({"sync"});
  nlohmann::json a = nlohmann::json::parse(alice_->Ok({"--json", "show", id}));
  nlohmann::json b = nlohmann::json::parse(bob_->Ok({"--json", "show", id}));
  // The same list; only what each home may do with it differs.
  EXPECT_EQ(a["list"]["access"], "owner");
  EXPECT_EQ(b["list"]["access"], "edit");
  a["list"].erase("access");
  b["list"].erase("access");
  EXPECT_EQ(a, b);
  // Concurrent adds sum (2 + 3 milk); the removal of eggs cleared only the 6
  // Bob had seen, so Alice's concurrent +2 survives; both bought the one
  // bread; tea was removed down to zero but stays listed.
  // Items in display order: what is still to buy first.
  const nlohmann::json list = a["list"];
  std::vector<std::string> items;
  for (const auto& i : list["items"]) {
    items.push_back(absl::StrCat(
        i["name"].get<std::string>(), " ", i["wanted"].get<int>(), "/",
        i["bought"].get<int>(), i["done"].get<bool>() ? " done" : ""));
  }
  EXPECT_EQ(absl::StrJoin(items, ", "),
            "eggs 2/0, milk 5/0, tea 0/0, bread 1/2 done");
  EXPECT_EQ(list["to_buy"], 2);
  EXPECT_EQ(list["unsynced"], 0);
}

TEST_F(CliEndToEndTest, WatchPrintsAnotherHomesChange) {
  std::string id = Trim(alice_->Ok({"new", "Party"}));
  bob_->Ok({"join", LinkOf(*alice_, id)});
  testing::ChildProcess watch(
      {SHOPLIST_CLI_BINARY, "--home=" + bob_->path(),
       "--proxy=" + cluster_->proxy_address(0), "watch", id},
      dir_.Sub("watch.log"));
  auto log = [&] { return testing::ReadFile(dir_.Sub("watch.log")); };
  ASSERT_TRUE(testing::WaitFor(
      absl::Seconds(10), [&] { return absl::StrContains(log(), "watching"); }));
  absl::SleepFor(absl::Milliseconds(300));  // the stream is open
  absl::Time start = absl::Now();
  alice_->Ok({"add", "Party", "cake", "2"});
  bool seen = testing::WaitFor(absl::Seconds(5), [&] {
    return absl::StrContains(log(), "cake: wanted 2");
  });
  std::printf(
      "watch latency (change command start to printed): %lld ms\n",
      static_cast<long long>(absl::ToInt64Milliseconds(absl::Now() - start)));
  EXPECT_TRUE(seen) << log();
  // The watch also keeps Bob's home up to date, while other commands run.
  EXPECT_TRUE(absl::StrContains(bob_->Ok({"show", id}), "cake"));
  watch.Signal(SIGINT);
  EXPECT_EQ(watch.Wait(absl::Seconds(10)), 0);
}

// The figure issue 13 asked for: with the proxy down for 8 s, a watch
// running in Bob's home prints Alice's change soon after her sync gets
// through once the proxy is back (it was 8.3 s before the client waited
// for the proxy itself). Printed, not asserted beyond the test's limit.
TEST_F(CliEndToEndTest, WatchComesBackSoonAfterTheProxyReturns) {
  std::string id = Trim(alice_->Ok({"new", "Reconnect"}));
  bob_->Ok({"join", LinkOf(*alice_, id)});
  testing::ChildProcess watch(
      {SHOPLIST_CLI_BINARY, "--home=" + bob_->path(),
       "--proxy=" + cluster_->proxy_address(0), "watch", id},
      dir_.Sub("watch.log"));
  auto log = [&] { return testing::ReadFile(dir_.Sub("watch.log")); };
  ASSERT_TRUE(testing::WaitFor(
      absl::Seconds(10), [&] { return absl::StrContains(log(), "watching"); }));
  cluster_->proxy(0).Signal(SIGTERM);
  ASSERT_EQ(cluster_->proxy(0).Wait(absl::Seconds(30)), 0);
  absl::SleepFor(absl::Seconds(8));
  CommandResult offline = alice_->Run({"add", id, "candles", "8"});
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  ASSERT_TRUE(absl::StrContains(offline.err, "offline")) << offline.err;

  cluster_->StartProxy(0);
  const absl::Time started = absl::Now();
  absl::Time synced;
  ASSERT_TRUE(testing::WaitFor(absl::Seconds(30), [&] {
    if (alice_->Run({"sync"}).exit_code != 0) return false;
    synced = absl::Now();
    return true;
  }));
  ASSERT_TRUE(testing::WaitFor(absl::Seconds(20), [&] {
    return absl::StrContains(log(), "candles: wanted 8");
  })) << log();
  const absl::Time seen = absl::Now();
  std::printf(
      "reconnect figure (watch): printed %lld ms after the other home's sync "
      "(which got through %lld ms after the proxy started)\n",
      static_cast<long long>(absl::ToInt64Milliseconds(seen - synced)),
      static_cast<long long>(absl::ToInt64Milliseconds(synced - started)));
  watch.Signal(SIGINT);
  EXPECT_EQ(watch.Wait(absl::Seconds(10)), 0);
}

TEST_F(CliEndToEndTest, ListsAndNamesAsPeopleTypeThem) {
  std::string weekend = Trim(alice_->Ok({"new", "Weekend groceries"}));
  std::string weekday = Trim(alice_->Ok({"new", "Weekday lunch"}));
  // A unique prefix of a title, in any case.
  EXPECT_TRUE(absl::StrContains(alice_->Ok({"show", "weekEND"}), weekend));
  alice_->Ok({"add", "  weekend groceries ", "  Milk  ", "2"});
  std::string shown = alice_->Ok({"--json", "show", "Weekend"});
  EXPECT_TRUE(absl::StrContains(shown, R"("name":"Milk","wanted":2)")) << shown;
  // Ambiguous: both candidates are named.
  CommandResult both = alice_->Run({"show", "week"});
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(both.err, weekend)) << both.err;
  EXPECT_TRUE(absl::StrContains(both.err, weekday)) << both.err;
  // Blank names are refused, and nothing is added.
  CommandResult blank = alice_->Run({"add", "Weekend", "   "});
  EXPECT_EQ(blank.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(blank.err, "item name is only blanks"))
      << blank.err;
  EXPECT_EQ(alice_->Run({"rename", "Weekend", " "}).exit_code, 2);
  EXPECT_EQ(alice_->Ok({"--json", "show", "Weekend"}), shown);
  // --json errors are JSON on stdout too.
  CommandResult json = alice_->Run({"--json", "show", "nothing"});
  EXPECT_EQ(json.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(json.out, R"("code":"NOT_FOUND")")) << json.out;
}

TEST_F(CliEndToEndTest, DeletionReachesAHomeWithUnsyncedEdits) {
  std::string id = Trim(alice_->Ok({"new", "Old"}));
  bob_->Ok({"join", LinkOf(*alice_, id)});
  bob_->Ok({"add", id, "rope"}, false);  // unsynced
  CommandResult no = alice_->Run({"delete", "Old"}, true, "n\n");
  EXPECT_NE(no.exit_code, 0);
  alice_->Ok({"--yes", "delete", "Old"});
  CommandResult sync = bob_->Run({"sync"});
  EXPECT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_TRUE(absl::StrContains(sync.err, "was deleted")) << sync.err;
  EXPECT_TRUE(absl::StrContains(sync.err, "1 unsynced change(s)")) << sync.err;
  EXPECT_FALSE(absl::StrContains(bob_->Ok({"lists"}), id));
  // Said once: the next sync has nothing to say about it.
  EXPECT_FALSE(absl::StrContains(bob_->Run({"sync"}).err, "deleted"));
  // Joining it again is refused.
  EXPECT_NE(bob_->Run({"join", id}).exit_code, 0);
}

TEST_F(CliEndToEndTest, JoinWhileOfflineFillsInAtTheNextSync) {
  std::string id = Trim(alice_->Ok({"new", "Later"}));
  alice_->Ok({"add", id, "soap", "3"});
  CommandResult join = bob_->Run({"join", LinkOf(*alice_, id)}, false);
  EXPECT_EQ(join.exit_code, 0) << join.err;
  EXPECT_TRUE(absl::StrContains(join.err, "offline"));
  bob_->Ok({"sync"});
  EXPECT_TRUE(absl::StrContains(bob_->Ok({"show", "Later"}), "soap"));
}

TEST_F(CliEndToEndTest,
       ReadOnlyAndRevokedHomesAreRefusedAndOwnersHandOutNewLinks) {
  std::string id = Trim(alice_->Ok({"new", "Flat"}));
  alice_->Ok({"add", id, "milk"});
  const std::string read = Trim(alice_->Ok({"share", "--read-only", id}));
  const std::string edit = LinkOf(*alice_, id);
  EXPECT_NE(read, edit);
  Home carol(dir_, "carol", cluster_->proxy_address(0));
  carol.Ok({"join", read});
  bob_->Ok({"join", edit});
  // Read-only: refused here, online and offline, with exit code 1.
  for (bool online : {true, false}) {
    CommandResult r = carol.Run({"add", id, "cake"}, online);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(absl::StrContains(r.err, "read-only")) << r.err;
  }
  EXPECT_TRUE(absl::StrContains(carol.Ok({"show", id}), "read-only"));
  EXPECT_TRUE(absl::StrContains(carol.Ok({"lists"}), "read"));
  // An edit link changes items, but cannot revoke.
  bob_->Ok({"add", id, "beer"});
  CommandResult no = bob_->Run({"share", "--revoke", id});
  EXPECT_EQ(no.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(no.err, "owner link")) << no.err;
  // The owner revokes: both old links stop working.
  const std::string links = alice_->Ok({"share", "--revoke", id});
  EXPECT_FALSE(absl::StrContains(links, edit));
  CommandResult late = bob_->Run({"add", id, "crisps"});
  EXPECT_TRUE(absl::StrContains(late.err, "revoked")) << late.err;
  EXPECT_NE(bob_->Run({"add", id, "more"}).exit_code, 0);
  EXPECT_TRUE(absl::StrContains(bob_->Ok({"show", id}), "revoked"));
  EXPECT_TRUE(absl::StrContains(bob_->Ok({"show", id}), "beer"));  // kept
  alice_->Ok({"add", id, "bread"});
  carol.Run({"sync"});
  EXPECT_FALSE(absl::StrContains(carol.Ok({"show", id}), "bread"));
  // A new link from the owner works at once.
  bob_->Ok({"join", LinkOf(*alice_, id)});
  bob_->Ok({"add", id, "tea"});
  alice_->Ok({"sync"});
  const std::string shown = alice_->Ok({"show", id});
  EXPECT_TRUE(absl::StrContains(shown, "tea")) << shown;
  EXPECT_FALSE(absl::StrContains(shown, "more")) << shown;
}

TEST_F(CliEndToEndTest, BadInputGetsClearErrors) {
  std::string id = Trim(alice_->Ok({"new", "Checks"}));
  CommandResult r = alice_->Run({"add", id, "milk", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(r.err.empty());
  r = alice_->Run({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  r = alice_->Run({"join", "not-an-id"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "list id")) << r.err;
  r = alice_->Run({"add", id, std::string(300, 'x')});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "256")) << r.err;
  r = alice_->Run({"show", "no such list"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "no list")) << r.err;
  r = alice_->Run({"remove", id, "ghost"});
  EXPECT_EQ(r.exit_code, 1);
  r = alice_->Run({"add", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(r.out, "ITEM")) << r.out;
  // A joined id nobody created.
  r = bob_->Run({"join", "aaaaaaaaaaaaaaaaaaaaaaaaaa"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(absl::StrContains(bob_->Ok({"lists"}), "aaaaaaaa"));
}

}  // namespace
}  // namespace shoplist
