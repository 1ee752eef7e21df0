// Digests of the lists a node holds, by position on the hash ring, for
// anti-entropy (Dynamo section 4.7). Two levels of a hash tree: a range of
// the ring splits into 2^depth equal buckets, each bucket's hash combines
// the hashes of its lists; replicas compare buckets first and list hashes
// only inside buckets that differ, so in-sync replicas exchange a few
// hundred bytes per range.
//
// Bucket hashes XOR the lists' (position, state hash) mixes, so a merge
// updates the index in O(log n) and no tree is rebuilt. The buckets of a
// large range are kept once computed and updated by every Set and Erase
// (XOR can take a list's old mix back out), so anti-entropy's rounds over
// a million lists cost the writes since the last round rather than a walk
// over every list. Pure: no I/O. Thread-compatible; Digests changes what
// is kept, so it is not const.
#ifndef SHOPLIST_MERKLE_DIGEST_INDEX_H_
#define SHOPLIST_MERKLE_DIGEST_INDEX_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/strings/string_view.h"
#include "ring/ring.h"

namespace shoplist::merkle {

struct Bucket {
  ring::TokenRange range;  // (start, end]
  uint64_t hash = 0;       // 0 for an empty bucket
  uint64_t lists = 0;
  friend bool operator==(const Bucket&, const Bucket&) = default;
};

class DigestIndex {
 public:
  // Records (or replaces) the hash of a list's stored state.
  void Set(const std::string& list_id, uint64_t state_hash);
  void Erase(const std::string& list_id);
  size_t size() const { return entries_.size(); }

  // `range` split into 2^depth equal buckets, in ring order. REQUIRES:
  // depth <= 16. A range with start == end is the whole ring.
  std::vector<Bucket> Digests(const ring::TokenRange& range, uint32_t depth);
  // (list id, state hash) of every list inside `range`.
  std::vector<std::pair<std::string, uint64_t>> ListsIn(
      const ring::TokenRange& range) const;

 private:
  // The buckets of one (range, depth) asked for, kept up to date.
  struct Kept {
    ring::TokenRange range;
    uint32_t depth = 0;
    std::vector<Bucket> buckets;
    uint64_t used = 0;  // when last asked for, in Digests calls
  };
  // A range with fewer lists is cheap to walk and is not kept: that spares
  // keeping every single bucket that anti-entropy asks lists of.
  static constexpr size_t kKeepFrom = 1024;
  // At most this many buckets kept over all ranges (32 bytes each, 16 MiB);
  // the least recently asked for go first.
  static constexpr size_t kMaxKeptBuckets = size_t{1} << 19;

  // Visits the entries in `range`, in ring order from start.
  template <typename Visit>
  void ForEachIn(const ring::TokenRange& range, Visit visit) const;
  // Takes (sign < 0) or puts back a list's mix in every kept range holding
  // its position.
  void UpdateKept(uint64_t position, uint64_t state_hash, int sign);
  void Keep(Kept kept);

  // (position, id) -> state hash. A list's position is a hash of its id,
  // so no map by id is needed: keys compare by position first, and ids
  // only where two lists share one.
  absl::btree_map<std::pair<uint64_t, std::string>, uint64_t> entries_;
  std::vector<Kept> kept_;
  uint64_t asked_ = 0;  // Digests calls so far
};

// The depth at which to compare `range`: enough buckets for about
// kListsPerBucket lists each, guessing the lists in it from `lists_held`
// (spread evenly over the ring), at least `min_depth`, at most 16. A
// bucket that differs costs the list hashes in it, and under writes some
// bucket always differs: with 3 nodes and N=3 one range is the whole ring.
inline constexpr uint64_t kListsPerBucket = 32;
uint32_t DepthFor(uint64_t lists_held, const ring::TokenRange& range,
                  uint32_t min_depth);

// The overlap of two sets of ranges (each (start, end], wrapping), as
// non-wrapping ranges.
std::vector<ring::TokenRange> IntersectRanges(
    const std::vector<ring::TokenRange>& a,
    const std::vector<ring::TokenRange>& b);

}  // namespace shoplist::merkle

#endif  // SHOPLIST_MERKLE_DIGEST_INDEX_H_
