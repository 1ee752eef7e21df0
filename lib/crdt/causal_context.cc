#include "crdt/causal_context.h"

#include <algorithm>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace shoplist::crdt {

absl::StatusOr<CausalContext> CausalContext::FromParts(Vector vector,
                                                       Cloud cloud) {
  for (const auto& [replica, counter] : vector) {
    if (counter == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("causal context: zero counter for replica ", replica));
    }
  }
  for (const Dot& dot : cloud) {
    if (dot.counter == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "causal context: zero dot counter for replica ", dot.replica));
    }
  }
  CausalContext context;
  context.vector_ = std::move(vector);
  context.cloud_ = std::move(cloud);
  context.Compact();
  return context;
}

bool CausalContext::Contains(const Dot& dot) const {
  auto it = vector_.find(dot.replica);
  if (it != vector_.end() && dot.counter <= it->second) return true;
  return cloud_.contains(dot);
}

uint64_t CausalContext::Max(ReplicaId replica) const {
  uint64_t max = 0;
  if (auto it = vector_.find(replica); it != vector_.end()) max = it->second;
  // The cloud is ordered by (replica, counter): the last dot of `replica`
  // sits just before the first dot of the next replica.
  auto next = cloud_.lower_bound(Dot{replica + 1, 0});
  if (replica == UINT64_MAX) next = cloud_.end();
  if (next != cloud_.begin()) {
    auto last = std::prev(next);
    if (last->replica == replica) max = std::max(max, last->counter);
  }
  return max;
}

void CausalContext::Add(const Dot& dot) {
  if (dot.counter == 0) return;
  uint64_t& seen = vector_[dot.replica];
  if (dot.counter <= seen) return;
  if (dot.counter == seen + 1) {
    seen = dot.counter;
    // The new dot may close a gap: absorb the cloud dots that follow.
    for (auto it = cloud_.find(Dot{dot.replica, seen + 1});
         it != cloud_.end() && it->replica == dot.replica &&
         it->counter == seen + 1;
         it = cloud_.erase(it)) {
      ++seen;
    }
    return;
  }
  if (seen == 0) vector_.erase(dot.replica);
  cloud_.insert(dot);
}

void CausalContext::Merge(const CausalContext& other) {
  for (const auto& [replica, counter] : other.vector_) {
    uint64_t& seen = vector_[replica];
    seen = std::max(seen, counter);
  }
  cloud_.insert(other.cloud_.begin(), other.cloud_.end());
  Compact();
}

bool CausalContext::Includes(const CausalContext& other) const {
  for (const auto& [replica, counter] : other.vector_) {
    auto it = vector_.find(replica);
    uint64_t seen = it == vector_.end() ? 0 : it->second;
    // A compacted cloud never holds seen + 1, so a vector entry above ours
    // cannot be covered.
    if (seen < counter) return false;
  }
  for (const Dot& dot : other.cloud_) {
    if (!Contains(dot)) return false;
  }
  return true;
}

void CausalContext::Compact() {
  for (auto it = cloud_.begin(); it != cloud_.end();) {
    auto v = vector_.find(it->replica);
    uint64_t seen = v == vector_.end() ? 0 : v->second;
    if (it->counter <= seen) {
      it = cloud_.erase(it);
    } else if (it->counter == seen + 1) {
      vector_[it->replica] = it->counter;
      it = cloud_.erase(it);
    } else {
      ++it;
    }
  }
}

std::string CausalContext::DebugString() const {
  return absl::StrCat(
      "{vector: [", absl::StrJoin(vector_, ", ", absl::PairFormatter(":")),
      "], cloud: [",
      absl::StrJoin(cloud_, ", ",
                    [](std::string* out, const Dot& d) {
                      absl::StrAppend(out, d.replica, ":", d.counter);
                    }),
      "]}");
}

}  // namespace shoplist::crdt
