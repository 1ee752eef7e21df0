// A Jepsen-style fault test against a real local cluster of 2 proxies and
// 4 nodes (N=3, R=2, W=2), each server under a user of its own in a private
// network namespace (in_netns.sh), so that iptables can cut any pair.
//
// Clients: four gRPC clients, each with its own replica of every list,
// sending its pending changes with Sync through one proxy (two per proxy),
// and one shoplist-cli home that works offline and syncs through the
// second proxy. Every client runs a random mix of add, remove, remove item,
// buy and rename on 8 shared lists; one client deletes one list. Each item
// belongs to one client, so a client knows what its items must hold. Every
// change is recorded with its outcome: acknowledged once a sync that
// carried it returned OK, otherwise unknown.
//
// The nemesis: halves of the cluster partitioned, one node cut off from
// all, SIGKILL and restart, SIGSTOP, a proxy cut from every node, and a
// bridge (one node that sees both sides that cannot see each other). Cuts
// drop packets silently, as real partitions do.
//
// The checker, after healing: through Get on every proxy and every node,
// and Fetch on every replica, all copies of every list agree, and each
// item holds what the client's own model (sums of its operations, computed
// independently of the CRDT) says after its last acknowledged change or
// after a later one that was not acknowledged (unknown ones may or may not
// be in); titles are the latest acknowledged rename or a later one; an
// acknowledged deletion is everywhere. It also requires availability: on a
// side of a partition holding a proxy and W nodes, the share of syncs
// acknowledged while cut off (after the failure detector's first seconds)
// must stay above kMinAvailability; and no process may die except by the
// nemesis (checked before each heal, by exit status on SIGTERM and in the
// logs).
//
// Run alone: ctest -R fault_test -V. A longer soak:
// SHOPLIST_FAULT_SOAK_SECONDS=600 ctest -R fault_test -V.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "gtest/gtest.h"
#include "ring/ring.h"
#include "shoplist/v1/replica_service.grpc.pb.h"
#include "tests/support/cluster.h"
#include "tests/support/partition.h"

namespace shoplist {
namespace {

using testing::Cluster;
using testing::Context;
using testing::Partitioner;
using testing::TempDir;

constexpr int kLists = 8;
constexpr int kGrpcClients = 4;
constexpr int kReplicas = 3;
// Syncs acknowledged, of those made on a side that holds a proxy and W
// nodes, once the failure detector had its first seconds.
constexpr double kMinAvailability = 0.9;
constexpr double kMinAcknowledged = 0.6;
constexpr absl::Duration kDetectorGrace = absl::Seconds(3);
constexpr absl::Duration kSyncDeadline = absl::Seconds(1);

// --- The model of one item, owned by one client: plain sums.
struct ItemModel {
  bool visible = false;
  int64_t wanted = 0;
  int64_t bought = 0;
  bool operator==(const ItemModel&) const = default;
};

std::string Describe(const ItemModel& m) {
  return m.visible ? absl::StrCat(m.wanted, "/", m.bought) : "off";
}

// One change, with the model of its item after it.
struct Change {
  std::string list;
  std::string item;  // empty for renames and the deletion
  std::string what;
  ItemModel after;
  std::string title;  // renames: the title and its register's timestamp
  uint64_t title_timestamp = 0;
  bool deletion = false;
  bool acknowledged = false;
};

// What one client did; written by its own thread only until joined.
struct History {
  std::vector<Change> changes;
  int syncs = 0, acknowledged_syncs = 0;
};

// Where each phase of the nemesis was, for the availability figures.
struct Phase {
  std::string name;
  absl::Time start, end;
  std::set<int> available_proxies;  // hold W reachable nodes
};

struct SyncAttempt {
  int proxy;
  absl::Time start;
  bool ok;
  std::string error;  // why it failed, for the figures
};

class Attempts {
 public:
  void Add(SyncAttempt a) {
    std::lock_guard<std::mutex> lock(mu_);
    all_.push_back(a);
  }
  std::vector<SyncAttempt> all() {
    std::lock_guard<std::mutex> lock(mu_);
    return all_;
  }

 private:
  std::mutex mu_;
  std::vector<SyncAttempt> all_;
};

// A gRPC client: its own replica of every list, pending changes per list,
// Sync through proxy `proxy` only.
class GrpcClient {
 public:
  GrpcClient(int k, int proxy, Cluster& cluster,
             const std::vector<std::string>& lists, Attempts& attempts)
      : k_(k),
        proxy_(proxy),
        me_(0xC0000 + k),
        cluster_(cluster),
        lists_(lists),
        attempts_(attempts),
        rng_(4000 + k) {}

  void Run(const std::atomic<bool>& stop, const std::string& deletes) {
    bool deleted = false;
    absl::Time started = absl::Now();
    while (!stop.load()) {
      const std::string& list = lists_[rng_() % lists_.size()];
      if (!deletes.empty() && !deleted &&
          absl::Now() - started > absl::Seconds(12)) {
        Delete(deletes);
        deleted = true;
        continue;
      }
      if (MakeChange(list)) Sync(list);
      absl::SleepFor(absl::Milliseconds(8));
    }
  }

  History& history() { return history_; }
  int proxy() const { return proxy_; }

 private:
  bool MakeChange(const std::string& list) {
    crdt::ListState& local = local_[list];
    if (local.deleted()) return false;
    const int kind = static_cast<int>(rng_() % 100);
    const int64_t n = 1 + static_cast<int64_t>(rng_() % 3);
    const std::string item = absl::StrCat("c", k_, "-i", rng_() % 5);
    ItemModel& m = models_[{list, item}];
    ItemModel after = m;
    absl::StatusOr<crdt::ListState> delta;
    std::string what;
    if (kind < 4) {
      const std::string title = absl::StrCat("c", k_, "-t", ++renames_);
      delta = local.Rename(me_, title, absl::ToUnixMicros(absl::Now()));
      if (!delta.ok()) return false;
      Change c;
      c.list = list;
      c.what = "rename";
      c.title = title;
      c.title_timestamp = delta->title()->timestamp_micros;
      return Record(list, *delta, std::move(c));
    }
    if (kind < 40 || !m.visible) {
      delta = local.Add(me_, item, n);
      after.visible = true;
      after.wanted += n;
      what = absl::StrCat("add ", n);
    } else if (kind < 55) {
      const int64_t removable = std::min(n, m.wanted);
      if (removable == 0) return false;
      delta = local.Remove(me_, item, n);
      after.wanted -= removable;
      what = absl::StrCat("remove ", n);
    } else if (kind < 65) {
      delta = local.RemoveItem(me_, item);
      after = ItemModel{};
      what = "remove item";
    } else if (kind < 85) {
      const int64_t still = m.wanted - m.bought;
      if (still <= 0) return false;
      delta = local.Buy(me_, item, 0);
      after.bought += still;
      what = "buy all";
    } else {
      delta = local.Buy(me_, item, n);
      after.bought += n;
      what = absl::StrCat("buy ", n);
    }
    EXPECT_TRUE(delta.ok()) << what << " " << item << ": " << delta.status();
    if (!delta.ok()) return false;
    m = after;
    // The CRDT agrees with the model on what this client alone changes.
    std::optional<crdt::ItemView> shown = local.ItemViewOf(item);
    const ItemModel seen = shown && shown->visible
                               ? ItemModel{true, shown->wanted, shown->bought}
                               : ItemModel{};
    EXPECT_EQ(seen, after) << "client " << k_ << " " << item << " after "
                           << what;
    Change c;
    c.list = list;
    c.item = item;
    c.what = what;
    c.after = after;
    return Record(list, *delta, std::move(c));
  }

  bool Record(const std::string& list, const crdt::ListState& delta,
              Change change) {
    pending_[list].Merge(delta);
    pending_changes_[list].push_back(history_.changes.size());
    history_.changes.push_back(std::move(change));
    return true;
  }

  void Delete(const std::string& list) {
    crdt::ListState tombstone = local_[list].Delete();
    pending_[list] = tombstone;
    pending_changes_[list].push_back(history_.changes.size());
    Change c;
    c.list = list;
    c.what = "delete";
    c.deletion = true;
    history_.changes.push_back(c);
    Sync(list);
  }

  void Sync(const std::string& list) {
    v1::SyncRequest request;
    request.set_list_id(list);
    codec::EncodeState(pending_[list], request.mutable_delta());
    codec::EncodeContext(local_[list].context(), request.mutable_known());
    v1::SyncResponse response;
    const absl::Time start = absl::Now();
    grpc::Status status = cluster_.gateway(proxy_).Sync(
        Context(kSyncDeadline).get(), request, &response);
    ++history_.syncs;
    attempts_.Add({proxy_, start, status.ok(),
                   status.ok() ? "" : status.error_message().substr(0, 80)});
    if (!status.ok()) {
      // Only "may or may not have happened" is acceptable here.
      EXPECT_TRUE(status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                  status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
          << status.error_code() << ": " << status.error_message();
      return;
    }
    ++history_.acknowledged_syncs;
    for (size_t i : pending_changes_[list]) {
      history_.changes[i].acknowledged = true;
    }
    pending_changes_[list].clear();
    pending_[list] = crdt::ListState();
    absl::StatusOr<crdt::ListState> missing =
        codec::DecodeState(response.missing());
    EXPECT_TRUE(missing.ok()) << missing.status();
    if (missing.ok()) local_[list].Merge(*missing);
  }

  const int k_;
  const int proxy_;
  const crdt::ReplicaId me_;
  Cluster& cluster_;
  const std::vector<std::string>& lists_;
  Attempts& attempts_;
  std::mt19937_64 rng_;
  std::map<std::string, crdt::ListState> local_, pending_;
  std::map<std::string, std::vector<size_t>> pending_changes_;
  std::map<std::pair<std::string, std::string>, ItemModel> models_;
  int renames_ = 0;
  History history_;
};

// A shoplist-cli home: changes offline (each must succeed), then a sync
// through proxy `proxy`; a sync that exits 0 acknowledges all before it.
class CliClient {
 public:
  CliClient(int proxy, Cluster& cluster, const TempDir& dir,
            std::vector<std::string> lists, Attempts& attempts)
      : proxy_(proxy),
        cluster_(cluster),
        home_("--home=" + dir.Sub("cli-home")),
        lists_(std::move(lists)),
        attempts_(attempts) {}

  void Run(const std::atomic<bool>& stop) {
    const std::string online = "--proxy=" + cluster_.proxy_address(proxy_);
    for (const std::string& list : lists_) {
      auto r = Cli({online, "join", list}, absl::Seconds(20));
      ASSERT_EQ(r.exit_code, 0) << "join: " << r.err;
    }
    std::mt19937_64 rng(77);
    std::vector<size_t> unacknowledged;
    while (!stop.load()) {
      for (int i = 0; i < 3; ++i) {
        const std::string& list = lists_[rng() % lists_.size()];
        const std::string item = absl::StrCat("cli-i", rng() % 4);
        ItemModel& m = models_[{list, item}];
        ItemModel after = m;
        std::vector<std::string> args = {"--proxy=127.0.0.1:1"};
        const int64_t n = 1 + static_cast<int64_t>(rng() % 3);
        const int kind = static_cast<int>(rng() % 10);
        if (kind < 5 || !m.visible) {
          args.insert(args.end(), {"add", list, item, absl::StrCat(n)});
          after.visible = true;
          after.wanted += n;
        } else if (kind < 7 && m.wanted > m.bought) {
          args.insert(args.end(), {"buy", list, item});
          after.bought = after.wanted;
        } else if (kind < 9 && m.wanted > 0) {
          args.insert(args.end(), {"remove", list, item, "1"});
          after.wanted -= 1;
        } else {
          args.insert(args.end(), {"remove", list, item});
          after = ItemModel{};
        }
        auto r = Cli(args, absl::Seconds(20));
        // Working offline is the point: every local change must succeed.
        ASSERT_EQ(r.exit_code, 0)
            << absl::StrJoin(args, " ") << ": " << r.out << r.err;
        m = after;
        unacknowledged.push_back(history_.changes.size());
        Change c;
        c.list = list;
        c.item = item;
        c.what = args[1] + " " + args.back();
        c.after = after;
        history_.changes.push_back(std::move(c));
      }
      const absl::Time start = absl::Now();
      auto r = Cli({online, "sync"}, absl::Seconds(30));
      ++history_.syncs;
      attempts_.Add({proxy_, start, r.exit_code == 0,
                     r.exit_code == 0 ? "" : "cli: " + r.err.substr(0, 80)});
      if (r.exit_code == 0) {
        ++history_.acknowledged_syncs;
        for (size_t i : unacknowledged) history_.changes[i].acknowledged = true;
        unacknowledged.clear();
      }
    }
  }

  testing::CommandResult Cli(std::vector<std::string> args,
                             absl::Duration timeout) {
    args.insert(args.begin(), {SHOPLIST_CLI_BINARY, home_});
    return testing::RunCommand(args, timeout);
  }

  History& history() { return history_; }

 private:
  const int proxy_;
  Cluster& cluster_;
  const std::string home_;
  const std::vector<std::string> lists_;
  Attempts& attempts_;
  std::map<std::pair<std::string, std::string>, ItemModel> models_;
  History history_;
};

// What a converged copy of a list shows.
struct Copy {
  bool deleted = false;
  std::string title;
  std::map<std::string, ItemModel> items;
  bool operator==(const Copy&) const = default;
};

Copy CopyOf(const crdt::ListState& state) {
  Copy c;
  crdt::ListView view = state.View();
  c.deleted = view.deleted;
  c.title = view.title;
  for (const crdt::ItemView& i : view.items) {
    c.items[i.name] = ItemModel{true, i.wanted, i.bought};
  }
  return c;
}

std::string Describe(const Copy& c) {
  if (c.deleted) return "deleted";
  std::vector<std::string> parts = {"'" + c.title + "'"};
  for (const auto& [name, m] : c.items) {
    parts.push_back(name + "=" + Describe(m));
  }
  return absl::StrJoin(parts, " ");
}

TEST(FaultTest, AcknowledgedChangesSurvivePartitionsKillsAndFreezes) {
  if (!Partitioner::Available()) {
    GTEST_SKIP() << "needs root and a private network namespace: run it "
                    "through ctest (tests/system/in_netns.sh)";
  }
  TempDir dir;
  testing::ClusterOptions options;
  options.separate_uids = true;
  // Marks first: every connection the servers open must carry one.
  Partitioner net({testing::kProxyUid, testing::kProxyUid + 1,
                   testing::kNodeUid, testing::kNodeUid + 1,
                   testing::kNodeUid + 2, testing::kNodeUid + 3});
  Cluster cluster(2, 4, dir,
                  {"--anti-entropy-ms=500", "--replica-timeout-ms=500"},
                  options);
  for (int p = 0; p < cluster.proxies(); ++p) {
    net.Add(absl::StrCat("p", p),
            {cluster.proxy_uid(p), testing::PortOf(cluster.proxy_address(p))});
  }
  for (int i = 0; i < cluster.nodes(); ++i) {
    net.Add(absl::StrCat("n", i),
            {cluster.node_uid(i), testing::PortOf(cluster.node_address(i))});
  }
  ASSERT_TRUE(cluster.WaitForView(0, 4, 4));
  ASSERT_TRUE(cluster.WaitForView(1, 4, 4));

  std::vector<std::string> lists;
  for (int i = 0; i < kLists; ++i) {
    std::string id = *crdt::NewListId();
    crdt::ListState creator;
    v1::SyncRequest request;
    request.set_list_id(id);
    request.set_create(true);
    codec::EncodeState(*creator.Create(0xFEED, absl::StrCat("list ", i), 1),
                       request.mutable_delta());
    v1::SyncResponse response;
    grpc::Status status = cluster.gateway(0).Sync(
        Context(absl::Seconds(5)).get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_GE(response.acks(), 2u);
    lists.push_back(id);
  }

  Attempts attempts;
  std::vector<std::unique_ptr<GrpcClient>> clients;
  for (int k = 0; k < kGrpcClients; ++k) {
    clients.push_back(
        std::make_unique<GrpcClient>(k, k % 2, cluster, lists, attempts));
  }
  CliClient cli(1, cluster, dir, {lists[0], lists[1]}, attempts);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int k = 0; k < kGrpcClients; ++k) {
    threads.emplace_back(
        [&, k] { clients[k]->Run(stop, k == 0 ? lists[kLists - 1] : ""); });
  }
  threads.emplace_back([&] { cli.Run(stop); });

  // --- The nemesis.
  std::vector<Phase> phases;
  std::set<int> killed;  // nodes down on purpose right now
  auto check_alive = [&](const std::string& when) {
    for (int i = 0; i < cluster.nodes(); ++i) {
      if (!killed.count(i)) {
        EXPECT_TRUE(cluster.node(i).running())
            << "node " << i << " died " << when;
      }
    }
    for (int p = 0; p < cluster.proxies(); ++p) {
      EXPECT_TRUE(cluster.proxy(p).running())
          << "proxy " << p << " died " << when;
    }
  };
  auto phase = [&](const std::string& name, absl::Duration length,
                   std::set<int> available, const std::function<void()>& cut) {
    Phase ph{name, absl::Now(), {}, std::move(available)};
    cut();
    absl::SleepFor(length);
    check_alive("during " + name);
    ASSERT_TRUE(net.Heal().ok());
    ph.end = absl::Now();
    phases.push_back(ph);
  };
  const std::vector<std::string> all = {"p0", "p1", "n0", "n1", "n2", "n3"};
  auto cut = [&](std::vector<std::string> a, std::vector<std::string> b) {
    absl::Status s = net.Cut(a, b);
    ASSERT_TRUE(s.ok()) << s;
  };
  auto run_schedule = [&] {
    phase("calm", absl::Seconds(3), {0, 1}, [] {});
    // p0 no longer hears n2 and n3, so it marks them down, and the streams
    // they opened before still tell them so.
    phase("halves, p0 still heard by n2 n3", absl::Seconds(7), {0, 1}, [&] {
      cut({"p0", "n0", "n1"}, {"p1"});
      cut({"n0", "n1"}, {"n2", "n3"});
      absl::Status s = net.CutOneWay({"n2", "n3"}, {"p0"});
      ASSERT_TRUE(s.ok()) << s;
    });
    phase("healed", absl::Seconds(3), {0, 1}, [] {});
    phase("halves {p0 n0 n1} | {p1 n2 n3}", absl::Seconds(7), {0, 1}, [&] {
      cut({"p0", "n0", "n1"}, {"p1", "n2", "n3"});
    });
    phase("healed", absl::Seconds(3), {0, 1}, [] {});
    phase("n3 cut off from all", absl::Seconds(5), {0, 1}, [&] {
      cut({"n3"}, {"p0", "p1", "n0", "n1", "n2"});
    });
    phase("kill -9 n1, SIGSTOP n2", absl::Seconds(5), {0, 1}, [&] {
      cluster.node(1).Kill();
      killed.insert(1);
      cluster.node(2).Signal(SIGSTOP);
      std::thread([&] {
        absl::SleepFor(absl::Seconds(2));
        cluster.node(2).Signal(SIGCONT);
        cluster.StartNode(1);
        killed.erase(1);
      }).join();
    });
    phase("p0 cut from every node", absl::Seconds(5), {1}, [&] {
      cut({"p0"}, {"n0", "n1", "n2", "n3"});
    });
    phase("bridge n0; {p0 n1} | {p1 n2 n3}", absl::Seconds(6), {0, 1}, [&] {
      cut({"p0", "n1"}, {"p1", "n2", "n3"});
    });
  };
  run_schedule();
  if (const char* soak = std::getenv("SHOPLIST_FAULT_SOAK_SECONDS")) {
    const absl::Time until = absl::Now() + absl::Seconds(std::atoi(soak));
    while (absl::Now() < until && !::testing::Test::HasFatalFailure()) {
      run_schedule();
    }
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  check_alive("by the end");

  // --- Heal and converge.
  for (int i = 0; i < cluster.nodes(); ++i) {
    cluster.node(i).Signal(SIGCONT);
    if (!cluster.node(i).running()) cluster.StartNode(i);
  }
  const absl::Time heal = absl::Now();
  ASSERT_TRUE(cluster.WaitForView(0, 4, 4));
  ASSERT_TRUE(cluster.WaitForView(1, 4, 4));

  ring::Ring ring(cluster.Members(), 64);
  std::vector<std::unique_ptr<v1::ReplicaService::Stub>> replicas;
  for (int i = 0; i < cluster.nodes(); ++i) {
    replicas.push_back(v1::ReplicaService::NewStub(
        testing::FastChannel(cluster.node_address(i))));
  }
  auto index_of = [&](const std::string& id) {
    for (int i = 0; i < cluster.nodes(); ++i) {
      if (cluster.node_id(i) == id) return i;
    }
    return -1;
  };
  // Every copy of each list: Fetch on its replicas, Get through every
  // proxy and every node. Empty when some copy could not be read or two
  // differ.
  std::string disagreement;
  auto converged_copy = [&](const std::string& list) -> std::optional<Copy> {
    std::vector<std::pair<std::string, Copy>> copies;
    std::optional<std::string> first_bytes;
    for (const ring::Member* m : ring.Owners(list, kReplicas)) {
      v1::FetchRequest request;
      request.set_list_id(list);
      v1::FetchResponse response;
      grpc::Status s = replicas[index_of(m->id)]->Fetch(
          Context(absl::Seconds(2)).get(), request, &response);
      if (!s.ok() || !response.found()) {
        disagreement = "fetch from " + m->id + " failed";
        return std::nullopt;
      }
      const std::string bytes = response.state().SerializeAsString();
      if (first_bytes && *first_bytes != bytes) {
        disagreement = "replica " + m->id + " differs";
        return std::nullopt;
      }
      first_bytes = bytes;
      copies.emplace_back("fetch " + m->id,
                          CopyOf(*codec::DecodeState(response.state())));
    }
    auto get = [&](v1::ListService::Stub& stub, const std::string& via) {
      v1::GetRequest request;
      request.set_list_id(list);
      v1::GetResponse response;
      grpc::Status s =
          stub.Get(Context(absl::Seconds(3)).get(), request, &response);
      if (!s.ok()) return false;
      absl::StatusOr<crdt::ListState> state =
          codec::DecodeState(response.state());
      if (!state.ok()) return false;
      copies.emplace_back(via, CopyOf(*state));
      return true;
    };
    for (int p = 0; p < cluster.proxies(); ++p) {
      if (!get(cluster.gateway(p), absl::StrCat("get via p", p))) {
        disagreement = absl::StrCat("get via p", p, " failed");
        return std::nullopt;
      }
    }
    for (int i = 0; i < cluster.nodes(); ++i) {
      if (!get(cluster.node_lists(i), absl::StrCat("get via n", i))) {
        disagreement = absl::StrCat("get via n", i, " failed");
        return std::nullopt;
      }
    }
    for (const auto& [via, copy] : copies) {
      if (!(copy == copies[0].second)) {
        disagreement = via + " shows " + Describe(copy) + ", " +
                       copies[0].first + " shows " + Describe(copies[0].second);
        return std::nullopt;
      }
    }
    return copies[0].second;
  };
  std::map<std::string, Copy> final_copies;
  const bool converged = testing::WaitFor(absl::Seconds(60), [&] {
    final_copies.clear();
    for (const std::string& list : lists) {
      std::optional<Copy> copy = converged_copy(list);
      if (!copy) return false;
      final_copies[list] = *copy;
    }
    return true;
  });
  const int64_t converge_ms = absl::ToInt64Milliseconds(absl::Now() - heal);
  EXPECT_TRUE(converged) << "not converged 60 s after healing: "
                         << disagreement;
  if (!converged) {
    // Check what a client reads, to count what is lost.
    for (const std::string& list : lists) {
      v1::GetRequest request;
      request.set_list_id(list);
      v1::GetResponse response;
      if (cluster.gateway(1)
              .Get(Context(absl::Seconds(3)).get(), request, &response)
              .ok()) {
        final_copies[list] = CopyOf(*codec::DecodeState(response.state()));
      }
    }
  }

  // --- The checker.
  std::vector<History*> histories;
  for (auto& c : clients) histories.push_back(&c->history());
  histories.push_back(&cli.history());
  int changes = 0, acknowledged = 0, lost = 0, syncs = 0, acked_syncs = 0;
  std::set<std::string> deleted_for_sure, maybe_deleted;
  std::map<std::string, uint64_t> latest_acked_rename;
  std::map<std::string, std::map<std::string, uint64_t>> renames;  // title
  for (History* h : histories) {
    syncs += h->syncs;
    acked_syncs += h->acknowledged_syncs;
    for (const Change& c : h->changes) {
      ++changes;
      acknowledged += c.acknowledged;
      if (c.deletion) {
        (c.acknowledged ? deleted_for_sure : maybe_deleted).insert(c.list);
      }
      if (!c.title.empty()) {
        renames[c.list][c.title] = c.title_timestamp;
        if (c.acknowledged) {
          latest_acked_rename[c.list] =
              std::max(latest_acked_rename[c.list], c.title_timestamp);
        }
      }
    }
  }
  for (const std::string& list : lists) {
    const Copy& copy = final_copies[list];
    if (deleted_for_sure.count(list)) {
      EXPECT_TRUE(copy.deleted) << "an acknowledged deletion of " << list
                                << " was lost: " << Describe(copy);
      lost += !copy.deleted;
      continue;
    }
    if (copy.deleted) {
      EXPECT_TRUE(maybe_deleted.count(list)) << list << " deleted by nobody";
      continue;
    }
    // The title: the latest acknowledged rename, or a later one.
    if (latest_acked_rename.count(list)) {
      auto it = renames[list].find(copy.title);
      const bool ok =
          it != renames[list].end() && it->second >= latest_acked_rename[list];
      EXPECT_TRUE(ok) << list << " is titled '" << copy.title
                      << "', older than an acknowledged rename";
      lost += !ok;
    }
  }
  // Each item: what its owner's model says after its last acknowledged
  // change or any later one (those may or may not be in).
  for (History* h : histories) {
    std::map<std::pair<std::string, std::string>, std::vector<const Change*>>
        by_item;
    for (const Change& c : h->changes) {
      if (!c.item.empty()) by_item[{c.list, c.item}].push_back(&c);
    }
    for (const auto& [key, item_changes] : by_item) {
      const auto& [list, item] = key;
      if (final_copies[list].deleted) continue;
      size_t from = 0;  // before the first change: absent
      for (size_t i = 0; i < item_changes.size(); ++i) {
        if (item_changes[i]->acknowledged) from = i + 1;
      }
      std::vector<ItemModel> allowed;
      if (from == 0) allowed.push_back(ItemModel{});
      for (size_t i = from == 0 ? 0 : from - 1; i < item_changes.size(); ++i) {
        allowed.push_back(item_changes[i]->after);
      }
      auto it = final_copies[list].items.find(item);
      const ItemModel got =
          it == final_copies[list].items.end() ? ItemModel{} : it->second;
      if (std::find(allowed.begin(), allowed.end(), got) == allowed.end()) {
        ++lost;
        std::vector<std::string> want;
        for (const ItemModel& m : allowed) want.push_back(Describe(m));
        ADD_FAILURE() << item << " on " << list << " shows " << Describe(got)
                      << "; its changes allow " << absl::StrJoin(want, " or ")
                      << " (last acknowledged: "
                      << (from == 0 ? "none" : item_changes[from - 1]->what)
                      << ")";
      }
    }
  }

  // --- Availability while cut off.
  std::vector<SyncAttempt> all_attempts = attempts.all();
  std::vector<std::string> figures;
  double worst = 1.0;
  for (const Phase& ph : phases) {
    std::vector<std::string> sides;
    for (int p : ph.available_proxies) {
      int made = 0, ok = 0;
      std::map<std::string, int> errors;
      for (const SyncAttempt& a : all_attempts) {
        if (a.proxy == p && a.start >= ph.start + kDetectorGrace &&
            a.start < ph.end) {
          ++made;
          ok += a.ok;
          if (!a.ok) ++errors[a.error];
        }
      }
      for (const auto& [error, count] : errors) {
        std::printf("  %s, via p%d: %d failed: %s\n", ph.name.c_str(), p, count,
                    error.c_str());
      }
      if (made == 0) continue;
      const double share = static_cast<double>(ok) / made;
      worst = std::min(worst, share);
      sides.push_back(absl::StrCat("via p", p, " ", ok, "/", made));
    }
    figures.push_back(ph.name + ": " + absl::StrJoin(sides, ", "));
  }

  std::printf(
      "fault test: %d changes, %d acknowledged, %d lost; %d syncs, %d "
      "acknowledged (%.0f%%); converged %lld ms after healing\n",
      changes, acknowledged, lost, syncs, acked_syncs,
      100.0 * acked_syncs / std::max(1, syncs),
      static_cast<long long>(converge_ms));
  for (const Phase& ph : phases) {
    std::printf(
        "  phase %s from %s\n", ph.name.c_str(),
        absl::FormatTime("%H:%M:%E3S", ph.start, absl::UTCTimeZone()).c_str());
  }
  std::printf("availability after the first %lld s of each phase:\n  %s\n",
              static_cast<long long>(absl::ToInt64Seconds(kDetectorGrace)),
              absl::StrJoin(figures, "\n  ").c_str());
  EXPECT_EQ(lost, 0);
  EXPECT_GE(static_cast<double>(acked_syncs) / std::max(1, syncs),
            kMinAcknowledged);
  EXPECT_GE(worst, kMinAvailability)
      << "a side holding a proxy and W nodes refused writes";

  // Kept for a look when asked (the folder goes with the test).
  if (const char* keep = std::getenv("SHOPLIST_FAULT_LOGS")) {
    testing::RunCommand({"/bin/sh", "-c",
                         absl::StrCat("mkdir -p ", keep, " && cp ", dir.path(),
                                      "/*.log ", keep)},
                        absl::Seconds(10));
  }

  // Every server stops cleanly, and no log shows a crash.
  for (int i = 0; i < cluster.nodes(); ++i) cluster.node(i).Signal(SIGTERM);
  for (int p = 0; p < cluster.proxies(); ++p) cluster.proxy(p).Signal(SIGTERM);
  // The end of a log: where a crash's stack is (the servers' failure
  // signal handler writes it there).
  auto tail = [](const std::string& path) {
    const std::string text = testing::ReadFile(path);
    return text.substr(text.size() > 4000 ? text.size() - 4000 : 0);
  };
  for (int i = 0; i < cluster.nodes(); ++i) {
    EXPECT_EQ(cluster.node(i).Wait(absl::Seconds(15)), 0)
        << "node " << i << "; its log ends:\n"
        << tail(cluster.node(i).log_path());
  }
  for (int p = 0; p < cluster.proxies(); ++p) {
    EXPECT_EQ(cluster.proxy(p).Wait(absl::Seconds(15)), 0) << "proxy " << p;
  }
  for (const std::string& log :
       {cluster.node(0).log_path(), cluster.node(1).log_path(),
        cluster.node(2).log_path(), cluster.node(3).log_path(),
        cluster.proxy(0).log_path(), cluster.proxy(1).log_path()}) {
    const std::string text = testing::ReadFile(log);
    for (const char* crash :
         {"Check failed", "terminate called", "Segmentation",
          "AddressSanitizer", "[critical]", "received at time="}) {
      EXPECT_EQ(text.find(crash), std::string::npos) << log << ": " << crash;
    }
  }
}

}  // namespace
}  // namespace shoplist
