// A rolling restart under load, as a Kubernetes rolling update does it:
// real proxies and three real nodes; 64 clients write and read through the
// proxies without pause while every node, then every proxy, in turn gets
// SIGTERM, drains, stops and is started again, for several rounds.
//
// It requires what an operator needs of a routine restart: no server dies
// other than by the test's own SIGTERM (each of those exits 0); no call
// fails (a client retries a call the way shoplist-cli does, at the next
// proxy, or at the same one when it is alone, and a retried call counts
// as one); no acknowledged write is lost (every list is read back at the
// end). It prints the p99 latency during the restarts beside the p99
// before them.
//
// Writes are Syncs of a delta that adds 1 to one of a client's items, as
// shoplist-cli sends its changes; reads are Gets. Both are idempotent,
// which is what lets a client retry them anywhere. Each item has one
// writer, so at the end it must want at least the adds acknowledged and at
// most the adds sent. Lists keep their size (8 items a client), so the
// latencies before and during the restarts compare like with like.
//
// SHOPLIST_ROLLING_ROUNDS sets the rounds (default 2). With
// SHOPLIST_UPGRADE_FROM set to another build's folder, the cluster starts
// on that build's servers and every restart starts this build's: the
// first round is a rolling upgrade under load, one server at a time
// (scripts/upgrade_test.sh builds a former version and runs it).
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "codec/list_codec.h"
#include "crdt/list_state.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "shoplist/v1/list_service.grpc.pb.h"
#include "tests/support/cluster.h"
#include "tests/support/lists.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace shoplist {
namespace {

using testing::Cluster;
using testing::TempDir;

constexpr int kNodes = 3;
constexpr int kClients = 64;
// Four lists a client, each written by its client alone, so that every
// node coordinates writes of many lists.
constexpr int kLists = 4 * kClients;
// A call is retried until this long after it began; past it, it fails.
constexpr absl::Duration kCallDeadline = absl::Seconds(20);
// The deadline of one attempt.
constexpr absl::Duration kAttemptDeadline = absl::Seconds(5);

int Rounds() {
  const char* rounds = std::getenv("SHOPLIST_ROLLING_ROUNDS");
  return rounds != nullptr && std::atoi(rounds) > 0 ? std::atoi(rounds) : 2;
}

// Errors that mean "this proxy could not serve it now": a client tries
// again, at the next proxy.
bool Retryable(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
      return true;
    default:
      return false;
  }
}

enum Phase { kBefore = 0, kRestarting = 1, kAfter = 2 };

// A client's items in each of its lists.
constexpr int kItemsPerList = 8;

struct Adds {
  int64_t acknowledged = 0;
  int64_t sent = 0;
};

// What the clients measured and were told.
struct Outcome {
  int64_t calls = 0;
  int64_t retries = 0;  // attempts past each call's first
  std::vector<std::string> failures;
  std::vector<int64_t> latencies_us[3];  // by the phase a call began in
  // Per list and item, the adds acknowledged and the adds sent.
  std::map<std::string, std::map<std::string, Adds>> adds;
};

int64_t P99(std::vector<int64_t> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, v.size() * 99 / 100)];
}

// kClients closed loops on gRPC's asynchronous API (as shoplist-bench
// drives a cluster, so the servers see a real load): each client
// alternates a write to its list and a read of another. A call that fails
// retryably is tried again 20 ms later at the next proxy.
class Load {
 public:
  Load(Cluster& cluster, std::vector<std::string> lists)
      : lists_(std::move(lists)), retrier_([this] { RetryLoop(); }) {
    for (int p = 0; p < cluster.proxies(); ++p) {
      stubs_.push_back(v1::ListService::NewStub(
          testing::FastChannel(cluster.proxy_address(p))));
    }
    for (int c = 0; c < kClients; ++c) {
      clients_.push_back(std::make_unique<Client>(c, lists_));
    }
    running_ = kClients;
    for (auto& client : clients_) Next(client.get());
  }

  ~Load() {
    if (!stopped_) Stop();
  }

  void set_phase(Phase phase) { phase_ = phase; }

  // Lets each client finish its call in flight, then gathers what they saw.
  Outcome Stop() {
    stop_ = true;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](int* running) { return *running == 0; }, &running_));
      stopped_ = true;
    }
    retrier_.join();
    Outcome outcome;
    for (auto& client : clients_) {
      outcome.calls += client->calls;
      outcome.retries += client->retries;
      for (int p = 0; p < 3; ++p) {
        outcome.latencies_us[p].insert(outcome.latencies_us[p].end(),
                                       client->latencies_us[p].begin(),
                                       client->latencies_us[p].end());
      }
      for (const auto& [list, items] : client->adds) {
        outcome.adds[list].insert(items.begin(), items.end());
      }
      outcome.failures.insert(outcome.failures.end(), client->failures.begin(),
                              client->failures.end());
    }
    return outcome;
  }

 private:
  // One closed loop. Touched by one call's callbacks at a time.
  struct Client {
    Client(int index, const std::vector<std::string>& lists)
        : index(index), replica(0xC10000 + index), proxy(index) {
      for (size_t l = index; l < lists.size(); l += kClients) {
        states[lists[l]];
      }
    }
    const int index;
    const crdt::ReplicaId replica;
    // This client's replicas of the lists it writes.
    std::map<std::string, crdt::ListState> states;
    int n = 0;     // calls begun
    size_t proxy;  // where the next attempt goes
    // The call in flight.
    bool write = false;
    std::string list, item;
    Phase phase = kBefore;
    absl::Time start, deadline;
    std::unique_ptr<grpc::ClientContext> context;
    v1::SyncRequest sync;
    v1::SyncResponse synced;
    v1::GetRequest get;
    v1::GetResponse got;
    // What it saw.
    int64_t calls = 0, retries = 0;
    std::vector<int64_t> latencies_us[3];
    std::map<std::string, std::map<std::string, Adds>> adds;
    std::vector<std::string> failures;
  };

  void Next(Client* c) {
    if (stop_) {
      absl::MutexLock lock(&mu_);
      --running_;
      return;
    }
    c->phase = phase_;
    c->start = absl::Now();
    c->deadline = c->start + kCallDeadline;
    c->write = c->n % 2 == 0;
    if (c->write) {
      auto list = std::next(c->states.begin(),
                            (c->n / 2) % static_cast<int>(c->states.size()));
      c->list = list->first;
      c->item = absl::StrCat("c", c->index, "-",
                             (c->n / 2 / c->states.size()) % kItemsPerList);
      ++c->adds[c->list][c->item].sent;
      absl::StatusOr<crdt::ListState> delta =
          list->second.Add(c->replica, c->item, 1);
      if (!delta.ok()) {
        c->failures.push_back(delta.status().ToString());
        absl::MutexLock lock(&mu_);
        --running_;
        return;
      }
      c->sync.Clear();
      c->sync.set_list_id(c->list);
      codec::EncodeState(*delta, c->sync.mutable_delta());
      codec::EncodeContext(list->second.context(), c->sync.mutable_known());
    } else {
      c->get.set_list_id(lists_[(c->index * 7 + c->n) % lists_.size()]);
    }
    ++c->n;
    Attempt(c);
  }

  void Attempt(Client* c) {
    c->context = std::make_unique<grpc::ClientContext>();
    c->context->set_deadline(absl::ToChronoTime(
        std::min(c->deadline, absl::Now() + kAttemptDeadline)));
    v1::ListService::Stub* stub = stubs_[c->proxy % stubs_.size()].get();
    auto done = [this, c](grpc::Status status) { Answered(c, status); };
    if (c->write) {
      stub->async()->Sync(c->context.get(), &c->sync, &c->synced, done);
    } else {
      stub->async()->Get(c->context.get(), &c->get, &c->got, done);
    }
  }

  void Answered(Client* c, const grpc::Status& status) {
    const absl::Time now = absl::Now();
    if (!status.ok() && Retryable(status) && now < c->deadline) {
      ++c->retries;
      ++c->proxy;
      absl::MutexLock lock(&mu_);
      retry_.push_back({now + absl::Milliseconds(20), c});
      return;
    }
    ++c->calls;
    if (!status.ok()) {
      c->failures.push_back(absl::StrCat(c->write ? "Sync " : "Get ",
                                         status.error_code(), ": ",
                                         status.error_message()));
    } else {
      c->latencies_us[c->phase].push_back(
          absl::ToInt64Microseconds(now - c->start));
      if (c->write) {
        ++c->adds[c->list][c->item].acknowledged;
        if (auto missing = codec::DecodeState(c->synced.missing());
            missing.ok()) {
          c->states[c->list].Merge(*missing);
        }
      }
    }
    Next(c);
  }

  // Starts the retries whose time has come, until every client stopped.
  void RetryLoop() {
    while (true) {
      std::vector<Client*> due;
      {
        absl::MutexLock lock(&mu_);
        if (stopped_ && retry_.empty()) return;
        const absl::Time now = absl::Now();
        while (!retry_.empty() && retry_.front().first <= now) {
          due.push_back(retry_.front().second);
          retry_.pop_front();
        }
      }
      for (Client* c : due) Attempt(c);
      absl::SleepFor(absl::Milliseconds(5));
    }
  }

  const std::vector<std::string> lists_;
  std::vector<std::unique_ptr<v1::ListService::Stub>> stubs_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::atomic<bool> stop_{false};
  std::atomic<Phase> phase_{kBefore};
  absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;  // clients not yet stopped
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // Clients waiting to try again, by when (in order: each waits 20 ms).
  std::deque<std::pair<absl::Time, Client*>> retry_ ABSL_GUARDED_BY(mu_);
  std::thread retrier_;
};

class RollingRestartTest : public ::testing::Test {
 protected:
  void Run(int proxies) {
    testing::ClusterOptions options;
    const char* from = std::getenv("SHOPLIST_UPGRADE_FROM");
    if (from != nullptr && *from != '\0') {
      options.node_binary = absl::StrCat(from, "/services/node/shoplist-node");
      options.proxy_binary =
          absl::StrCat(from, "/services/proxy/shoplist-proxy");
      std::printf("upgrading from the servers in %s\n", from);
    }
    Cluster cluster(proxies, kNodes, dir_, {}, options);
    for (int p = 0; p < proxies; ++p) {
      ASSERT_TRUE(cluster.WaitForView(p, kNodes, kNodes));
    }
    std::vector<std::string> lists = CreateLists(cluster);
    ASSERT_EQ(lists.size(), static_cast<size_t>(kLists));

    Load load(cluster, lists);
    absl::SleepFor(absl::Seconds(5));
    load.set_phase(kRestarting);
    cluster.UseBinaries("", "");  // every restart starts this build's
    const absl::Time restarts_began = absl::Now();
    int restarts = 0;
    for (int round = 0; round < Rounds(); ++round) {
      for (int i = 0; i < kNodes; ++i) {
        Restart(cluster.node(i), "node", i, [&] { cluster.StartNode(i); });
        ++restarts;
        ASSERT_TRUE(AllBack(cluster)) << "node-" << i << " did not come back";
        absl::SleepFor(absl::Seconds(1));
      }
      for (int p = 0; p < proxies; ++p) {
        Restart(cluster.proxy(p), "proxy", p, [&] { cluster.StartProxy(p); });
        ++restarts;
        ASSERT_TRUE(AllBack(cluster)) << "proxy-" << p << " did not come back";
        absl::SleepFor(absl::Seconds(1));
      }
    }
    const absl::Duration restarting = absl::Now() - restarts_began;
    load.set_phase(kAfter);
    absl::SleepFor(absl::Seconds(2));
    Outcome outcome = load.Stop();
    ExpectAllRunning(cluster);

    std::printf(
        "rolling restart, %d proxy(ies), %d nodes, %d clients: %d restarts "
        "in %.1f s; %lld calls, %lld retried attempts, %zu failed\n"
        "  p99 before the restarts %.1f ms (%zu calls), during them %.1f ms "
        "(%zu calls), after %.1f ms (%zu calls)\n",
        proxies, kNodes, kClients, restarts, absl::ToDoubleSeconds(restarting),
        static_cast<long long>(outcome.calls),
        static_cast<long long>(outcome.retries), outcome.failures.size(),
        P99(outcome.latencies_us[kBefore]) / 1000.0,
        outcome.latencies_us[kBefore].size(),
        P99(outcome.latencies_us[kRestarting]) / 1000.0,
        outcome.latencies_us[kRestarting].size(),
        P99(outcome.latencies_us[kAfter]) / 1000.0,
        outcome.latencies_us[kAfter].size());
    std::fflush(stdout);

    EXPECT_TRUE(outcome.failures.empty())
        << outcome.failures.size()
        << " failed calls, the first: " << outcome.failures.front();
    EXPECT_GT(outcome.latencies_us[kRestarting].size(), 1000u)
        << "the load hardly ran during the restarts";
    ExpectNoWriteLost(cluster, outcome);
  }

 private:
  std::vector<std::string> CreateLists(Cluster& cluster) {
    std::vector<std::string> lists;
    for (int l = 0; l < kLists; ++l) {
      std::string id = testing::ListId();
      crdt::ListState state;
      v1::SyncRequest request;
      request.set_list_id(id);
      request.set_create(true);
      codec::EncodeState(*state.Create(0xC1, "rolling", 1),
                         request.mutable_delta());
      v1::SyncResponse response;
      grpc::Status status = cluster.gateway(0).Sync(
          testing::Context(absl::Seconds(10)).get(), request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (status.ok()) lists.push_back(id);
    }
    return lists;
  }

  // SIGTERM, a clean exit within the node's drain grace and some, and a
  // new process in its place.
  template <typename Start>
  void Restart(testing::ChildProcess& process, const char* what, int index,
               Start start) {
    process.Signal(SIGTERM);
    const int code = process.Wait(absl::Seconds(20));
    EXPECT_EQ(code, 0) << what << "-" << index
                       << " did not stop cleanly on SIGTERM; its log: "
                       << process.log_path();
    start();
  }

  // Whether every server runs and every proxy sees every node up (each
  // holding a ring); a server that died fails the test with its log's end.
  bool AllBack(Cluster& cluster) {
    for (int p = 0; p < cluster.proxies(); ++p) {
      if (!cluster.WaitForView(p, kNodes, kNodes)) {
        ExpectAllRunning(cluster);
        return false;
      }
    }
    ExpectAllRunning(cluster);
    return true;
  }

  void ExpectAllRunning(Cluster& cluster) {
    for (int p = 0; p < cluster.proxies(); ++p) {
      EXPECT_TRUE(cluster.proxy(p).running())
          << "proxy-" << p << " died; the end of its log:\n"
          << LogEnd(cluster.proxy(p).log_path());
    }
    for (int i = 0; i < cluster.nodes(); ++i) {
      EXPECT_TRUE(cluster.node(i).running())
          << "node-" << i << " died; the end of its log:\n"
          << LogEnd(cluster.node(i).log_path());
    }
  }

  static std::string LogEnd(const std::string& path) {
    const std::string log = testing::ReadFile(path);
    return log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
  }

  // Every item read back through a proxy (a read quorum of the replicas)
  // wants at least the adds acknowledged and at most the adds sent.
  void ExpectNoWriteLost(Cluster& cluster, const Outcome& outcome) {
    int64_t acknowledged = 0;
    for (const auto& [id, items] : outcome.adds) {
      v1::GetRequest request;
      request.set_list_id(id);
      v1::GetResponse response;
      grpc::Status status = cluster.gateway(0).Get(
          testing::Context(absl::Seconds(10)).get(), request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      absl::StatusOr<crdt::ListState> state =
          codec::DecodeState(response.state());
      ASSERT_TRUE(state.ok()) << state.status();
      for (const auto& [item, adds] : items) {
        const int64_t wanted = testing::WantedOf(*state, item);
        EXPECT_GE(wanted, adds.acknowledged)
            << "list " << id << " lost acknowledged adds of " << item;
        EXPECT_LE(wanted, adds.sent) << "list " << id << " counts adds of "
                                     << item << " that were never sent";
        acknowledged += adds.acknowledged;
      }
    }
    std::printf("  read back %lld acknowledged writes across %zu lists\n",
                static_cast<long long>(acknowledged), outcome.adds.size());
    EXPECT_GT(acknowledged, 0);
  }

  TempDir dir_;
};

TEST_F(RollingRestartTest, OneProxyThreeNodesUnderLoad) { Run(1); }

TEST_F(RollingRestartTest, TwoProxiesThreeNodesUnderLoad) { Run(2); }

}  // namespace
}  // namespace shoplist
