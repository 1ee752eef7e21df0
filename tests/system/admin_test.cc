// shoplist-admin against a real cluster (1 proxy, 3 nodes): `status` and
// `ring` as an operator runs them, in text and in JSON (docs/admin.md),
// with every node up and with one killed; and its errors.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "codec/list_codec.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "shoplist/v1/replica_service.grpc.pb.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace shoplist {
namespace {

using nlohmann::json;
using testing::Cluster;
using testing::CommandResult;
using testing::TempDir;

class AdminTest : public ::testing::Test {
 protected:
  // One proxy and `nodes` nodes (N=3).
  void Start(int nodes, const std::string& anti_entropy_ms = "300") {
    cluster_ = std::make_unique<Cluster>(
        1, nodes, dir_,
        std::vector<std::string>{"--anti-entropy-ms=" + anti_entropy_ms});
    ASSERT_TRUE(cluster_->WaitForView(0, nodes, nodes));
  }

  // What `status --json` says node `i` holds; -1 when it did not answer.
  int64_t ListsOn(int i) const {
    const json status = AdminJson({"status"});
    const json& node = status["members"][i]["node"];
    return node.is_null() ? -1 : node["lists"].get<int64_t>();
  }

  CommandResult Admin(std::vector<std::string> args,
                      std::string proxy = "") const {
    std::vector<std::string> argv = {
        SHOPLIST_ADMIN_BINARY,
        "--proxy=" + (proxy.empty() ? cluster_->proxy_address(0) : proxy),
        "--timeout=2"};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunCommand(argv, absl::Seconds(30));
  }

  // `args` with --json, which must succeed and print one JSON object.
  json AdminJson(std::vector<std::string> args) const {
    args.insert(args.begin(), "--json");
    CommandResult r = Admin(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json parsed = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(parsed.is_object()) << r.out;
    return parsed;
  }

  // Each line of a --json command's output, parsed (a line that is no JSON
  // object fails the test): progress lines, then the summary.
  static std::vector<json> JsonLines(const CommandResult& r) {
    std::vector<json> lines;
    for (absl::string_view line :
         absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
      lines.push_back(
          json::parse(std::string(line), nullptr, /*allow_exceptions=*/false));
      EXPECT_TRUE(lines.back().is_object()) << line;
    }
    EXPECT_FALSE(lines.empty()) << r.err;
    if (lines.empty()) lines.emplace_back();
    return lines;
  }

  // `leave --json`'s progress lines (all but the last): not done, their
  // counts growing. Returns the last count sent.
  static uint64_t CheckHandOffLines(const std::vector<json>& lines) {
    uint64_t sent = 0;
    for (size_t i = 0; i + 1 < lines.size(); ++i) {
      EXPECT_EQ(lines[i]["done"], false);
      EXPECT_GT(lines[i]["sent"].get<uint64_t>(), sent) << lines[i].dump();
      sent = lines[i]["sent"].get<uint64_t>();
      EXPECT_LE(sent, lines[i]["lists"].get<uint64_t>());
    }
    return sent;
  }

  TempDir dir_;
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(AdminTest, StatusShowsEveryMemberWithWhatItHolds) {
  ASSERT_NO_FATAL_FAILURE(Start(3));
  const std::vector<std::string> ids = testing::WriteLists(*cluster_, 30);
  // N=3 of 3 nodes: each holds every list once the writes and a repair
  // round are through.
  json status;
  ASSERT_TRUE(testing::WaitFor(absl::Seconds(20), [&] {
    status = AdminJson({"status"});
    if (!status.contains("members") || status["members"].size() != 3) {
      return false;
    }
    for (const json& m : status["members"]) {
      // A round since every node saw the whole ring compared with both
      // peers (one that ran while a peer was joining, with fewer).
      if (m["node"].is_null() || m["node"]["lists"] != 30 ||
          m["node"]["last_round"].is_null() ||
          m["node"]["last_round"]["peers"] != 2) {
        return false;
      }
    }
    return true;
  })) << status.dump(2);
  const uint64_t version = status["ring_version"];
  EXPECT_GT(version, 0u);
  for (int i = 0; i < 3; ++i) {
    const json& m = status["members"][i];
    EXPECT_EQ(m["id"], cluster_->node_id(i));
    EXPECT_EQ(m["address"], cluster_->node_address(i));
    EXPECT_EQ(m["state"], "up");
    EXPECT_GT(m["since_unix_ms"].get<int64_t>(), 0);
    EXPECT_TRUE(m["error"].is_null());
    const json& node = m["node"];
    EXPECT_EQ(node["ring_version"], version);
    EXPECT_EQ(node["replicas"], 3);
    EXPECT_EQ(node["hints"], 0);
    EXPECT_GT(node["disk_bytes"].get<uint64_t>(), 0u);
    EXPECT_EQ(node["draining"], false);
    EXPECT_GT(node["started_unix_ms"].get<int64_t>(), 0);
    EXPECT_EQ(node["last_round"]["peers"], 2);
    EXPECT_GE(node["last_round"]["finished_unix_ms"].get<int64_t>(),
              node["started_unix_ms"].get<int64_t>());
  }
  EXPECT_TRUE(status["left"].empty());

  CommandResult text = Admin({"status"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(absl::StrContains(text.out, cluster_->node_id(i))) << text.out;
  }
  EXPECT_TRUE(absl::StrContains(text.out, "repaired in")) << text.out;
}

TEST_F(AdminTest, StatusReportsADownNodeHintsTheirAgeAndFailedPeers) {
  // Four nodes, so that a down owner has a stand-in to keep its hints.
  ASSERT_NO_FATAL_FAILURE(Start(4));
  // Frozen, not killed: its connections stay open, so the replica calls
  // sent to it before the proxies mark it down fail by timing out, as a
  // hung machine's do. Node 0 coordinates these writes at once (through a
  // proxy, one whose coordinator is node 3 would wait out its deadline,
  // and the proxy could mark node 3 down before the others are sent).
  const absl::Time stopped = absl::Now();
  cluster_->node(3).Signal(SIGSTOP);
  testing::WriteLists(*cluster_, 10, &cluster_->node_lists(0));
  ASSERT_TRUE(cluster_->WaitForView(0, 4, 3));
  testing::WriteLists(*cluster_, 20);
  json status;
  ASSERT_TRUE(testing::WaitFor(absl::Seconds(10), [&] {
    status = AdminJson({"status"});
    if (!status.contains("members") || status["members"].size() != 4) {
      return false;
    }
    const json& down = status["members"][3];
    uint64_t hints = 0;
    for (int i = 0; i < 3; ++i) {
      const json& node = status["members"][i]["node"];
      if (node.is_null()) return false;
      hints += node["hints"].get<uint64_t>();
    }
    return down["state"] == "down" && down["node"].is_null() && hints > 0;
  })) << status.dump(2);
  EXPECT_FALSE(status["members"][3]["error"].get<std::string>().empty());
  // The stand-ins' hints are as old as the writes that made them, and the
  // coordinators counted the calls to node 3 that failed, under its id.
  ASSERT_TRUE(testing::WaitFor(absl::Seconds(10), [&] {
    status = AdminJson({"status"});
    int64_t oldest = 0;
    uint64_t failed = 0;
    for (int i = 0; i < 3; ++i) {
      const json& node = status["members"][i]["node"];
      if (node.is_null()) return false;
      const int64_t at = node["oldest_hint_unix_ms"].get<int64_t>();
      if (at > 0 && (oldest == 0 || at < oldest)) oldest = at;
      for (const auto& [peer, n] : node["replica_failures"].items()) {
        EXPECT_EQ(peer, cluster_->node_id(3)) << status.dump(2);
        failed += n.get<uint64_t>();
      }
    }
    // Written between the stop and now, give or take a clock tick.
    return oldest >= absl::ToUnixMillis(stopped) - 1 &&
           oldest <= absl::ToUnixMillis(absl::Now()) && failed > 0;
  })) << status.dump(2);

  CommandResult text = Admin({"status"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(absl::StrContains(text.out, "unreachable")) << text.out;
  EXPECT_TRUE(absl::StrContains(text.out, "OLDEST HINT")) << text.out;
  EXPECT_TRUE(absl::StrContains(
      text.out, absl::StrCat(" -> ", cluster_->node_id(3), ": ")))
      << text.out;
}

TEST_F(AdminTest, RingSharesSumToTheReplicas) {
  ASSERT_NO_FATAL_FAILURE(Start(3));
  const json ring = AdminJson({"ring"});
  ASSERT_EQ(ring["members"].size(), 3u);
  EXPECT_EQ(ring["replicas"], 3);
  double primary = 0;
  for (const json& m : ring["members"]) {
    primary += m["primary"].get<double>();
    // Three replicas on three nodes: each holds every list.
    EXPECT_DOUBLE_EQ(m["replica"].get<double>(), 1.0);
  }
  EXPECT_NEAR(primary, 1.0, 1e-9);
  EXPECT_DOUBLE_EQ(ring["imbalance"].get<double>(), 1.0);
  EXPECT_GE(ring["primary_imbalance"].get<double>(), 1.0);
  // Equal holders: the one that coordinates most is the most loaded.
  double top = 0;
  std::string top_id;
  for (const json& m : ring["members"]) {
    if (m["primary"].get<double>() > top) {
      top = m["primary"];
      top_id = m["id"];
    }
  }
  EXPECT_EQ(ring["most_loaded"], top_id);

  const json two = AdminJson({"ring", "--replicas=2"});
  double held = 0, most = 0, least = 2;
  for (const json& m : two["members"]) {
    const double share = m["replica"];
    held += share;
    most = std::max(most, share);
    least = std::min(least, share);
  }
  EXPECT_NEAR(held, 2.0, 1e-9);
  EXPECT_NEAR(two["imbalance"].get<double>(), most / least, 1e-9);

  CommandResult text = Admin({"ring"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(absl::StrContains(text.out, "most loaded")) << text.out;
}

TEST_F(AdminTest, RepairRefillsANodeThatMissedWrites) {
  // No rounds of their own in this test: only the ones asked for.
  ASSERT_NO_FATAL_FAILURE(Start(3, "600000"));
  cluster_->node(2).Kill();
  ASSERT_TRUE(cluster_->WaitForView(0, 3, 2));
  // Three nodes, one down: no stand-in, so no hints; node 2 misses them.
  testing::WriteLists(*cluster_, 20);
  cluster_->StartNode(2);
  ASSERT_TRUE(cluster_->WaitForView(0, 3, 3));
  ASSERT_TRUE(
      testing::WaitFor(absl::Seconds(10), [&] { return ListsOn(2) >= 0; }));
  EXPECT_EQ(ListsOn(2), 0);

  CommandResult r = Admin({"--json", "repair", cluster_->node_id(2)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> lines = JsonLines(r);
  for (const json& line : lines) {
    EXPECT_EQ(line["node"], cluster_->node_id(2));
  }
  ASSERT_GE(lines.size(), 2u) << r.out;  // progress, then the summary
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["done"], false);
    EXPECT_LE(lines[i]["steps_done"].get<int>(), lines[i]["steps"].get<int>());
  }
  const json& summary = lines.back();
  EXPECT_EQ(summary["done"], true);
  EXPECT_TRUE(summary["error"].is_null());
  EXPECT_EQ(summary["round"]["peers"], 2);
  EXPECT_GE(summary["round"]["lists_repaired"].get<int>(), 20);
  EXPECT_EQ(ListsOn(2), 20);

  // Every node up, in text; a node the ring does not have is bad input.
  r = Admin({"repair"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(absl::StrContains(r.out, cluster_->node_id(i) + ": ")) << r.out;
  }
  EXPECT_TRUE(absl::StrContains(r.out, "0 lists repaired")) << r.out;
  r = Admin({"repair", "node-9"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "node-9")) << r.err;
}

// True when node `i`'s own copy of each list of `ids` has its item.
bool NodeHolds(const Cluster& cluster, int i,
               const std::vector<std::string>& ids) {
  auto stub = v1::ReplicaService::NewStub(
      testing::FastChannel(cluster.node_address(i)));
  for (const std::string& id : ids) {
    v1::FetchRequest request;
    request.set_list_id(id);
    request.set_owner(true);
    v1::FetchResponse response;
    if (!stub->Fetch(testing::Context(absl::Seconds(2)).get(), request,
                     &response)
             .ok() ||
        !response.found()) {
      return false;
    }
    absl::StatusOr<crdt::ListState> state =
        codec::DecodeState(response.state());
    if (!state.ok() || !state->items().contains("item-" + id)) return false;
  }
  return true;
}

TEST_F(AdminTest, ABackupWhileServingRestoresANodeThatCatchesUp) {
  ASSERT_NO_FATAL_FAILURE(Start(3));
  std::vector<std::string> ids = testing::WriteLists(*cluster_, 30);
  ASSERT_TRUE(
      testing::WaitFor(absl::Seconds(10), [&] { return ListsOn(1) == 30; }));
  const json before = AdminJson({"status"});
  const uint64_t replica_id = before["members"][1]["node"]["replica_id"];
  EXPECT_NE(replica_id, 0u);

  // The backup runs while clients write.
  const std::string backup = dir_.Sub("backup-node-1");
  CommandResult r;
  std::thread backing_up([&] {
    r = Admin({"--json", "backup", cluster_->node_id(1), backup});
  });
  std::vector<std::string> later = testing::WriteLists(*cluster_, 10);
  backing_up.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json summary = JsonLines(r).back();
  EXPECT_EQ(summary["done"], true) << r.out;
  EXPECT_GT(summary["records"].get<uint64_t>(), 30u);
  // Not over a backup, nor into a directory in use.
  EXPECT_EQ(Admin({"backup", cluster_->node_id(1), backup}).exit_code, 2);
  EXPECT_EQ(Admin({"restore", dir_.Sub("no-backup"), dir_.Sub("x")}).exit_code,
            2);

  // Node 1's disk is lost: a new one from the backup, as a fresh volume
  // with its lost+found.
  cluster_->node(1).Kill();
  std::filesystem::remove_all(cluster_->node_data(1));
  std::filesystem::create_directories(
      std::filesystem::path(cluster_->node_data(1)) / "lost+found");
  r = Admin({"--json", "restore", backup, cluster_->node_data(1)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json restored = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(restored.is_object()) << r.out;
  EXPECT_EQ(restored["node"], cluster_->node_id(1));
  EXPECT_EQ(Admin({"restore", backup, cluster_->node_data(1)}).exit_code, 2);

  // It comes back on the restored data while clients keep writing.
  std::vector<std::string> during;
  std::thread writing([&] { during = testing::WriteLists(*cluster_, 20); });
  cluster_->StartNode(1);
  const bool joined = cluster_->WaitForView(0, 3, 3);
  writing.join();
  ASSERT_TRUE(joined);
  // What the backup had at once; what came after by anti-entropy (or was
  // written to it once it was up).
  EXPECT_TRUE(NodeHolds(*cluster_, 1, ids));
  ids.insert(ids.end(), later.begin(), later.end());
  ids.insert(ids.end(), during.begin(), during.end());
  EXPECT_TRUE(testing::WaitFor(absl::Seconds(20),
                               [&] { return NodeHolds(*cluster_, 1, ids); }));
  const json after = AdminJson({"status"});
  EXPECT_EQ(after["members"][1]["node"]["lists"], 60);
  // A new identity: the old one's counters went on after the backup.
  EXPECT_NE(after["members"][1]["node"]["replica_id"].get<uint64_t>(),
            replica_id);
}

// The folders of backup sets in `root`, sorted (their names sort as times).
std::vector<std::string> SetsIn(const std::string& root) {
  std::vector<std::string> sets;
  for (const auto& e : std::filesystem::directory_iterator(root)) {
    sets.push_back(e.path().filename().string());
  }
  std::sort(sets.begin(), sets.end());
  return sets;
}

TEST_F(AdminTest, BackupAllMakesSetsOfEveryNodeAndKeepsTheNewestComplete) {
  // No periodic anti-entropy: what the restored node holds came from the
  // set.
  ASSERT_NO_FATAL_FAILURE(Start(3, "600000"));
  const std::vector<std::string> ids = testing::WriteLists(*cluster_, 10);
  const std::string root = dir_.Sub("backups");
  // An old set whose marker was damaged by hand, and a folder of the
  // operator's: the first goes (it is no good set), the second stays.
  std::filesystem::create_directories(root + "/20200101T000000Z");
  std::filesystem::create_directories(root + "/notes");
  std::ofstream(root + "/20200101T000000Z/SHOPLIST-BACKUP-SET")
      << R"({"complete": 1})";
  // Set names have a resolution of one second.
  auto backup_all = [&] {
    absl::SleepFor(absl::Milliseconds(1100));
    return Admin({"--json", "backup-all", root, "--keep=1"});
  };
  CommandResult first = backup_all();
  ASSERT_EQ(first.exit_code, 0) << first.err << first.out;
  CommandResult second = backup_all();
  ASSERT_EQ(second.exit_code, 0) << second.err << second.out;
  const json summary = JsonLines(second).back();
  EXPECT_EQ(summary["complete"], true) << second.out;
  ASSERT_EQ(summary["removed"].size(), 1u) << summary.dump();
  // One set left, the second, with every node's backup in it.
  std::vector<std::string> sets = SetsIn(root);
  ASSERT_EQ(sets, (std::vector<std::string>{summary["set"].get<std::string>(),
                                            "notes"}));
  sets.pop_back();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(root) / sets[0] /
                                        cluster_->node_id(i) /
                                        "SHOPLIST-BACKUP"))
        << cluster_->node_id(i);
  }
  // Each holds every list (N=3 of 3 nodes): restored, node 2 has them all.
  const std::string restored = dir_.Sub("restored-2");
  CommandResult r = Admin(
      {"restore", root + "/" + sets[0] + "/" + cluster_->node_id(2), restored});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // A node down: the run backs the others up, says which failed, exits 1,
  // and the complete set it cannot replace stays.
  cluster_->node(2).Kill();
  ASSERT_TRUE(cluster_->WaitForView(0, 3, 2));
  CommandResult third = backup_all();
  EXPECT_EQ(third.exit_code, 1) << third.out;
  EXPECT_TRUE(absl::StrContains(third.out, "\"complete\":false")) << third.out;
  sets = SetsIn(root);
  ASSERT_EQ(sets.size(), 3u);
  EXPECT_EQ(sets[0], summary["set"].get<std::string>());
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(root) / sets[1] /
                                       cluster_->node_id(2)));
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(root) / sets[1] /
                                      "SHOPLIST-BACKUP-SET"));

  // The restored data directory serves every list once node 2 runs on it.
  std::filesystem::remove_all(cluster_->node_data(2));
  std::filesystem::rename(restored, cluster_->node_data(2));
  cluster_->StartNode(2);
  ASSERT_TRUE(cluster_->WaitForView(0, 3, 3));
  EXPECT_TRUE(NodeHolds(*cluster_, 2, ids));
}

TEST_F(AdminTest, AReplacementOnANewMachineIsFilledWhileClientsWrite) {
  // Rounds only when asked: the replacement is filled by `replace`.
  ASSERT_NO_FATAL_FAILURE(Start(3, "600000"));
  std::vector<std::string> ids = testing::WriteLists(*cluster_, 30);
  cluster_->node(2).Kill();
  ASSERT_TRUE(cluster_->WaitForView(0, 3, 2));
  std::filesystem::remove_all(cluster_->node_data(2));
  // Writes go on while node 2 is dead and while it is replaced.
  std::vector<std::string> more = testing::WriteLists(*cluster_, 5);
  ids.insert(ids.end(), more.begin(), more.end());
  cluster_->MoveNode(2);
  const std::string address = cluster_->node_address(2);

  CommandResult r;
  std::thread replacing([&] {
    r = Admin(
        {"--json", "replace", cluster_->node_id(2), address, "--wait=30"});
  });
  absl::SleepFor(absl::Milliseconds(300));  // it waits for the new node
  cluster_->StartNode(2);
  more = testing::WriteLists(*cluster_, 5);
  replacing.join();
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const json summary = JsonLines(r).back();
  EXPECT_EQ(summary["done"], true) << r.out;
  EXPECT_GE(summary["round"]["lists_repaired"].get<int>(), 35);
  // Every list written before it came, read from its own copy.
  EXPECT_TRUE(NodeHolds(*cluster_, 2, ids));
  // Those written as it joined reach it as a replica, or, in the moment
  // its peers' views still lacked it, by the next round.
  ids.insert(ids.end(), more.begin(), more.end());
  if (!testing::WaitFor(absl::Seconds(3),
                        [&] { return NodeHolds(*cluster_, 2, ids); })) {
    EXPECT_EQ(Admin({"repair", cluster_->node_id(2)}).exit_code, 0);
  }
  EXPECT_TRUE(NodeHolds(*cluster_, 2, ids));
  const json status = AdminJson({"status"});
  EXPECT_EQ(status["members"][2]["address"], address);
  EXPECT_EQ(status["members"][2]["node"]["lists"], 40);

  // A node that is up elsewhere is not replaced.
  r = Admin({"replace", cluster_->node_id(1), "127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "is up")) << r.err;
}

TEST_F(AdminTest, ANodeThatLeavesHandsItsListsOverAndStops) {
  ASSERT_NO_FATAL_FAILURE(Start(4));
  const std::vector<std::string> ids = testing::WriteLists(*cluster_, 30);
  CommandResult r = Admin({"--json", "leave", cluster_->node_id(3)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Progress lines while the node hands off (as many as the polls caught:
  // 30 lists take a moment), then the summary.
  const std::vector<json> lines = JsonLines(r);
  CheckHandOffLines(lines);
  const json& left = lines.back();
  EXPECT_EQ(left["done"], true) << r.out;
  EXPECT_EQ(left["left"], true);
  EXPECT_EQ(left["stopped"], true);
  EXPECT_GT(left["ring_version"].get<uint64_t>(), 0u);
  const json status = AdminJson({"status"});
  ASSERT_EQ(status["members"].size(), 3u);
  EXPECT_EQ(status["left"], json::array({cluster_->node_id(3)}));
  // N=3 of the 3 left: each holds every list, read from its own copy.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(testing::WaitFor(absl::Seconds(10), [&] {
      return NodeHolds(*cluster_, i, ids);
    })) << cluster_->node_id(i);
  }
  EXPECT_EQ(Admin({"leave", "node-9"}).exit_code, 2);
}

TEST_F(AdminTest, ALeavingNodeShowsItsHandOffUntilItStops) {
  // The proxy does not mark the frozen node down by its missed heartbeats
  // (nothing else reports it here), so the view the leaving node hands off
  // by has it up, whatever the machine's load.
  testing::ClusterOptions options;
  options.proxy_args = {"--heartbeat-timeout-ms=600000"};
  cluster_ = std::make_unique<Cluster>(
      1, 4, dir_, std::vector<std::string>{"--anti-entropy-ms=300"}, options);
  ASSERT_TRUE(cluster_->WaitForView(0, 4, 4));
  testing::WriteLists(*cluster_, 30);
  // Node 0, a new owner of every list once node 3 is gone, is frozen: each
  // list's hand-off waits out its call to node 0, so the hand-off lasts
  // long enough to be watched.
  cluster_->node(0).Signal(SIGSTOP);
  CommandResult left;
  std::thread leaving([&] {
    left = Admin({"--json", "leave", cluster_->node_id(3)});
  });
  json status;
  const bool seen = testing::WaitFor(absl::Seconds(20), [&] {
    status = AdminJson({"status"});
    for (const json& m : status["members"]) {
      if (m["id"] == cluster_->node_id(3) && m["state"] == "leaving" &&
          !m["node"].is_null() && !m["node"]["handoff"].is_null() &&
          m["node"]["handoff"]["sent"].get<uint64_t>() > 0) {
        return true;
      }
    }
    return false;
  });
  cluster_->node(0).Signal(SIGCONT);
  leaving.join();
  ASSERT_TRUE(seen) << status.dump(2);
  EXPECT_EQ(status["left"], json::array({cluster_->node_id(3)}));
  for (const json& m : status["members"]) {
    if (m["id"] != cluster_->node_id(3)) continue;
    const json& h = m["node"]["handoff"];
    // Every list it stores (its replicas: about 3/4 of the 30).
    EXPECT_EQ(h["lists"], m["node"]["lists"]) << status.dump(2);
    EXPECT_GT(h["lists"].get<uint64_t>(), 0u);
    EXPECT_LE(h["sent"].get<uint64_t>(), h["lists"].get<uint64_t>());
  }

  // `leave` followed it: lines with growing counts, then the summary.
  ASSERT_EQ(left.exit_code, 0) << left.err << left.out;
  const std::vector<json> lines = JsonLines(left);
  ASSERT_GE(lines.size(), 2u) << left.out;
  const uint64_t sent = CheckHandOffLines(lines);
  const json& summary = lines.back();
  EXPECT_EQ(summary["done"], true) << left.out;
  EXPECT_EQ(summary["stopped"], true);
  EXPECT_GE(summary["sent"].get<uint64_t>(), sent);
  // Stopped: only in `left` now.
  status = AdminJson({"status"});
  for (const json& m : status["members"]) {
    EXPECT_NE(m["id"], cluster_->node_id(3)) << status.dump(2);
  }
}

TEST_F(AdminTest, StatusComparesTheViewsOfEveryProxyGiven) {
  cluster_ = std::make_unique<Cluster>(2, 4, dir_);
  ASSERT_TRUE(cluster_->WaitForView(0, 4, 4));
  ASSERT_TRUE(cluster_->WaitForView(1, 4, 4));
  const std::string both =
      cluster_->proxy_address(0) + "," + cluster_->proxy_address(1);
  auto status_of = [&](const std::string& proxies) {
    CommandResult r = Admin({"--json", "status"}, proxies);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  };
  json status = status_of(both + ",127.0.0.1:1");
  ASSERT_TRUE(status.is_object());
  ASSERT_EQ(status["proxies"].size(), 3u) << status.dump(2);
  for (int p = 0; p < 2; ++p) {
    EXPECT_EQ(status["proxies"][p]["address"], cluster_->proxy_address(p));
    EXPECT_EQ(status["proxies"][p]["agrees"], true) << status.dump(2);
    EXPECT_EQ(status["proxies"][p]["up"].size(), 4u);
  }
  EXPECT_TRUE(status["proxies"][2]["agrees"].is_null());
  EXPECT_FALSE(status["proxies"][2]["error"].get<std::string>().empty());

  // Node 3 leaves through proxy 0 only: proxy 1 never hears of it, and
  // its view no longer agrees.
  CommandResult r =
      Admin({"leave", cluster_->node_id(3)}, cluster_->proxy_address(0));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  status = status_of(both);
  ASSERT_EQ(status["proxies"].size(), 2u) << status.dump(2);
  EXPECT_EQ(status["proxies"][0]["agrees"], true);
  EXPECT_EQ(status["proxies"][1]["agrees"], false) << status.dump(2);
  r = Admin({"status"}, both);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "disagrees")) << r.out;

  // The nodes route by proxy 0's view, one change ahead of proxy 1's count:
  // reported from proxy 1's view first, they are still not behind, for
  // their versions compare with proxy 0's only.
  const std::string proxy0 = status["proxy"];
  status =
      status_of(cluster_->proxy_address(1) + "," + cluster_->proxy_address(0));
  ASSERT_NE(status["proxy"], proxy0) << status.dump(2);
  for (const json& m : status["members"]) {
    if (m["node"].is_null()) continue;
    EXPECT_EQ(m["node"]["ring_proxy"], proxy0) << status.dump(2);
    EXPECT_EQ(m["ring_behind"], false) << status.dump(2);
  }
  EXPECT_FALSE(absl::StrContains(
      Admin({"status"},
            cluster_->proxy_address(1) + "," + cluster_->proxy_address(0))
          .out,
      "ring behind"));
}

TEST_F(AdminTest, AProxyThatDoesNotAnswerAndBadFlagsGetClearErrors) {
  ASSERT_NO_FATAL_FAILURE(Start(3));
  CommandResult r = Admin({"status"}, "127.0.0.1:1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "127.0.0.1:1")) << r.err;
  r = Admin({"--json", "status"}, "127.0.0.1:1");
  EXPECT_EQ(r.exit_code, 1);
  json error = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(error.is_object()) << r.out;
  EXPECT_FALSE(error["error"].get<std::string>().empty());
  EXPECT_EQ(Admin({"nonsense"}).exit_code, 2);
  EXPECT_EQ(Admin({"ring", "--replicas=x"}).exit_code, 2);
  EXPECT_EQ(Admin({"--tls-ca=/no/such/file", "status"}).exit_code, 2);
}

}  // namespace
}  // namespace shoplist
