// The network of the CRDT property tests, and their convergence check: deltas
// between replicas are reordered, duplicated and lost, some for good, and
// travel encoded as on the wire. Each message carries a `Tag` of the test's own
// (what its model learns along with the delta).
//
// Not thread-safe; seeded by the caller's generator, so runs reproduce.
#ifndef SHOPLIST_TESTS_UNIT_LOSSY_NETWORK_H_
#define SHOPLIST_TESTS_UNIT_LOSSY_NETWORK_H_

#include <cstddef>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "codec/list_codec.h"
#include "crdt/list_state.h"
#include "gtest/gtest.h"

namespace shoplist::crdt {

struct NetworkStats {
  int sent = 0, delivered = 0, duplicated = 0, lost = 0, lost_for_good = 0;
};

template <typename Tag>
class LossyNetwork {
 public:
  struct Message {
    size_t to = 0;
    ListState payload;
    Tag tag;
  };

  // Of the messages sent, `lost_percent` are lost; half of those are resent
  // by Flush, the other half never arrive. `duplicate_percent` of the
  // deliveries leave a copy in flight to arrive again.
  LossyNetwork(std::mt19937_64& rng, int lost_percent, int duplicate_percent)
      : rng_(rng),
        lost_percent_(lost_percent),
        duplicate_percent_(duplicate_percent) {}

  void Send(size_t to, ListState payload, Tag tag) {
    ++stats_.sent;
    Message m{to, std::move(payload), std::move(tag)};
    if (static_cast<int>(Pick(100)) >= lost_percent_) {
      inflight_.push_back(std::move(m));
    } else if (Pick(2) == 0) {
      ++stats_.lost;
      lost_.push_back(std::move(m));
    } else {
      ++stats_.lost_for_good;
    }
  }

  bool empty() const { return inflight_.empty(); }

  // A random message in flight, decoded from its wire form; nullopt when
  // none is.
  std::optional<Message> Next() {
    return Take(static_cast<int>(Pick(100)) < duplicate_percent_);
  }

  // Resends what may still arrive; what was lost for good stays lost.
  void Flush() {
    for (Message& m : lost_) inflight_.push_back(std::move(m));
    lost_.clear();
  }

  // The next message without duplication, for draining.
  std::optional<Message> NextOnce() { return Take(false); }

  const NetworkStats& stats() const { return stats_; }

 private:
  size_t Pick(size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng_);
  }

  std::optional<Message> Take(bool duplicate) {
    if (inflight_.empty()) return std::nullopt;
    const size_t index = Pick(inflight_.size());
    Message m = inflight_[index];
    if (duplicate) {
      ++stats_.duplicated;
    } else {
      // Not `inflight_[index] = std::move(inflight_.back())`: when index is
      // the last element that is a self-move, which libc++ leaves empty.
      std::swap(inflight_[index], inflight_.back());
      inflight_.pop_back();
    }
    v1::ListState wire;
    codec::EncodeState(m.payload, &wire);
    absl::StatusOr<ListState> decoded = codec::DecodeState(wire);
    EXPECT_TRUE(decoded.ok()) << decoded.status();
    if (decoded.ok()) m.payload = *std::move(decoded);
    ++stats_.delivered;
    return m;
  }

  std::mt19937_64& rng_;
  const int lost_percent_;
  const int duplicate_percent_;
  std::vector<Message> inflight_, lost_;
  NetworkStats stats_;
};

// Converged: every state equals the first, encodes to the same bytes,
// validates, shows the same items in the same order, and the first
// survives an encoding round trip.
inline void ExpectConverged(const std::vector<const ListState*>& states) {
  const ListState& first = *states.at(0);
  v1::ListState first_wire;
  codec::EncodeState(first, &first_wire);
  const ListView want = first.View();
  for (const ListState* s : states) {
    EXPECT_EQ(*s, first);
    v1::ListState wire;
    codec::EncodeState(*s, &wire);
    EXPECT_EQ(wire.SerializeAsString(), first_wire.SerializeAsString());
    EXPECT_TRUE(s->Validate().ok()) << s->Validate();
    const ListView view = s->View();
    ASSERT_EQ(view.items.size(), want.items.size());
    for (size_t i = 0; i < view.items.size(); ++i) {
      EXPECT_EQ(view.items[i], want.items[i]);
    }
  }
  absl::StatusOr<ListState> decoded = codec::DecodeState(first_wire);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, first);
}

}  // namespace shoplist::crdt

#endif  // SHOPLIST_TESTS_UNIT_LOSSY_NETWORK_H_
