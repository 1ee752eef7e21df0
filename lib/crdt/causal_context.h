// A causal context: the set of dots a replica has seen, kept compact as a
// version vector (every counter up to vector[r] seen) plus a cloud of dots
// seen out of order. Size is proportional to writers plus the gaps still
// open, not to the number of changes ever made.
//
// Thread-compatible: callers synchronise concurrent use.
#ifndef SHOPLIST_CRDT_CAUSAL_CONTEXT_H_
#define SHOPLIST_CRDT_CAUSAL_CONTEXT_H_

#include <cstdint>
#include <string>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crdt/dot.h"

namespace shoplist::crdt {

class CausalContext {
 public:
  using Vector = absl::btree_map<ReplicaId, uint64_t>;
  using Cloud = absl::btree_set<Dot>;

  CausalContext() = default;

  // Builds a context from decoded parts and compacts it. Fails with
  // INVALID_ARGUMENT on a zero counter.
  static absl::StatusOr<CausalContext> FromParts(Vector vector, Cloud cloud);

  bool Contains(const Dot& dot) const;
  // Highest counter of `replica` seen, in the vector or the cloud; 0 if none.
  uint64_t Max(ReplicaId replica) const;
  // The dot a replica uses for its next change: one past Max(replica).
  Dot Next(ReplicaId replica) const { return {replica, Max(replica) + 1}; }

  // Adds one dot (no-op when already seen).
  void Add(const Dot& dot);
  // Set union with `other`.
  void Merge(const CausalContext& other);
  // True when every dot of `other` is in this context.
  bool Includes(const CausalContext& other) const;

  bool empty() const { return vector_.empty() && cloud_.empty(); }
  const Vector& vector() const { return vector_; }
  const Cloud& cloud() const { return cloud_; }

  friend bool operator==(const CausalContext& a, const CausalContext& b) {
    return a.vector_ == b.vector_ && a.cloud_ == b.cloud_;
  }

  std::string DebugString() const;

 private:
  // Moves cloud dots that became contiguous into the vector and drops
  // those the vector already covers.
  void Compact();

  Vector vector_;
  Cloud cloud_;
};

}  // namespace shoplist::crdt

#endif  // SHOPLIST_CRDT_CAUSAL_CONTEXT_H_
