// Replica ids and dots: the identity of one change.
#ifndef SHOPLIST_CRDT_DOT_H_
#define SHOPLIST_CRDT_DOT_H_

#include <cstdint>
#include <tuple>

namespace shoplist::crdt {

// A random 64-bit id, one per writer: a CLI home, or a node applying
// operations for thin clients. Random ids need no coordination; at 2^-64
// per pair, collisions are not a practical concern.
using ReplicaId = uint64_t;

// The counter-th change made by `replica`; counters start at 1.
struct Dot {
  ReplicaId replica = 0;
  uint64_t counter = 0;

  friend bool operator==(const Dot& a, const Dot& b) {
    return a.replica == b.replica && a.counter == b.counter;
  }
  friend bool operator!=(const Dot& a, const Dot& b) { return !(a == b); }
  friend bool operator<(const Dot& a, const Dot& b) {
    return std::tie(a.replica, a.counter) < std::tie(b.replica, b.counter);
  }
};

}  // namespace shoplist::crdt

#endif  // SHOPLIST_CRDT_DOT_H_
