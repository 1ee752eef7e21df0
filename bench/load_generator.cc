// shoplist-bench: a closed-loop, asynchronous gRPC load generator for a
// shoplist cluster. `--concurrency` calls are kept in flight for
// `--duration-s`; each completion records its latency and starts the next
// call. Prints ops/s and latency percentiles.
//
//   shoplist-bench --target 127.0.0.1:7000 --mode write --concurrency 64
//   shoplist-bench --target 127.0.0.1:7000 --direct --mode mixed
//   shoplist-bench --target 127.0.0.1:7001 --mode echo
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "grpcpp/grpcpp.h"
#include "services/common/channels.h"
#include "services/common/flag_names.h"
#include "services/common/security_flags.h"
#include "shoplist/v1/list_service.grpc.pb.h"
#include "shoplist/v1/membership_service.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7000", "Proxy (or node) to load");
ABSL_FLAG(bool, direct, false,
          "Locate each list through --target and send its calls straight to "
          "its coordinator");
ABSL_FLAG(std::string, mode, "write", "echo, write, read or mixed");
ABSL_FLAG(double, write_fraction, 0.5, "Share of writes in mixed mode");
ABSL_FLAG(int, concurrency, 64, "Calls in flight");
ABSL_FLAG(int, duration_s, 5, "Measured seconds");
ABSL_FLAG(int, warmup_s, 1, "Unmeasured seconds first");
ABSL_FLAG(int, lists, 100, "Lists to spread the load over");
ABSL_FLAG(int, items, 50, "Distinct items per list");
ABSL_FLAG(std::string, server_pids, "",
          "Comma-separated PIDs of the servers under load: their CPU time "
          "in the measured window, per operation, is reported");
ABSL_FLAG(bool, csv, false,
          "Print one CSV line: mode,concurrency,ops,ops_per_s,p50_us,p90_us,"
          "p99_us,max_us,errors");

namespace shoplist::bench {
namespace {

// CPU time (user + system) the processes `pids` used so far, from
// /proc/<pid>/stat; a process that is gone counts nothing.
absl::Duration CpuOf(const std::vector<int>& pids) {
  static const long ticks = sysconf(_SC_CLK_TCK);
  int64_t total = 0;
  for (int pid : pids) {
    std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
    std::string stat((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    // Fields after the command name, which is in parentheses and may hold
    // blanks: utime and stime are the 12th and 13th after it.
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::vector<std::string> fields =
        absl::StrSplit(stat.substr(close + 2), ' ', absl::SkipEmpty());
    int64_t utime = 0, stime = 0;
    if (fields.size() > 12 && absl::SimpleAtoi(fields[11], &utime) &&
        absl::SimpleAtoi(fields[12], &stime)) {
      total += utime + stime;
    }
  }
  return absl::Seconds(static_cast<double>(total) / ticks);
}

using Stub = v1::ListService::Stub;

struct Target {
  std::string list_id;
  Stub* stub;
};

// Channels by address, shared by every worker: one channel per server.
class Channels {
 public:
  Stub* For(const std::string& address) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& stub = stubs_[address];
    if (!stub) {
      stub = v1::ListService::NewStub(NewChannel(address));
    }
    return stub.get();
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Stub>> stubs_;
};

class Run {
 public:
  Run(std::vector<Target> targets, std::string mode, double write_fraction,
      int items)
      : targets_(std::move(targets)),
        mode_(std::move(mode)),
        write_fraction_(write_fraction),
        items_(items) {}

  // Runs `concurrency` closed loops until `end`; latencies after `measure`.
  void Go(int concurrency, absl::Time measure, absl::Time end) {
    measure_ = measure;
    end_ = end;
    pending_ = concurrency;
    for (int w = 0; w < concurrency; ++w) {
      workers_.push_back(std::make_unique<Worker>(this, w));
    }
    for (auto& w : workers_) Next(w.get());
    done_.WaitForNotification();
  }

  std::vector<int64_t> Latencies() {
    std::vector<int64_t> all;
    for (auto& w : workers_) {
      all.insert(all.end(), w->latencies_us.begin(), w->latencies_us.end());
    }
    std::sort(all.begin(), all.end());
    return all;
  }
  int64_t errors() const { return errors_.load(); }

 private:
  struct Worker {
    Worker(Run* run, int index)
        : run(run),
          index(index),
          rng(index * 7919 + 1),
          replica(0xBE0000 + index) {}
    Run* run;
    const size_t index;
    std::mt19937_64 rng;
    const crdt::ReplicaId replica;
    std::map<std::string, crdt::ListState> lists;  // this client's replicas
    std::unique_ptr<grpc::ClientContext> context;
    v1::SyncRequest sync;
    v1::SyncResponse synced;
    crdt::ListState* synced_into = nullptr;  // set while a Sync is in flight
    v1::GetRequest get;
    v1::GetResponse got;
    v1::PingRequest ping;
    v1::PingResponse pong;
    absl::Time started;
    std::vector<int64_t> latencies_us;
  };

  void Next(Worker* w) {
    absl::Time now = absl::Now();
    if (now >= end_) {
      if (--pending_ == 0) done_.Notify();
      return;
    }
    // Worker w writes the lists w, w + C, w + 2C, ... (C workers): a list
    // has a few writers, as shopping lists do, unless C exceeds the lists.
    const size_t n = targets_.size();
    const size_t workers = workers_.size();
    const size_t own = std::max<size_t>(
        1, (n + workers - 1 - w->index) / std::max<size_t>(1, workers));
    const Target& t = targets_[(w->index + workers * (w->rng() % own)) % n];
    w->context = std::make_unique<grpc::ClientContext>();
    w->context->set_deadline(absl::ToChronoTime(now + absl::Seconds(10)));
    w->started = now;
    auto done = [this, w](grpc::Status status) { Finished(w, status); };
    bool write = mode_ == "write" ||
                 (mode_ == "mixed" && std::uniform_real_distribution<>(
                                          0, 1)(w->rng) < write_fraction_);
    if (mode_ == "echo") {
      w->ping.set_payload("0123456789abcdef");
      t.stub->async()->Ping(w->context.get(), &w->ping, &w->pong, done);
    } else if (write) {
      crdt::ListState& mine = w->lists[t.list_id];
      std::string item = "item-" + std::to_string(w->rng() % items_);
      absl::StatusOr<crdt::ListState> delta = mine.Add(w->replica, item, 1);
      w->sync.set_list_id(t.list_id);
      codec::EncodeState(*delta, w->sync.mutable_delta());
      // Known: everything this client has merged, as the CLI sends, so the
      // reply carries only what others wrote since.
      codec::EncodeContext(mine.context(), w->sync.mutable_known());
      w->synced_into = &mine;
      t.stub->async()->Sync(w->context.get(), &w->sync, &w->synced, done);
    } else {
      w->get.set_list_id(t.list_id);
      t.stub->async()->Get(w->context.get(), &w->get, &w->got, done);
    }
  }

  void Finished(Worker* w, const grpc::Status& status) {
    absl::Time now = absl::Now();
    if (w->synced_into != nullptr && status.ok()) {
      // What others wrote joins this client's replica, as the CLI does.
      if (absl::StatusOr<crdt::ListState> missing =
              codec::DecodeState(w->synced.missing());
          missing.ok()) {
        w->synced_into->Merge(*missing);
      }
    }
    w->synced_into = nullptr;
    if (!status.ok()) {
      ++errors_;
    } else if (w->started >= measure_) {
      w->latencies_us.push_back(absl::ToInt64Microseconds(now - w->started));
    }
    Next(w);
  }

  const std::vector<Target> targets_;
  const std::string mode_;
  const double write_fraction_;
  const int items_;
  absl::Time measure_, end_;
  std::atomic<int> pending_{0};
  std::atomic<int64_t> errors_{0};
  absl::Notification done_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

// Creates `count` lists of `items` items each through `target`, with
// kCreating calls in flight (a million lists one after another would take
// longer than the runs); with `direct`, each list is located first and
// created at its coordinator, which its calls then go to.
absl::StatusOr<std::vector<Target>> CreateLists(int count, int items,
                                                const std::string& target,
                                                bool direct,
                                                Channels& channels) {
  constexpr int kCreating = 64;
  Stub* proxy = channels.For(target);
  auto membership = v1::MembershipService::NewStub(NewChannel(target));
  std::vector<Target> targets(count);
  std::atomic<int> next{0};
  std::mutex mu;
  std::string error;  // guarded by mu
  // Each slot creates lists one after another until none is left.
  struct Slot {
    int index = 0;
    int attempts = 0;  // of the list being created
    std::unique_ptr<grpc::ClientContext> context;
    v1::SyncRequest sync;
    v1::SyncResponse synced;
    v1::LocateRequest locate;
    v1::LocateResponse located;
  };
  std::vector<Slot> slots(std::min(kCreating, std::max(count, 1)));
  std::atomic<int> running{static_cast<int>(slots.size())};
  absl::Notification all_done;
  auto fail = [&](const std::string& what, const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mu);
    if (error.empty()) error = what + ": " + status.error_message();
  };
  std::function<void(Slot*)> start, create;
  start = [&](Slot* slot) {
    slot->index = next++;
    slot->attempts = 0;
    bool failed;
    {
      std::lock_guard<std::mutex> lock(mu);
      failed = !error.empty();
    }
    if (slot->index >= count || failed) {
      if (--running == 0) all_done.Notify();
      return;
    }
    const std::string id = *crdt::NewListId();
    targets[slot->index] = {id, proxy};
    if (!direct) {
      create(slot);
      return;
    }
    // Located first, so that the list is created at its coordinator.
    slot->locate.set_list_id(id);
    slot->context = std::make_unique<grpc::ClientContext>();
    slot->context->set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    membership->async()->Locate(
        slot->context.get(), &slot->locate, &slot->located,
        [&, slot](grpc::Status located) {
          if (!located.ok()) {
            fail("Locate failed", located);
            start(slot);
            return;
          }
          targets[slot->index].stub =
              channels.For(slot->located.coordinator().address());
          create(slot);
        });
  };
  create = [&](Slot* slot) {
    const Target& t = targets[slot->index];
    crdt::ListState list;
    crdt::ListState delta = *list.Create(0xBE, "bench", 1);
    for (int k = 0; k < items; ++k) {
      delta.Merge(*list.Add(0xBE, "item-" + std::to_string(k), 1));
    }
    slot->sync.Clear();
    slot->sync.set_list_id(t.list_id);
    slot->sync.set_create(true);
    codec::EncodeState(delta, slot->sync.mutable_delta());
    slot->context = std::make_unique<grpc::ClientContext>();
    slot->context->set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    t.stub->async()->Sync(
        slot->context.get(), &slot->sync, &slot->synced,
        [&, slot](grpc::Status status) {
          // A cluster just started may refuse the first writes while its
          // nodes' ring views settle: try again a few times.
          if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
              ++slot->attempts < 5) {
            create(slot);
            return;
          }
          if (!status.ok()) fail("cannot create a list", status);
          start(slot);
        });
  };
  for (Slot& slot : slots) start(&slot);
  all_done.WaitForNotification();
  if (!error.empty()) return absl::UnavailableError(error);
  return targets;
}

int Main() {
  const std::string target = absl::GetFlag(FLAGS_target);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "echo" && mode != "write" && mode != "read" && mode != "mixed") {
    std::fprintf(stderr,
                 "shoplist-bench: --mode must be echo, write, read or "
                 "mixed\n");
    return 2;
  }
  Channels channels;
  std::vector<Target> targets;
  if (mode == "echo") {
    for (int i = 0; i < absl::GetFlag(FLAGS_lists); ++i) {
      targets.push_back({*crdt::NewListId(), channels.For(target)});
    }
  } else {
    const absl::Time start = absl::Now();
    absl::StatusOr<std::vector<Target>> made =
        CreateLists(absl::GetFlag(FLAGS_lists), absl::GetFlag(FLAGS_items),
                    target, absl::GetFlag(FLAGS_direct), channels);
    if (!made.ok()) {
      std::fprintf(stderr, "shoplist-bench: %s\n",
                   std::string(made.status().message()).c_str());
      return 1;
    }
    targets = *std::move(made);
    if (targets.size() >= 10000) {
      std::fprintf(stderr, "shoplist-bench: created %zu lists in %.1f s\n",
                   targets.size(), absl::ToDoubleSeconds(absl::Now() - start));
    }
  }

  Run run(std::move(targets), mode, absl::GetFlag(FLAGS_write_fraction),
          absl::GetFlag(FLAGS_items));
  absl::Time start = absl::Now();
  absl::Time measure = start + absl::Seconds(absl::GetFlag(FLAGS_warmup_s));
  absl::Time end = measure + absl::Seconds(absl::GetFlag(FLAGS_duration_s));
  std::vector<int> pids;
  for (absl::string_view p : absl::StrSplit(absl::GetFlag(FLAGS_server_pids),
                                            ',', absl::SkipEmpty())) {
    int pid = 0;
    if (!absl::SimpleAtoi(p, &pid)) {
      std::fprintf(stderr, "shoplist-bench: --server-pids: not a pid: %s\n",
                   std::string(p).c_str());
      return 2;
    }
    pids.push_back(pid);
  }
  // The servers' CPU in the measured window only.
  absl::Duration cpu_at_start;
  std::thread sampler([&] {
    absl::SleepFor(measure - absl::Now());
    cpu_at_start = CpuOf(pids);
  });
  run.Go(absl::GetFlag(FLAGS_concurrency), measure, end);
  sampler.join();
  const absl::Duration cpu = CpuOf(pids) - cpu_at_start;
  std::vector<int64_t> l = run.Latencies();
  auto pct = [&](double p) -> int64_t {
    if (l.empty()) return 0;
    return l[std::min(l.size() - 1, static_cast<size_t>(p * l.size()))];
  };
  double seconds = absl::ToDoubleSeconds(end - measure);
  double rate = l.size() / seconds;
  std::string label = mode + (absl::GetFlag(FLAGS_direct) ? "-direct" : "");
  // 0 without --server-pids.
  const double cpu_us_per_op =
      l.empty() ? 0 : absl::ToDoubleMicroseconds(cpu) / l.size();
  if (absl::GetFlag(FLAGS_csv)) {
    std::printf("%s,%d,%zu,%.0f,%lld,%lld,%lld,%lld,%lld,%.1f\n", label.c_str(),
                absl::GetFlag(FLAGS_concurrency), l.size(), rate,
                static_cast<long long>(pct(0.5)),
                static_cast<long long>(pct(0.9)),
                static_cast<long long>(pct(0.99)),
                static_cast<long long>(l.empty() ? 0 : l.back()),
                static_cast<long long>(run.errors()), cpu_us_per_op);
  } else {
    std::printf(
        "%-13s in flight %4d  %8zu ops  %9.0f ops/s  p50 %7.2f ms  p90 %7.2f "
        "ms  p99 %7.2f ms  max %7.2f ms  errors %lld  server CPU %.1f "
        "us/op\n",
        label.c_str(), absl::GetFlag(FLAGS_concurrency), l.size(), rate,
        pct(0.5) / 1000.0, pct(0.9) / 1000.0, pct(0.99) / 1000.0,
        l.empty() ? 0.0 : l.back() / 1000.0,
        static_cast<long long>(run.errors()), cpu_us_per_op);
  }
  return 0;
}

}  // namespace
}  // namespace shoplist::bench

int main(int argc, char** argv) {
  shoplist::NormalizeFlagNames(argc, argv);
  absl::ParseCommandLine(argc, argv);
  // --direct asks the proxy's MembershipService (cluster token) where lists
  // live; TLS flags as the servers take them.
  absl::StatusOr<shoplist::SecurityOptions> security =
      shoplist::UseSecurityFlags();
  if (!security.ok()) {
    std::fprintf(stderr, "shoplist-bench: %s\n",
                 std::string(security.status().message()).c_str());
    return 2;
  }
  return shoplist::bench::Main();
}
