#include "merkle/digest_index.h"

#include <algorithm>
#include <optional>

#include "ring/stable_hash.h"

namespace shoplist::merkle {
namespace {

// Non-wrapping pieces [lo, hi] (inclusive) of a range (start, end].
std::vector<std::pair<uint64_t, uint64_t>> Pieces(const ring::TokenRange& r) {
  auto [start, end] = r;
  if (start == end) return {{0, UINT64_MAX}};
  if (start < end) return {{start + 1, end}};
  std::vector<std::pair<uint64_t, uint64_t>> pieces;
  if (start != UINT64_MAX) pieces.push_back({start + 1, UINT64_MAX});
  pieces.push_back({0, end});
  return pieces;
}

// A range cut into `count` equal buckets.
struct Split {
  uint64_t start = 0;
  unsigned __int128 span = 0;  // positions in the range; 2^64 for the ring
  uint64_t count = 1;
};

Split SplitOf(const ring::TokenRange& range, uint32_t depth) {
  const uint64_t start = range.first;
  const uint64_t end = range.second;
  return Split{start,
               start == end ? (static_cast<unsigned __int128>(1) << 64)
                            : static_cast<unsigned __int128>(end - start),
               uint64_t{1} << depth};
}

// The bucket of `split` that holds `position`, or nullopt outside it.
std::optional<uint64_t> BucketOf(const Split& split, uint64_t position) {
  // Offset from start, in (0, span] inside the range.
  unsigned __int128 offset = static_cast<uint64_t>(position - split.start);
  if (offset == 0) {
    if (split.span != (static_cast<unsigned __int128>(1) << 64)) {
      return std::nullopt;
    }
    offset = split.span;  // only the whole ring holds its own start
  }
  if (offset > split.span) return std::nullopt;
  // Bucket i is (floor(span*i/count), floor(span*(i+1)/count)] in offsets:
  // the smallest i with offset <= floor(span*(i+1)/count).
  return static_cast<uint64_t>((offset * split.count - 1) / split.span);
}

// Mixed so that the XOR of many lists does not cancel out structure.
uint64_t Mix(uint64_t position, uint64_t state_hash) {
  return ring::Fmix64(position ^ ring::Fmix64(state_hash));
}

}  // namespace

void DigestIndex::Set(const std::string& list_id, uint64_t state_hash) {
  const uint64_t position = ring::Ring::KeyPosition(list_id);
  auto [at, fresh] = entries_.try_emplace({position, list_id}, state_hash);
  if (!fresh) {
    if (at->second == state_hash) return;
    UpdateKept(position, at->second, -1);
    at->second = state_hash;
  }
  UpdateKept(position, state_hash, +1);
}

void DigestIndex::Erase(const std::string& list_id) {
  auto at = entries_.find({ring::Ring::KeyPosition(list_id), list_id});
  if (at == entries_.end()) return;
  UpdateKept(at->first.first, at->second, -1);
  entries_.erase(at);
}

void DigestIndex::UpdateKept(uint64_t position, uint64_t state_hash, int sign) {
  for (Kept& kept : kept_) {
    std::optional<uint64_t> i =
        BucketOf(SplitOf(kept.range, kept.depth), position);
    if (!i) continue;
    Bucket& bucket = kept.buckets[*i];
    bucket.hash ^= Mix(position, state_hash);
    bucket.lists += sign;  // unsigned: -1 wraps to a decrement
  }
}

void DigestIndex::Keep(Kept kept) {
  size_t total = kept.buckets.size();
  for (const Kept& k : kept_) total += k.buckets.size();
  while (total > kMaxKeptBuckets && !kept_.empty()) {
    auto oldest = std::min_element(
        kept_.begin(), kept_.end(),
        [](const Kept& a, const Kept& b) { return a.used < b.used; });
    total -= oldest->buckets.size();
    kept_.erase(oldest);
  }
  kept_.push_back(std::move(kept));
}

template <typename Visit>
void DigestIndex::ForEachIn(const ring::TokenRange& range, Visit visit) const {
  for (auto [lo, hi] : Pieces(range)) {
    for (auto it = entries_.lower_bound({lo, std::string()});
         it != entries_.end() && it->first.first <= hi; ++it) {
      visit(it->first.first, it->first.second, it->second);
    }
  }
}

std::vector<Bucket> DigestIndex::Digests(const ring::TokenRange& range,
                                         uint32_t depth) {
  depth = std::min<uint32_t>(depth, 16);
  ++asked_;
  for (Kept& kept : kept_) {
    if (kept.range == range && kept.depth == depth) {
      kept.used = asked_;
      return kept.buckets;
    }
  }
  const Split split = SplitOf(range, depth);
  std::vector<Bucket> buckets(split.count);
  for (uint64_t i = 0; i < split.count; ++i) {
    buckets[i].range = {
        split.start + static_cast<uint64_t>(split.span * i / split.count),
        split.start +
            static_cast<uint64_t>(split.span * (i + 1) / split.count)};
  }
  size_t lists = 0;
  ForEachIn(range, [&](uint64_t position, const std::string&, uint64_t hash) {
    Bucket& bucket = buckets[*BucketOf(split, position)];
    bucket.hash ^= Mix(position, hash);
    ++bucket.lists;
    ++lists;
  });
  if (lists >= kKeepFrom) Keep(Kept{range, depth, buckets, asked_});
  return buckets;
}

std::vector<std::pair<std::string, uint64_t>> DigestIndex::ListsIn(
    const ring::TokenRange& range) const {
  std::vector<std::pair<std::string, uint64_t>> lists;
  ForEachIn(range, [&](uint64_t, const std::string& id, uint64_t hash) {
    lists.emplace_back(id, hash);
  });
  return lists;
}

uint32_t DepthFor(uint64_t lists_held, const ring::TokenRange& range,
                  uint32_t min_depth) {
  const auto [start, end] = range;
  const long double share =
      start == end
          ? 1.0L
          : static_cast<long double>(end - start) / 18446744073709551616.0L;
  const long double lists = share * static_cast<long double>(lists_held);
  uint32_t depth = 0;
  while (depth < 16 && static_cast<long double>(kListsPerBucket) *
                               static_cast<long double>(uint64_t{1} << depth) <
                           lists) {
    ++depth;
  }
  return std::clamp<uint32_t>(std::max(depth, min_depth), 0, 16);
}

std::vector<ring::TokenRange> IntersectRanges(
    const std::vector<ring::TokenRange>& a,
    const std::vector<ring::TokenRange>& b) {
  std::vector<ring::TokenRange> out;
  for (const auto& ra : a) {
    for (auto [alo, ahi] : Pieces(ra)) {
      for (const auto& rb : b) {
        for (auto [blo, bhi] : Pieces(rb)) {
          uint64_t lo = std::max(alo, blo), hi = std::min(ahi, bhi);
          if (lo > hi) continue;
          // Back to (start, end]; [0, x] becomes (UINT64_MAX, x], which
          // wraps over exactly the position 0.
          out.push_back({lo - 1, hi});
        }
      }
    }
  }
  return out;
}

}  // namespace shoplist::merkle
