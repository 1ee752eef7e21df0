#include "merkle/digest_index.h"

#include <algorithm>

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

}  // namespace

void DigestIndex::Set(const std::string& list_id, uint64_t state_hash) {
  uint64_t position = ring::Ring::KeyPosition(list_id);
  position_of_[list_id] = position;
  entries_[{position, list_id}] = state_hash;
}

void DigestIndex::Erase(const std::string& list_id) {
  auto it = position_of_.find(list_id);
  if (it == position_of_.end()) return;
  entries_.erase({it->second, list_id});
  position_of_.erase(it);
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
                                         uint32_t depth) const {
  depth = std::min<uint32_t>(depth, 16);
  const uint64_t count = uint64_t{1} << depth;
  // Span of (start, end], as an unsigned 128-bit number (the whole ring is
  // 2^64).
  // Not a structured binding: clang 14 (the fuzz build) cannot capture one.
  const uint64_t start = range.first;
  const uint64_t end = range.second;
  const unsigned __int128 span =
      start == end ? (static_cast<unsigned __int128>(1) << 64)
                   : static_cast<unsigned __int128>(end - start);
  std::vector<Bucket> buckets(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t lo = start + static_cast<uint64_t>(span * i / count);
    uint64_t hi = start + static_cast<uint64_t>(span * (i + 1) / count);
    buckets[i].range = {lo, hi};
  }
  ForEachIn(range, [&](uint64_t position, const std::string&, uint64_t hash) {
    // Offset from start, in (0, span].
    unsigned __int128 offset = static_cast<uint64_t>(position - start);
    if (offset == 0) offset = span;  // only for the whole ring
    // Bucket i is (floor(span*i/count), floor(span*(i+1)/count)] in
    // offsets: the smallest i with offset <= floor(span*(i+1)/count).
    uint64_t i = static_cast<uint64_t>((offset * count - 1) / span);
    // Mixed so that the XOR of many lists does not cancel out structure.
    buckets[i].hash ^= ring::Fmix64(position ^ ring::Fmix64(hash));
    ++buckets[i].lists;
  });
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
