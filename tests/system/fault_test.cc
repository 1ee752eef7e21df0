// A Jepsen-style fault test against a real local cluster of 2 proxies and 5
// nodes. Writers (four gRPC clients and one shoplist-cli home working
// offline-then-sync) add uniquely named items to 20 lists while a nemesis
// SIGKILLs and restarts nodes, freezes one with SIGSTOP/SIGCONT and kills a
// proxy. Then faults stop, the cluster heals and anti-entropy runs.
//
// Checked: every acknowledged addition is in the final state of every
// replica of its list and of every client after sync (lost must be 0); all
// replicas of each list are identical; no process died except by the
// nemesis. Run alone with: ctest -L fault   (or build/tests/system/fault_test)
#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "gtest/gtest.h"
#include "ring/ring.h"
#include "shoplist/v1/replica_service.grpc.pb.h"
#include "tests/support/cluster.h"

namespace shoplist {
namespace {

using testing::Cluster;
using testing::Context;
using testing::TempDir;

constexpr int kLists = 20;
constexpr int kWriters = 4;
// Each writer makes at least this many operations, and goes on until the
// nemesis has run its whole schedule.
constexpr int kMinOpsPerWriter = 520;
constexpr int kReplicas = 3;

struct Acked {
  std::mutex mu;
  std::map<std::string, std::set<std::string>> items;  // list -> items
  std::atomic<int> attempted{0};
  std::atomic<int> acknowledged{0};
  void Add(const std::string& list, const std::string& item) {
    std::lock_guard<std::mutex> lock(mu);
    items[list].insert(item);
    ++acknowledged;
  }
};

// One client: its own replica of every list; each operation adds a new
// item and syncs it through whichever proxy answers.
void Writer(int w, Cluster& cluster, const std::vector<std::string>& lists,
            Acked& acked, const std::atomic<bool>& faults_over) {
  std::mt19937_64 rng(1000 + w);
  const crdt::ReplicaId me = 0xAB0000 + w;
  std::map<std::string, crdt::ListState> replicas;
  for (int k = 0; k < kMinOpsPerWriter || !faults_over.load(); ++k) {
    absl::SleepFor(absl::Milliseconds(3));
    const std::string& list = lists[rng() % lists.size()];
    std::string item = absl::StrCat("w", w, "-", k);
    crdt::ListState delta = *replicas[list].Add(me, item, 1);
    ++acked.attempted;
    v1::SyncRequest request;
    request.set_list_id(list);
    codec::EncodeState(delta, request.mutable_delta());
    for (int attempt = 0; attempt < 2 * cluster.proxies(); ++attempt) {
      v1::SyncResponse response;
      grpc::Status status =
          cluster
              .gateway(static_cast<int>((rng() + attempt) % cluster.proxies()))
              .Sync(Context(absl::Seconds(2)).get(), request, &response);
      if (status.ok()) {
        acked.Add(list, item);
        break;
      }
    }
  }
}

// A shoplist-cli home: adds items offline, then syncs; a successful sync
// acknowledges everything added before it.
void CliWriter(Cluster& cluster, const TempDir& dir,
               const std::vector<std::string>& lists, Acked& acked,
               std::atomic<bool>& stop) {
  const std::string home = "--home=" + dir.Sub("cli-home");
  const std::string online =
      "--proxy=" + cluster.proxy_address(0) + "," + cluster.proxy_address(1);
  const std::string offline = "--proxy=127.0.0.1:1";
  std::vector<std::string> mine(lists.begin(), lists.begin() + 3);
  for (const std::string& list : mine) {
    testing::RunCommand({SHOPLIST_CLI_BINARY, home, online, "join", list},
                        absl::Seconds(20));
  }
  std::vector<std::pair<std::string, std::string>> unacked;
  for (int round = 0; !stop.load() && round < 40; ++round) {
    for (int i = 0; i < 3; ++i) {
      const std::string& list = mine[(round + i) % mine.size()];
      std::string item = absl::StrCat("cli-", round, "-", i);
      auto r = testing::RunCommand(
          {SHOPLIST_CLI_BINARY, home, offline, "add", list, item},
          absl::Seconds(20));
      if (r.exit_code == 0) {
        ++acked.attempted;
        unacked.emplace_back(list, item);
      }
    }
    auto r = testing::RunCommand({SHOPLIST_CLI_BINARY, home, online, "sync"},
                                 absl::Seconds(30));
    if (r.exit_code == 0) {
      for (const auto& [list, item] : unacked) acked.Add(list, item);
      unacked.clear();
    }
  }
}

TEST(FaultTest, AcknowledgedWritesSurviveKillsFreezesAndAProxyLoss) {
  TempDir dir;
  Cluster cluster(2, 5, dir,
                  {"--anti-entropy-ms=500", "--replica-timeout-ms=500"});
  ASSERT_TRUE(cluster.WaitForView(0, 5, 5));
  ASSERT_TRUE(cluster.WaitForView(1, 5, 5));

  std::vector<std::string> lists;
  for (int i = 0; i < kLists; ++i) {
    std::string id = *crdt::NewListId();
    crdt::ListState client;
    v1::SyncRequest request;
    request.set_list_id(id);
    request.set_create(true);
    codec::EncodeState(*client.Create(0xFEED, absl::StrCat("list ", i), 1),
                       request.mutable_delta());
    v1::SyncResponse response;
    ASSERT_TRUE(cluster.gateway(0)
                    .Sync(Context(absl::Seconds(5)).get(), request, &response)
                    .ok());
    lists.push_back(id);
  }

  Acked acked;
  std::atomic<bool> faults_over{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back(Writer, w, std::ref(cluster), std::cref(lists),
                         std::ref(acked), std::cref(faults_over));
  }
  std::atomic<bool> stop_cli{false};
  std::thread cli(CliWriter, std::ref(cluster), std::cref(dir),
                  std::cref(lists), std::ref(acked), std::ref(stop_cli));

  // The nemesis: a fixed schedule of faults while the writers write.
  int kills = 0, freezes = 0;
  std::mt19937_64 rng(7);
  auto node = [&] { return static_cast<int>(rng() % cluster.nodes()); };
  auto kill_restart = [&](int count) {
    std::set<int> victims;
    while (static_cast<int>(victims.size()) < count) victims.insert(node());
    for (int v : victims) cluster.node(v).Kill();
    kills += count;
    absl::SleepFor(absl::Milliseconds(700 + rng() % 800));
    for (int v : victims) cluster.StartNode(v);
  };
  auto freeze = [&] {
    int v = node();
    cluster.node(v).Signal(SIGSTOP);
    ++freezes;
    absl::SleepFor(absl::Milliseconds(1000 + rng() % 1000));
    cluster.node(v).Signal(SIGCONT);
  };
  std::thread nemesis([&] {
    kill_restart(1);
    freeze();
    kill_restart(2);
    cluster.proxy(0).Kill();  // lose a proxy for good
    kill_restart(1);
    freeze();
    kill_restart(2);
    kill_restart(1);
    freeze();
    kill_restart(1);
    faults_over = true;
  });

  nemesis.join();
  for (std::thread& t : writers) t.join();
  stop_cli = true;
  cli.join();

  // Heal: every node running, the surviving proxy sees them all.
  for (int i = 0; i < cluster.nodes(); ++i) {
    cluster.node(i).Signal(SIGCONT);
    if (!cluster.node(i).running()) cluster.StartNode(i);
  }
  absl::Time heal = absl::Now();
  ASSERT_TRUE(cluster.WaitForView(1, 5, 5));

  // Converged: every owner of every list holds an identical state with
  // every acknowledged item.
  ring::Ring ring(cluster.Members(), 64);
  std::vector<std::unique_ptr<v1::ReplicaService::Stub>> nodes;
  for (int i = 0; i < cluster.nodes(); ++i) {
    nodes.push_back(v1::ReplicaService::NewStub(
        testing::FastChannel(cluster.node_address(i))));
  }
  auto index_of = [&](const std::string& id) {
    for (int i = 0; i < cluster.nodes(); ++i) {
      if (cluster.node_id(i) == id) return i;
    }
    return -1;
  };
  size_t lost = 0;
  bool identical = false;
  auto check = [&]() {
    lost = 0;
    bool all_identical = true;
    std::lock_guard<std::mutex> lock(acked.mu);
    for (const std::string& list : lists) {
      std::optional<std::string> first;
      for (const ring::Member* m : ring.Owners(list, kReplicas)) {
        v1::FetchRequest request;
        request.set_list_id(list);
        v1::FetchResponse response;
        if (!nodes[index_of(m->id)]
                 ->Fetch(Context(absl::Seconds(2)).get(), request, &response)
                 .ok() ||
            !response.found()) {
          all_identical = false;
          lost += acked.items[list].size();
          continue;
        }
        std::string bytes = response.state().SerializeAsString();
        if (first && *first != bytes) all_identical = false;
        if (!first) first = bytes;
        crdt::ListView view = codec::DecodeState(response.state())->View();
        std::map<std::string, int64_t> wanted;
        for (const auto& item : view.items) wanted[item.name] = item.wanted;
        for (const std::string& item : acked.items[list]) {
          if (wanted[item] != 1) ++lost;
        }
      }
    }
    identical = all_identical;
    return lost == 0 && identical;
  };
  bool converged = testing::WaitFor(absl::Seconds(90), check);
  int64_t converge_ms = absl::ToInt64Milliseconds(absl::Now() - heal);

  // Every client after sync: the CLI home sees everything acknowledged.
  auto r =
      testing::RunCommand({SHOPLIST_CLI_BINARY, "--home=" + dir.Sub("cli-home"),
                           "--proxy=" + cluster.proxy_address(1), "sync"},
                          absl::Seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  size_t cli_missing = 0;
  for (int l = 0; l < 3; ++l) {
    auto shown = testing::RunCommand(
        {SHOPLIST_CLI_BINARY, "--home=" + dir.Sub("cli-home"), "--json", "show",
         lists[l]},
        absl::Seconds(10));
    for (const std::string& item : acked.items[lists[l]]) {
      if (shown.out.find("\"name\":\"" + item + "\",\"wanted\":1,") ==
          std::string::npos) {
        ++cli_missing;
      }
    }
  }

  std::printf(
      "fault test: %d operations attempted, %d acknowledged, %zu lost, "
      "%zu missing in the CLI home after sync; nemesis: %d node kills, %d "
      "freezes, 1 proxy killed; converged in %lld ms after healing\n",
      acked.attempted.load(), acked.acknowledged.load(), lost, cli_missing,
      kills, freezes, static_cast<long long>(converge_ms));
  EXPECT_GE(acked.attempted.load(), 2000);
  EXPECT_TRUE(converged) << "lost " << lost
                         << ", replicas identical: " << identical;
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(cli_missing, 0u);
  // Nothing died that the nemesis did not kill.
  for (int i = 0; i < cluster.nodes(); ++i) {
    EXPECT_TRUE(cluster.node(i).running()) << cluster.node_id(i) << " crashed";
  }
  EXPECT_TRUE(cluster.proxy(1).running()) << "the surviving proxy crashed";
}

}  // namespace
}  // namespace shoplist
