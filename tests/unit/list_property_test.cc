// Randomized convergence test: many replicas make random operations and
// exchange deltas, anti-entropy deltas and whole states over a network that
// duplicates, reorders and loses messages (lost ones are retransmitted
// later). All replicas must end identical, with the quantities an
// independent model of the CRDT's rules predicts. Seeded and reproducible.
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "codec/list_codec.h"
#include "crdt/list_state.h"
#include "gtest/gtest.h"

namespace shoplist::crdt {
namespace {

// The model: which operations each replica has seen, per item. An item's
// expected quantities are the sum of the changes that no removal of that
// item observed.
class Bits {
 public:
  void Set(size_t i) {
    if (i / 64 >= words_.size()) words_.resize(i / 64 + 1);
    words_[i / 64] |= uint64_t{1} << (i % 64);
  }
  bool Get(size_t i) const {
    return i / 64 < words_.size() && (words_[i / 64] >> (i % 64)) & 1;
  }
  void Union(const Bits& other) {
    if (other.words_.size() > words_.size()) words_.resize(other.words_.size());
    for (size_t i = 0; i < other.words_.size(); ++i)
      words_[i] |= other.words_[i];
  }

 private:
  std::vector<uint64_t> words_;
};

struct Op {
  std::string item;
  int64_t wanted = 0;  // change of the writer's entry
  int64_t bought = 0;
  bool remove_item = false;
  Bits observed;  // for removals: what the remover had seen of the item
};

struct Knowledge {
  std::map<std::string, Bits> seen;
  void Union(const Knowledge& other) {
    for (const auto& [item, bits] : other.seen) seen[item].Union(bits);
  }
};

struct Replica {
  ReplicaId id;
  ListState state;
  Knowledge knowledge;
};

struct Message {
  size_t to;
  ListState payload;
  Knowledge knowledge;
};

struct Stats {
  int ops = 0, delivered = 0, duplicated = 0, lost = 0, anti_entropy = 0;
};

class Simulation {
 public:
  Simulation(uint32_t seed, size_t replicas) : rng_(seed) {
    for (size_t i = 0; i < replicas; ++i) {
      replicas_.push_back({std::uniform_int_distribution<uint64_t>()(rng_),
                           ListState(), Knowledge()});
    }
    auto created = replicas_[0].state.Create(replicas_[0].id, "list", 1);
    EXPECT_TRUE(created.ok());
    Broadcast(0, *created, Knowledge());
  }

  void Run(int operations) {
    while (stats_.ops < operations) {
      int action = Pick(100);
      if (action < 55) {
        RandomOperation();
      } else if (action < 90) {
        DeliverOne();
      } else if (action < 97) {
        AntiEntropy(Pick(replicas_.size()), Pick(replicas_.size()));
      } else {
        SendWholeState(Pick(replicas_.size()), Pick(replicas_.size()));
      }
    }
  }

  // Retransmits what was lost, delivers everything, then lets every pair
  // exchange DeltaSince until quiet.
  void Heal() {
    for (Message& m : lost_) inflight_.push_back(std::move(m));
    lost_.clear();
    while (!inflight_.empty()) Deliver(Pick(inflight_.size()), false);
    for (size_t a = 0; a < replicas_.size(); ++a) {
      for (size_t b = 0; b < replicas_.size(); ++b) {
        if (a != b) AntiEntropy(a, b);
      }
    }
    for (size_t b = 1; b < replicas_.size(); ++b) AntiEntropy(0, b);
  }

  void CheckConverged() const {
    const ListState& first = replicas_[0].state;
    v1::ListState first_encoded;
    codec::EncodeState(first, &first_encoded);
    for (const Replica& r : replicas_) {
      EXPECT_EQ(r.state, first);
      v1::ListState encoded;
      codec::EncodeState(r.state, &encoded);
      EXPECT_EQ(encoded.SerializeAsString(), first_encoded.SerializeAsString());
      EXPECT_TRUE(r.state.Validate().ok());
    }
    auto round_trip = codec::DecodeState(first_encoded);
    ASSERT_TRUE(round_trip.ok()) << round_trip.status();
    EXPECT_EQ(*round_trip, first);
  }

  // Compares the converged view with the model's prediction.
  void CheckAgainstModel() const {
    std::map<std::string, Bits> removed;  // ops observed by some removal
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (ops_[i].remove_item) removed[ops_[i].item].Union(ops_[i].observed);
    }
    std::map<std::string, ItemView> expected;
    std::map<std::string, bool> visible;
    for (size_t i = 0; i < ops_.size(); ++i) {
      const Op& op = ops_[i];
      if (removed[op.item].Get(i)) continue;
      ItemView& view = expected[op.item];
      view.name = op.item;
      view.wanted += op.wanted;
      view.bought += op.bought;
      if (!op.remove_item) visible[op.item] = true;
    }
    using Quantities = std::tuple<std::string, int64_t, int64_t>;
    std::vector<Quantities> want;
    for (auto& [name, view] : expected) {
      if (!visible[name]) continue;
      want.emplace_back(name, std::max<int64_t>(0, view.wanted),
                        std::max<int64_t>(0, view.bought));
    }
    std::vector<Quantities> got;
    for (const ItemView& v : replicas_[0].state.View().items) {
      got.emplace_back(v.name, v.wanted, v.bought);
    }
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want);
  }

  const Stats& stats() const { return stats_; }

 private:
  size_t Pick(size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng_);
  }

  void RandomOperation() {
    size_t r = Pick(replicas_.size());
    Replica& rep = replicas_[r];
    std::string item = "item" + std::to_string(Pick(12));
    int kind = Pick(100);
    int64_t n = 1 + Pick(4);
    ItemEntry before;
    if (auto it = rep.state.items().find(item); it != rep.state.items().end()) {
      if (const ItemEntry* e = it->second.Find(rep.id)) before = *e;
    }
    absl::StatusOr<ListState> delta;
    bool remove_item = false;
    if (kind < 40) {
      delta = rep.state.Add(rep.id, item, n);
    } else if (kind < 55) {
      delta = rep.state.Remove(rep.id, item, n);
    } else if (kind < 65) {
      delta = rep.state.RemoveItem(rep.id, item);
      remove_item = true;
    } else if (kind < 95) {
      delta = rep.state.Buy(rep.id, item, Pick(2) == 0 ? 0 : n);
    } else {
      delta = rep.state.Rename(rep.id, "title" + std::to_string(stats_.ops),
                               1000 + Pick(1000));
      if (delta.ok()) ++stats_.ops;
      if (delta.ok()) Broadcast(r, *delta, Knowledge());
      return;
    }
    if (!delta.ok()) {
      EXPECT_EQ(delta.status().code(), absl::StatusCode::kNotFound);
      return;
    }
    if (delta->empty()) return;  // nothing to change (e.g. remove at zero)
    ++stats_.ops;
    const Item& after = rep.state.items().find(item)->second;
    ItemEntry now = *after.Find(rep.id);
    Op op;
    op.item = item;
    op.remove_item = remove_item;
    if (!remove_item) {
      op.wanted = now.wanted - before.wanted;
      op.bought = now.bought - before.bought;
    }
    size_t index = ops_.size();
    rep.knowledge.seen[item].Set(index);
    if (remove_item) op.observed = rep.knowledge.seen[item];
    ops_.push_back(std::move(op));
    Knowledge carried;
    carried.seen[item] = rep.knowledge.seen[item];
    Broadcast(r, *delta, carried);
  }

  void Broadcast(size_t from, const ListState& delta, const Knowledge& k) {
    for (size_t to = 0; to < replicas_.size(); ++to) {
      if (to == from) continue;
      Message m{to, delta, k};
      if (Pick(100) < 20) {
        ++stats_.lost;
        lost_.push_back(std::move(m));
      } else {
        inflight_.push_back(std::move(m));
      }
    }
  }

  void DeliverOne() {
    if (inflight_.empty()) return;
    Deliver(Pick(inflight_.size()), Pick(100) < 10);
  }

  void Deliver(size_t index, bool duplicate) {
    Message m = inflight_[index];
    if (!duplicate) {
      inflight_[index] = std::move(inflight_.back());
      inflight_.pop_back();
    } else {
      ++stats_.duplicated;
    }
    // Deltas travel encoded, as they will on the wire.
    v1::ListState wire;
    codec::EncodeState(m.payload, &wire);
    auto decoded = codec::DecodeState(wire);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    replicas_[m.to].state.Merge(*decoded);
    replicas_[m.to].knowledge.Union(m.knowledge);
    ++stats_.delivered;
  }

  // `from` sends `to` what `to` lacks, computed from `to`'s context.
  void AntiEntropy(size_t from, size_t to) {
    if (from == to) return;
    ++stats_.anti_entropy;
    ListState missing =
        replicas_[from].state.DeltaSince(replicas_[to].state.context());
    replicas_[to].state.Merge(missing);
    replicas_[to].knowledge.Union(replicas_[from].knowledge);
  }

  void SendWholeState(size_t from, size_t to) {
    if (from == to) return;
    inflight_.push_back({to, replicas_[from].state, replicas_[from].knowledge});
  }

  std::mt19937_64 rng_;
  std::vector<Replica> replicas_;
  std::vector<Op> ops_;
  std::vector<Message> inflight_;
  std::vector<Message> lost_;
  Stats stats_;
};

class ListPropertyTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(ListPropertyTest, RandomOperationsConvergeToTheModel) {
  const uint32_t seed = GetParam();
  Simulation sim(seed, 3 + seed % 3);
  sim.Run(10'000);
  sim.Heal();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  sim.CheckConverged();
  sim.CheckAgainstModel();
  const Stats& s = sim.stats();
  EXPECT_GT(s.lost, 0);
  EXPECT_GT(s.duplicated, 0);
  std::printf(
      "seed %u: %d ops, %d deliveries, %d duplicated, %d lost and resent, %d "
      "anti-entropy exchanges\n",
      seed, s.ops, s.delivered, s.duplicated, s.lost, s.anti_entropy);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ListPropertyTest,
                         ::testing::Values(1u, 2u, 3u, 20261125u));

}  // namespace
}  // namespace shoplist::crdt
