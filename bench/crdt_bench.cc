// Benchmarks of the list CRDT core. Figures for the README come from here:
//   build/bench/crdt_bench
// Counters: bytes = encoded size of the delta or state in question.
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "access/capability.h"
#include "access/policy.h"
#include "codec/list_codec.h"
#include "crdt/list_state.h"

namespace shoplist::crdt {
namespace {

constexpr ReplicaId kA = 0x9E3779B97F4A7C15, kB = 0xBF58476D1CE4E5B9,
                    kC = 0x94D049BB133111EB;

std::string Name(int i) { return "item-" + std::to_string(i); }

size_t EncodedBytes(const ListState& state) {
  v1::ListState message;
  codec::EncodeState(state, &message);
  return message.ByteSizeLong();
}

// A list of `n` items written by `replica`, each wanted and partly bought.
ListState BigList(ReplicaId replica, int n) {
  ListState list;
  (void)list.Create(replica, "big", 1);
  for (int i = 0; i < n; ++i) {
    (void)list.Add(replica, Name(i), 1 + i % 5);
    (void)list.Buy(replica, Name(i), 1);
  }
  return list;
}

// Building a list of range(0) items, one Add each (a big shared list
// filled from scratch). Yjs builds the same map in about 60 ms.
void BM_BuildList(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    ListState list;
    (void)list.Create(kA, "big", 1);
    for (int i = 0; i < n; ++i) (void)list.Add(kA, Name(i), 1);
    benchmark::DoNotOptimize(list);
  }
}
BENCHMARK(BM_BuildList)->Arg(1'000)->Arg(10'000)->Unit(benchmark::kMillisecond);

void BM_MergeTwo10kStates(benchmark::State& state) {
  // The same 10,000 items, edited independently by two writers: every item
  // merges entry by entry.
  ListState a = BigList(kA, 10'000);
  ListState b = BigList(kB, 10'000);
  for (auto _ : state) {
    state.PauseTiming();
    ListState merged = a;
    state.ResumeTiming();
    merged.Merge(b);
    benchmark::DoNotOptimize(merged);
  }
  ListState merged = a;
  merged.Merge(b);
  state.counters["bytes"] = static_cast<double>(EncodedBytes(merged));
}
BENCHMARK(BM_MergeTwo10kStates)->Unit(benchmark::kMicrosecond);

void BM_MakeOneChangeDelta(benchmark::State& state) {
  ListState list = BigList(kA, 10'000);
  size_t bytes = 0;
  int i = 0;
  for (auto _ : state) {
    auto delta = list.Add(kB, Name(i++ % 10'000), 1);
    benchmark::DoNotOptimize(delta);
    if (bytes == 0) bytes = EncodedBytes(*delta);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_MakeOneChangeDelta)->Unit(benchmark::kMicrosecond);

void BM_ApplyOneChangeDelta(benchmark::State& state) {
  ListState list = BigList(kA, 10'000);
  ListState writer = list;
  std::vector<ListState> deltas;
  for (int i = 0; i < 1000; ++i) {
    deltas.push_back(*writer.Add(kB, Name(i * 7 % 10'000), 1));
  }
  size_t i = 0;
  for (auto _ : state) {
    list.Merge(deltas[i++ % deltas.size()]);
  }
  state.counters["bytes"] = static_cast<double>(EncodedBytes(deltas[0]));
}
BENCHMARK(BM_ApplyOneChangeDelta)->Unit(benchmark::kMicrosecond);

void BM_DeltaSinceOneChange(benchmark::State& state) {
  // Anti-entropy path: a peer one change behind asks what it lacks.
  ListState list = BigList(kA, 10'000);
  CausalContext peer = list.context();
  (void)list.Add(kB, Name(5000), 1);
  size_t bytes = 0;
  for (auto _ : state) {
    ListState missing = list.DeltaSince(peer);
    benchmark::DoNotOptimize(missing);
    if (bytes == 0) bytes = EncodedBytes(missing);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_DeltaSinceOneChange)->Unit(benchmark::kMicrosecond);

void BM_EncodeDecode10kState(benchmark::State& state) {
  ListState list = BigList(kA, 10'000);
  for (auto _ : state) {
    v1::ListState message;
    codec::EncodeState(list, &message);
    std::string bytes = message.SerializeAsString();
    v1::ListState parsed;
    parsed.ParseFromString(bytes);
    auto decoded = codec::DecodeState(parsed);
    benchmark::DoNotOptimize(decoded);
  }
  state.counters["bytes"] = static_cast<double>(EncodedBytes(list));
}
BENCHMARK(BM_EncodeDecode10kState)->Unit(benchmark::kMillisecond);

// 1,000,000 random operations (that changed something) on 100 items by 3
// replicas; every delta is encoded, sent to both other replicas, decoded
// and merged.
void BM_MillionOpsThreeReplicas(benchmark::State& state) {
  size_t final_bytes = 0;
  int64_t applied = 0;
  for (auto _ : state) {
    std::mt19937_64 rng(42);
    ListState replicas[3];
    const ReplicaId ids[3] = {kA, kB, kC};
    auto created = replicas[0].Create(kA, "shared", 1);
    replicas[1].Merge(*created);
    replicas[2].Merge(*created);
    applied = 0;
    for (int op = 0; applied < 1'000'000; ++op) {
      int r = static_cast<int>(rng() % 3);
      ListState& list = replicas[r];
      std::string item = Name(static_cast<int>(rng() % 100));
      int64_t n = 1 + static_cast<int64_t>(rng() % 3);
      absl::StatusOr<ListState> delta;
      switch (rng() % 10) {
        case 0:
        case 1:
        case 2:
        case 3:
          delta = list.Add(ids[r], item, n);
          break;
        case 4:
        case 5:
          delta = list.Remove(ids[r], item, n);
          break;
        case 6:
          delta = list.RemoveItem(ids[r], item);
          break;
        case 7:
        case 8:
          delta = list.Buy(ids[r], item, 0);
          break;
        default:
          delta = list.Rename(ids[r], "shared " + std::to_string(op % 7),
                              static_cast<uint64_t>(op));
      }
      if (!delta.ok() || delta->empty()) continue;
      ++applied;
      v1::ListState wire;
      codec::EncodeState(*delta, &wire);
      std::string bytes = wire.SerializeAsString();
      for (int to = 0; to < 3; ++to) {
        if (to == r) continue;
        v1::ListState parsed;
        parsed.ParseFromString(bytes);
        replicas[to].Merge(*codec::DecodeState(parsed));
      }
    }
    if (!(replicas[0] == replicas[1] && replicas[1] == replicas[2])) {
      state.SkipWithError("replicas diverged");
    }
    final_bytes = EncodedBytes(replicas[0]);
  }
  state.counters["ops_applied"] = static_cast<double>(applied);
  state.counters["final_bytes"] = static_cast<double>(final_bytes);
}
BENCHMARK(BM_MillionOpsThreeReplicas)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

Writer At(ReplicaId id, uint64_t now, const char* name) {
  Writer w(id);
  w.now_micros = now;
  w.name = name;
  return w;
}

// Delta of one note change and of one category change on a 100-item list,
// with the writer's name already known (it is sent once).
void BM_NoteAndCategoryDeltas(benchmark::State& state) {
  ListState list = BigList(kA, 100);
  (void)list.Add(At(kB, 1, "Bob"), Name(7), 1);
  size_t note_bytes = 0, category_bytes = 0;
  uint64_t now = 1'764'633'600'000'000;  // 2025-12-02, micros
  int i = 0;
  for (auto _ : state) {
    auto note = list.SetNote(At(kB, ++now, "Bob"), Name(7),
                             "the blue one, 2% fat" + std::to_string(i++));
    auto category = list.SetCategory(At(kB, ++now, "Bob"), Name(7),
                                     i % 2 ? "Dairy" : "Fridge");
    benchmark::DoNotOptimize(category);
    note_bytes = EncodedBytes(*note);
    category_bytes = EncodedBytes(*category);
  }
  state.counters["note_delta_bytes"] = static_cast<double>(note_bytes);
  state.counters["category_delta_bytes"] = static_cast<double>(category_bytes);
}
BENCHMARK(BM_NoteAndCategoryDeltas)->Unit(benchmark::kMicrosecond);

// A year of use: 52 weekly rounds by 3 homes. Each round adds 40 items
// drawn from a 150-name vocabulary (some with a category), notes 5 of
// them, buys them, then clears; every delta is encoded and merged by the
// other homes. Reports the state's bytes at the end and times the merge
// of two such states (each home's, one round apart).
ListState YearOfUse(int weeks, ListState* week_before) {
  std::mt19937_64 rng(52);
  const ReplicaId ids[3] = {kA, kB, kC};
  const char* names[3] = {"Ann", "Bob", "Cleo"};
  const char* aisles[] = {"Produce", "Bakery", "Dairy", "Frozen", "Drinks"};
  ListState homes[3];
  uint64_t now = 1'764'633'600'000'000;
  auto send = [&](int from, const ListState& delta) {
    v1::ListState wire;
    codec::EncodeState(delta, &wire);
    for (int to = 0; to < 3; ++to) {
      if (to != from) homes[to].Merge(*codec::DecodeState(wire));
    }
  };
  send(0, *homes[0].Create(At(kA, now, names[0]), "Groceries", now));
  send(0, *homes[0].SetAisles(At(kA, ++now, names[0]), {aisles, aisles + 5}));
  for (int week = 0; week < weeks; ++week) {
    if (week == weeks - 1 && week_before != nullptr) *week_before = homes[1];
    std::vector<std::string> round;
    for (int i = 0; i < 40; ++i) {
      const int h = static_cast<int>(rng() % 3);
      const int v = static_cast<int>(rng() % 150);
      std::string item = "Item " + std::to_string(v);
      Writer w = At(ids[h], now += 60'000'000, names[h]);
      auto added = homes[h].Add(w, item, 1 + static_cast<int64_t>(rng() % 3),
                                v % 3 == 0 ? aisles[v % 5] : "");
      if (added.ok()) send(h, *added);
      round.push_back(item);
    }
    for (int i = 0; i < 5; ++i) {
      const int h = static_cast<int>(rng() % 3);
      auto noted = homes[h].SetNote(
          At(ids[h], now += 1'000'000, names[h]), round[rng() % round.size()],
          "the usual brand, week " + std::to_string(week));
      if (noted.ok()) send(h, *noted);
    }
    for (const std::string& item : round) {
      const int h = static_cast<int>(rng() % 3);
      auto bought =
          homes[h].Buy(At(ids[h], now += 1'000'000, names[h]), item, 0);
      if (bought.ok() && !bought->carries_no_change()) send(h, *bought);
    }
    const int h = static_cast<int>(rng() % 3);
    send(h, *homes[h].Clear(At(ids[h], now += 1'000'000, names[h])));
  }
  return homes[0];
}

void BM_YearOfUse(benchmark::State& state) {
  ListState week_before;
  ListState year = YearOfUse(52, &week_before);
  for (auto _ : state) {
    state.PauseTiming();
    ListState merged = week_before;
    state.ResumeTiming();
    merged.Merge(year);
    benchmark::DoNotOptimize(merged);
  }
  state.counters["state_bytes"] = static_cast<double>(EncodedBytes(year));
  state.counters["items_recorded"] = static_cast<double>(year.items().size());
}
BENCHMARK(BM_YearOfUse)->Unit(benchmark::kMicrosecond);

// What a node does for each client request on a closed list of 10 items:
// hash the request's secret, decide what the delta needs, check it against
// the list's access record (decoding the grants, three constant-time
// compares). record_bytes: what the access record adds to the encoded
// state.
void BM_AccessCheckedRequest(benchmark::State& state) {
  ListState open = BigList(kA, 10);
  ListState closed = open;
  const access::NewAccess made =
      access::AccessAt("abcdefghijklmnopqrstuvwx2a", 1);
  (void)closed.SetAccess(kA, access::EncodeGrants(made.grants));
  ListState copy = closed;
  const ListState delta = *copy.Add(kB, "milk", 1);
  for (auto _ : state) {
    const access::SecretHash proof = access::HashSecret(made.edit_secret);
    benchmark::DoNotOptimize(
        access::Check(closed, proof, access::Needed(delta)));
  }
  state.counters["record_bytes"] = static_cast<double>(EncodedBytes(closed)) -
                                   static_cast<double>(EncodedBytes(open));
  state.counters["state_bytes"] = static_cast<double>(EncodedBytes(closed));
}
BENCHMARK(BM_AccessCheckedRequest)->Unit(benchmark::kNanosecond);

// An owner's revocation after `range(0)` earlier ones: finding the epoch
// is a search (client side only, never on a server).
void BM_RevokeAfterEpochs(benchmark::State& state) {
  const access::NewAccess at = access::AccessAt(
      "abcdefghijklmnopqrstuvwx2a", static_cast<uint32_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(access::Revoke(at.grants, at.owner_secret));
  }
}
BENCHMARK(BM_RevokeAfterEpochs)
    ->Arg(1)
    ->Arg(100)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace shoplist::crdt

BENCHMARK_MAIN();
