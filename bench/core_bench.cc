// The client core's costs, the same source natively and in WebAssembly
// (clients/wasm builds it for Node; bench/core_bench.sh runs both): one
// change applied to a list of N items (the change, its undo step and
// history, and the batch with the list's record), loading a stored list of
// N items, and its JSON document. Prints the median and p90 of each.
//   core_bench [RUNS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clients/core/home_core.h"
#include "clients/core/json.h"

namespace shoplist::client {
namespace {

using Clock = std::chrono::steady_clock;

// A stored list of `n` items (ids and secrets of fixed bytes).
std::string ListRecord(size_t n, std::string* id) {
  HomeCore core("Bench");
  Inputs in;
  in.now_micros = 1'767'225'600'000'000;
  in.random.fill(7);
  absl::StatusOr<Applied<MadeChange>> made = core.New("Bench", in);
  if (!made.ok()) std::abort();
  *id = made->value.id;
  LocalList list = *DecodeList(*id, made->batch.writes.back().value);
  for (size_t i = 0; i < n; ++i) {
    crdt::Writer writer(1);
    writer.now_micros = in.now_micros + i;
    if (!list.state.Add(writer, absl::StrCat("item ", i), 1).ok()) {
      std::abort();
    }
  }
  return EncodeList(list);
}

void Report(const char* what, size_t n, std::vector<double> micros) {
  std::sort(micros.begin(), micros.end());
  std::printf("%-44s %6zu items  p50 %9.1f us  p90 %9.1f us  (%zu runs)\n",
              what, n, micros[micros.size() / 2],
              micros[micros.size() * 9 / 10], micros.size());
}

template <typename F>
double Time(F f) {
  const Clock::time_point start = Clock::now();
  f();
  return std::chrono::duration<double, std::micro>(Clock::now() - start)
      .count();
}

void Bench(size_t n, int runs) {
  std::string id;
  const std::string record = ListRecord(n, &id);
  std::vector<double> load, change, document, show;
  HomeCore core("Bench");
  for (int r = 0; r < runs; ++r) {
    HomeCore fresh("Bench");
    load.push_back(Time([&] {
      if (!fresh.Load(ListKey(id), record).ok()) std::abort();
    }));
  }
  if (!core.Load(ListKey(id), record).ok()) std::abort();
  for (int r = 0; r < runs; ++r) {
    Inputs in;
    in.now_micros = 1'767'300'000'000'000 + r;
    v1::Operation op;
    op.mutable_add()->set_item(absl::StrCat("item ", r % 50));
    op.mutable_add()->set_count(1);
    change.push_back(Time([&] {
      if (!core.Change(id, {op}, in).ok()) std::abort();
    }));
  }
  // What a page waits for: the change and its result (the list as it is
  // now, offline), as JSON.
  for (int r = 0; r < runs; ++r) {
    Inputs in;
    in.now_micros = 1'767'400'000'000'000 + r;
    v1::Operation op;
    op.mutable_add()->set_item(absl::StrCat("item ", r % 50));
    op.mutable_add()->set_count(1);
    document.push_back(Time([&] {
      absl::StatusOr<Applied<MadeChange>> made = core.Change(id, {op}, in);
      if (!made.ok()) std::abort();
      SyncReport offline = core.OfflineReport(id);
      if (ChangeJson(core.Outcome(made->value, offline)).dump().empty()) {
        std::abort();
      }
    }));
  }
  for (int r = 0; r < runs; ++r) {
    show.push_back(Time([&] {
      if (ShowJson(*core.Show(id)).dump().empty()) std::abort();
    }));
  }
  Report("load a stored list (decode)", n, load);
  Report("one change (apply, undo, history, batch)", n, change);
  Report("one change and its result document", n, document);
  Report("show (view, display order, JSON)", n, show);
}

}  // namespace
}  // namespace shoplist::client

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 21;
  for (size_t n : {1'000, 10'000}) shoplist::client::Bench(n, runs);
  return 0;
}
