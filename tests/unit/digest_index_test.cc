#include "merkle/digest_index.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ring/ring.h"

namespace shoplist::merkle {
namespace {

using ::shoplist::ring::RangeContains;
using ::shoplist::ring::Ring;
using ::shoplist::ring::TokenRange;
using ::testing::IsEmpty;

constexpr uint64_t kMax = UINT64_MAX;

// `count` ULID-like ids: 26 characters of Crockford base32, the same on
// every run for a given seed.
std::vector<std::string> RandomIds(int count, uint64_t seed = 42) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> digit(0, 31);
  std::vector<std::string> ids(count);
  for (std::string& id : ids) {
    id.resize(26);
    for (char& c : id) c = kAlphabet[digit(rng)];
  }
  return ids;
}

// Number of positions in `range`, as a 128-bit number (the whole ring is
// 2^64).
unsigned __int128 Span(const TokenRange& range) {
  if (range.first == range.second) {
    return static_cast<unsigned __int128>(1) << 64;
  }
  return static_cast<uint64_t>(range.second - range.first);
}

// A set of test ranges: ordinary, wrapping, whole ring, and edge cases at
// 0 and 2^64 - 1.
std::vector<TokenRange> SampleRanges() {
  return {
      {0, 0},                                          // whole ring
      {0x1234'5678'9abc'def0, 0x1234'5678'9abc'def0},  // whole ring
      {0, kMax / 2},
      {kMax / 4, kMax / 4 * 3},
      {kMax / 4 * 3, kMax / 4},  // wraps
      {kMax - 1000, 1000},       // wraps, narrowly
      {kMax, kMax / 3},          // wraps at the very end
      {kMax / 3, kMax},
      {0x0123'4567'89ab'cdef, 0xfedc'ba98'7654'3210},
      {0xfedc'ba98'7654'3210, 0x0123'4567'89ab'cdef},  // wraps
  };
}

DigestIndex IndexOf(
    const std::vector<std::pair<std::string, uint64_t>>& lists) {
  DigestIndex index;
  for (const auto& [id, hash] : lists) index.Set(id, hash);
  return index;
}

std::vector<std::pair<std::string, uint64_t>> RandomLists(int count,
                                                          uint64_t seed) {
  std::vector<std::string> ids = RandomIds(count, seed);
  std::mt19937_64 rng(seed ^ 0x9e37'79b9'7f4a'7c15ULL);
  std::vector<std::pair<std::string, uint64_t>> lists;
  for (std::string& id : ids) lists.emplace_back(std::move(id), rng());
  return lists;
}

TEST(DigestIndexTest, SameEntriesInAnyOrderGiveSameDigests) {
  auto lists = RandomLists(500, 1);
  DigestIndex forward = IndexOf(lists);
  std::reverse(lists.begin(), lists.end());
  DigestIndex backward = IndexOf(lists);
  std::shuffle(lists.begin(), lists.end(), std::mt19937_64(7));
  DigestIndex shuffled = IndexOf(lists);
  ASSERT_EQ(forward.size(), 500u);
  ASSERT_EQ(backward.size(), 500u);
  ASSERT_EQ(shuffled.size(), 500u);

  for (const TokenRange& range : SampleRanges()) {
    for (uint32_t depth : {0u, 4u, 8u}) {
      SCOPED_TRACE(absl::StrCat("range (", range.first, ", ", range.second,
                                "], depth ", depth));
      std::vector<Bucket> digests = forward.Digests(range, depth);
      EXPECT_EQ(digests, backward.Digests(range, depth));
      EXPECT_EQ(digests, shuffled.Digests(range, depth));
    }
  }
  // The digests are not trivially all zero.
  std::vector<Bucket> whole = forward.Digests({0, 0}, 4);
  EXPECT_TRUE(std::any_of(whole.begin(), whole.end(),
                          [](const Bucket& b) { return b.hash != 0; }));
}

TEST(DigestIndexTest, OneDifferingHashDiffersInExactlyOneBucket) {
  auto lists = RandomLists(500, 2);
  DigestIndex ours = IndexOf(lists);
  auto changed = lists;
  const std::string& changed_id = changed[123].first;
  changed[123].second ^= 1;
  DigestIndex theirs = IndexOf(changed);
  const uint64_t p = Ring::KeyPosition(changed_id);

  std::vector<TokenRange> ranges = SampleRanges();
  // Ranges around p, some wrapping past 0.
  ranges.push_back({p - 1, p});
  ranges.push_back({p - (uint64_t{1} << 62), p + (uint64_t{1} << 62)});
  ranges.push_back({p + (uint64_t{1} << 62), p + (uint64_t{1} << 61)});
  ranges.push_back({p + 1, p + 1});
  for (const TokenRange& range : ranges) {
    for (uint32_t depth : {0u, 4u, 8u}) {
      SCOPED_TRACE(absl::StrCat("range (", range.first, ", ", range.second,
                                "], depth ", depth));
      std::vector<Bucket> a = ours.Digests(range, depth);
      std::vector<Bucket> b = theirs.Digests(range, depth);
      ASSERT_EQ(a.size(), b.size());
      std::vector<size_t> differing;
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].range, b[i].range);
        EXPECT_EQ(a[i].lists, b[i].lists);
        if (a[i].hash != b[i].hash) differing.push_back(i);
      }
      if (!RangeContains(range, p)) {
        EXPECT_THAT(differing, IsEmpty());
        continue;
      }
      ASSERT_EQ(differing.size(), 1u);
      const Bucket& bucket = a[differing[0]];
      EXPECT_TRUE(RangeContains(bucket.range, p));

      // Comparing the lists of that bucket finds exactly the changed one.
      auto ours_lists = ours.ListsIn(bucket.range);
      auto theirs_lists = theirs.ListsIn(bucket.range);
      std::sort(ours_lists.begin(), ours_lists.end());
      std::sort(theirs_lists.begin(), theirs_lists.end());
      ASSERT_EQ(ours_lists.size(), theirs_lists.size());
      std::vector<std::string> differing_ids;
      for (size_t i = 0; i < ours_lists.size(); ++i) {
        EXPECT_EQ(ours_lists[i].first, theirs_lists[i].first);
        if (ours_lists[i].second != theirs_lists[i].second) {
          differing_ids.push_back(ours_lists[i].first);
        }
      }
      EXPECT_EQ(differing_ids, std::vector<std::string>{changed_id});
    }
  }
}

TEST(DigestIndexTest, BucketsTileTheRange) {
  std::vector<TokenRange> ranges = SampleRanges();
  // Spans that 2^depth does not divide.
  ranges.push_back({100, 100 + 1'000'003});
  ranges.push_back({kMax - 500'000, 500'002});  // wraps
  DigestIndex index = IndexOf(RandomLists(100, 3));
  for (const TokenRange& range : ranges) {
    const unsigned __int128 span = Span(range);
    for (uint32_t depth : {0u, 1u, 4u, 8u, 16u}) {
      SCOPED_TRACE(absl::StrCat("range (", range.first, ", ", range.second,
                                "], depth ", depth));
      const uint64_t count = uint64_t{1} << depth;
      std::vector<Bucket> buckets = index.Digests(range, depth);
      ASSERT_EQ(buckets.size(), count);
      EXPECT_EQ(buckets.front().range.first, range.first);
      EXPECT_EQ(buckets.back().range.second, range.second);
      unsigned __int128 total = 0;
      for (size_t i = 0; i < buckets.size(); ++i) {
        if (i > 0) {
          EXPECT_EQ(buckets[i].range.first, buckets[i - 1].range.second)
              << "bucket " << i;
        }
        // Equal buckets: each holds floor or ceil of span / count. (When
        // span < count some buckets are empty, (x, x], which TokenRange
        // cannot express; only check spans with no empty bucket.)
        if (span < count) continue;
        const unsigned __int128 width =
            count == 1 ? span : Span(buckets[i].range);
        EXPECT_TRUE(width == span / count || width == span / count + 1)
            << "bucket " << i << " width " << static_cast<uint64_t>(width);
        total += width;
      }
      if (span >= count) {
        EXPECT_TRUE(total == span);
      }
    }
  }
}

TEST(DigestIndexTest, WholeRingCountsEachListOnceInItsBucket) {
  const std::vector<std::string> ids = RandomIds(1000, 4);
  DigestIndex index;
  for (const std::string& id : ids) index.Set(id, 17);
  ASSERT_EQ(index.size(), 1000u);

  for (const TokenRange& whole : {TokenRange{0, 0}, TokenRange{kMax, kMax},
                                  TokenRange{kMax / 3, kMax / 3}}) {
    for (uint32_t depth : {0u, 4u, 8u, 16u}) {
      SCOPED_TRACE(
          absl::StrCat("whole ring at ", whole.first, ", depth ", depth));
      std::vector<Bucket> buckets = index.Digests(whole, depth);
      uint64_t sum = 0;
      for (const Bucket& b : buckets) sum += b.lists;
      EXPECT_EQ(sum, index.size());

      // Expected count per bucket, from RangeContains.
      std::vector<uint64_t> expected(buckets.size(), 0);
      for (const std::string& id : ids) {
        const uint64_t p = Ring::KeyPosition(id);
        int holders = 0;
        for (size_t i = 0; i < buckets.size(); ++i) {
          if (RangeContains(buckets[i].range, p)) {
            ++expected[i];
            ++holders;
          }
        }
        EXPECT_EQ(holders, 1) << id;
      }
      for (size_t i = 0; i < buckets.size(); ++i) {
        EXPECT_EQ(buckets[i].lists, expected[i]) << "bucket " << i;
      }
    }
  }
}

// A list at each offset of small ranges, and at the first position of each
// bucket of a large range whose span 2^depth does not divide: the bucket
// that counts it must be the bucket whose range contains it, and ListsIn
// of that bucket's range must return it.
TEST(DigestIndexTest, ListLandsInTheBucketWhoseRangeContainsIt) {
  const std::string id = "01HZY3K4W5X6Y7Z8A9BCDEFGHJ";
  DigestIndex index;
  index.Set(id, 99);
  const uint64_t p = Ring::KeyPosition(id);

  // Describes each case that goes wrong; a summary is reported at the end.
  std::vector<std::string> wrong;
  int cases = 0;
  auto check = [&](const TokenRange& range, uint32_t depth) {
    ++cases;
    const std::string what =
        absl::StrCat("range (", range.first, ", ", range.second,
                     "] (list at start + ", p - range.first, ", span ",
                     static_cast<uint64_t>(Span(range)), "), depth ", depth);
    ASSERT_TRUE(RangeContains(range, p)) << what;
    std::vector<Bucket> buckets = index.Digests(range, depth);
    std::vector<size_t> counted_in;
    for (size_t i = 0; i < buckets.size(); ++i) {
      if (buckets[i].lists != 0) counted_in.push_back(i);
    }
    if (counted_in.size() != 1) {
      wrong.push_back(
          absl::StrCat(what, ": counted in ", counted_in.size(), " buckets"));
      return;
    }
    const Bucket& bucket = buckets[counted_in[0]];
    if (!RangeContains(bucket.range, p) ||
        index.ListsIn(bucket.range).size() != 1) {
      wrong.push_back(absl::StrCat(
          what, ": counted in bucket ", counted_in[0], " = (",
          bucket.range.first, ", ", bucket.range.second,
          "], which does not contain it; ListsIn(that range) returns ",
          index.ListsIn(bucket.range).size(), " lists"));
    }
  };

  // Every offset of spans 10 and 37 at depths 1..3.
  for (uint64_t span : {10u, 37u}) {
    for (uint32_t depth : {1u, 2u, 3u}) {
      for (uint64_t offset = 1; offset <= span; ++offset) {
        check({p - offset, p - offset + span}, depth);
      }
    }
  }
  // The first position of each bucket of a large range, 2^40 + 3 wide.
  const uint64_t span = (uint64_t{1} << 40) + 3;
  for (uint32_t depth : {4u, 8u}) {
    const uint64_t count = uint64_t{1} << depth;
    for (uint64_t i = 1; i < count; ++i) {
      const uint64_t first =
          static_cast<uint64_t>(static_cast<unsigned __int128>(span) * i /
                                count) +
          1;
      check({p - first, p - first + span}, depth);
    }
  }
  std::string examples;
  for (size_t i = 0; i < wrong.size() && i < 5; ++i) {
    absl::StrAppend(&examples, "\n  ", wrong[i]);
  }
  EXPECT_TRUE(wrong.empty())
      << wrong.size() << " of " << cases << " cases wrong, e.g.:" << examples;
}

TEST(DigestIndexTest, SetReplacesHash) {
  DigestIndex index = IndexOf(RandomLists(50, 5));
  const std::string id = "SETREPLACES000000000000000";
  index.Set(id, 1);
  const std::vector<Bucket> before = index.Digests({0, 0}, 4);
  const size_t size_before = index.size();

  index.Set(id, 2);
  const std::vector<Bucket> after = index.Digests({0, 0}, 4);
  EXPECT_EQ(index.size(), size_before);
  const uint64_t p = Ring::KeyPosition(id);
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(before[i].lists, after[i].lists) << "bucket " << i;
    if (RangeContains(before[i].range, p)) {
      EXPECT_NE(before[i].hash, after[i].hash) << "bucket " << i;
    } else {
      EXPECT_EQ(before[i].hash, after[i].hash) << "bucket " << i;
    }
  }
  auto lists = index.ListsIn({p - 1, p});
  ASSERT_EQ(lists.size(), 1u);
  EXPECT_EQ(lists[0], (std::pair<std::string, uint64_t>{id, 2}));

  // Setting back restores the original digests.
  index.Set(id, 1);
  EXPECT_EQ(index.Digests({0, 0}, 4), before);
}

// Large ranges' buckets are kept between calls and follow every Set and
// Erase: after changes they must equal a fresh index's walk over the same
// lists, including ranges dropped to stay within the bound on kept buckets.
TEST(DigestIndexTest, KeptDigestsFollowSetsAndErases) {
  auto lists = RandomLists(6000, 11);
  DigestIndex index = IndexOf(lists);
  auto whole_ring = [](uint64_t k) {
    return TokenRange{k * 0x1111'1111'1111'1111ULL,
                      k * 0x1111'1111'1111'1111ULL};
  };
  std::vector<std::pair<TokenRange, uint32_t>> asks;
  for (const TokenRange& range : SampleRanges()) {
    asks.push_back({range, 6});
    asks.push_back({range, 10});
  }
  for (uint64_t k = 1; k <= 3; ++k) asks.push_back({whole_ring(k), 16});

  std::mt19937_64 rng(12);
  std::map<std::string, uint64_t> now(lists.begin(), lists.end());
  // Round 0 keeps what it asks for, round 1 checks it after changes, round
  // 2 first asks for more than is kept at once (ten more whole rings at
  // depth 16), so some of the asks are dropped and walked again.
  for (int round = 0; round < 3; ++round) {
    if (round == 2) {
      for (uint64_t k = 4; k <= 13; ++k) (void)index.Digests(whole_ring(k), 16);
    }
    for (int change = 0; change < 300; ++change) {
      auto& [id, hash] = lists[rng() % lists.size()];
      switch (rng() % 3) {
        case 0:
          index.Erase(id);
          now.erase(id);
          break;
        case 1:
          index.Set(id, hash);  // back, or the same again
          now[id] = hash;
          break;
        default: {
          const uint64_t fresh = rng();
          index.Set(id, fresh);
          now[id] = fresh;
        }
      }
    }
    DigestIndex walked;
    for (const auto& [id, hash] : now) walked.Set(id, hash);
    ASSERT_EQ(index.size(), walked.size());
    for (const auto& [range, depth] : asks) {
      SCOPED_TRACE(absl::StrCat("round ", round, ", range (", range.first, ", ",
                                range.second, "], depth ", depth));
      ASSERT_EQ(index.Digests(range, depth), walked.Digests(range, depth));
    }
  }
}

TEST(DigestIndexTest, SetSameHashTwiceIsIdempotent) {
  DigestIndex once = IndexOf(RandomLists(50, 6));
  DigestIndex twice = IndexOf(RandomLists(50, 6));
  once.Set("IDEMPOTENT", 5);
  twice.Set("IDEMPOTENT", 5);
  twice.Set("IDEMPOTENT", 5);
  EXPECT_EQ(once.size(), twice.size());
  for (uint32_t depth : {0u, 4u, 8u}) {
    EXPECT_EQ(once.Digests({0, 0}, depth), twice.Digests({0, 0}, depth));
  }
}

TEST(DigestIndexTest, EraseRemovesList) {
  auto lists = RandomLists(50, 7);
  DigestIndex index = IndexOf(lists);
  const std::string& id = lists[10].first;
  const uint64_t p = Ring::KeyPosition(id);
  const std::vector<Bucket> before = index.Digests({0, 0}, 4);

  index.Erase(id);
  EXPECT_EQ(index.size(), 49u);
  const std::vector<Bucket> after = index.Digests({0, 0}, 4);
  for (size_t i = 0; i < before.size(); ++i) {
    if (RangeContains(before[i].range, p)) {
      EXPECT_EQ(after[i].lists, before[i].lists - 1) << "bucket " << i;
      EXPECT_NE(after[i].hash, before[i].hash) << "bucket " << i;
    } else {
      EXPECT_EQ(after[i], before[i]) << "bucket " << i;
    }
  }
  for (const auto& [listed, hash] : index.ListsIn({0, 0})) {
    EXPECT_NE(listed, id);
  }

  // Erasing an absent id changes nothing.
  index.Erase(id);
  index.Erase("NEVER-SET");
  EXPECT_EQ(index.size(), 49u);
  EXPECT_EQ(index.Digests({0, 0}, 4), after);

  // Erasing the only list of a bucket leaves it empty with hash 0.
  DigestIndex single;
  single.Set(id, 1234);
  single.Set(lists[11].first, 5678);
  single.Erase(lists[11].first);
  ASSERT_EQ(single.size(), 1u);
  single.Erase(id);
  EXPECT_EQ(single.size(), 0u);
  for (const Bucket& b : single.Digests({0, 0}, 4)) {
    EXPECT_EQ(b.lists, 0u);
    EXPECT_EQ(b.hash, 0u);
  }
  EXPECT_THAT(single.ListsIn({0, 0}), IsEmpty());
}

TEST(DigestIndexTest, ListsInReturnsExactlyTheContainedIds) {
  const auto lists = RandomLists(1000, 8);
  const DigestIndex index = IndexOf(lists);
  std::vector<TokenRange> ranges = SampleRanges();
  // Ranges with endpoints exactly at list positions.
  const uint64_t p0 = Ring::KeyPosition(lists[0].first);
  const uint64_t p1 = Ring::KeyPosition(lists[1].first);
  ranges.push_back({p0, p1});
  ranges.push_back({p1, p0});
  ranges.push_back({p0 - 1, p0});
  ranges.push_back({p0, p0 + 1});
  std::mt19937_64 rng(9);
  for (int i = 0; i < 20; ++i) ranges.push_back({rng(), rng()});

  for (const TokenRange& range : ranges) {
    SCOPED_TRACE(absl::StrCat("range (", range.first, ", ", range.second, "]"));
    std::set<std::pair<std::string, uint64_t>> expected;
    for (const auto& list : lists) {
      if (RangeContains(range, Ring::KeyPosition(list.first))) {
        expected.insert(list);
      }
    }
    auto got = index.ListsIn(range);
    EXPECT_EQ(got.size(), expected.size());  // no duplicates
    using Entries = std::set<std::pair<std::string, uint64_t>>;
    EXPECT_EQ(Entries(got.begin(), got.end()), expected);
  }
}

bool Covered(const std::vector<TokenRange>& ranges, uint64_t p) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [p](const TokenRange& r) { return RangeContains(r, p); });
}

std::vector<TokenRange> RandomRanges(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> how_many(0, 4);
  std::uniform_int_distribution<int> kind(0, 9);
  std::vector<TokenRange> ranges(how_many(rng));
  for (TokenRange& r : ranges) {
    switch (kind(rng)) {
      case 0:
        r.first = r.second = rng();  // whole ring
        break;
      case 1:
        r = {kMax, rng()};  // wraps over exactly [0, end]
        break;
      case 2:
        r = {rng(), kMax};
        break;
      case 3:
        r = {0, rng()};
        break;
      default:
        r = {rng(), rng()};  // wraps about half the time
        break;
    }
  }
  return ranges;
}

TEST(IntersectRangesTest, MatchesBruteForce) {
  std::mt19937_64 rng(10);
  int wrapping = 0;
  for (int trial = 0; trial < 100; ++trial) {
    const std::vector<TokenRange> a = RandomRanges(rng);
    const std::vector<TokenRange> b = RandomRanges(rng);
    for (const auto& r : a) wrapping += r.first > r.second;
    const std::vector<TokenRange> out = IntersectRanges(a, b);

    std::vector<uint64_t> probes = {0, 1, kMax, kMax - 1};
    for (const auto* set : {&a, &b, &out}) {
      for (const TokenRange& r : *set) {
        for (uint64_t e : {r.first, r.second}) {
          probes.push_back(e);
          probes.push_back(e + 1);
          probes.push_back(e - 1);
        }
      }
    }
    for (int i = 0; i < 10'000; ++i) probes.push_back(rng());

    for (uint64_t p : probes) {
      const bool want = Covered(a, p) && Covered(b, p);
      ASSERT_EQ(Covered(out, p), want)
          << "trial " << trial << ", position " << p << ", result has "
          << out.size() << " ranges";
    }
  }
  EXPECT_GT(wrapping, 10);  // the generator does produce wrapping ranges
}

TEST(IntersectRangesTest, EmptyInputsGiveEmptyOutput) {
  const std::vector<TokenRange> x = {{5, 10}, {kMax - 3, 2}, {7, 7}};
  EXPECT_THAT(IntersectRanges({}, {}), IsEmpty());
  EXPECT_THAT(IntersectRanges({}, x), IsEmpty());
  EXPECT_THAT(IntersectRanges(x, {}), IsEmpty());
  // Disjoint ranges give nothing.
  EXPECT_THAT(IntersectRanges({{0, 10}}, {{10, 20}}), IsEmpty());
}

TEST(IntersectRangesTest, WholeRingWithXGivesXsCoverage) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<TokenRange> x = RandomRanges(rng);
    const uint64_t s = rng();
    const std::vector<TokenRange> whole = {{s, s}};
    const std::vector<TokenRange> left = IntersectRanges(whole, x);
    const std::vector<TokenRange> right = IntersectRanges(x, whole);
    std::vector<uint64_t> probes = {0, 1, kMax, kMax - 1};
    for (const TokenRange& r : x) {
      for (uint64_t e : {r.first, r.second}) {
        probes.push_back(e);
        probes.push_back(e + 1);
        probes.push_back(e - 1);
      }
    }
    for (int i = 0; i < 2'000; ++i) probes.push_back(rng());
    for (uint64_t p : probes) {
      ASSERT_EQ(Covered(left, p), Covered(x, p)) << trial << " at " << p;
      ASSERT_EQ(Covered(right, p), Covered(x, p)) << trial << " at " << p;
    }
  }
  // Whole ring with whole ring is the whole ring.
  const std::vector<TokenRange> both = IntersectRanges({{3, 3}}, {{9, 9}});
  for (uint64_t p : {uint64_t{0}, uint64_t{3}, uint64_t{9}, kMax}) {
    EXPECT_TRUE(Covered(both, p)) << p;
  }
}

TEST(DigestIndexTest, DepthGrowsWithTheListsInARange) {
  const ring::TokenRange whole{7, 7};
  EXPECT_EQ(DepthFor(0, whole, 6), 6u);
  EXPECT_EQ(DepthFor(1000, whole, 6), 6u);  // 32 x 64 buckets hold 2,048
  EXPECT_EQ(DepthFor(3000, whole, 6), 7u);
  // A million lists on the whole ring: 32,768 buckets of about 31.
  EXPECT_EQ(DepthFor(1000000, whole, 6), 15u);
  EXPECT_EQ(DepthFor(uint64_t{1} << 40, whole, 6), 16u);
  // A quarter of the ring holds a quarter of them.
  const ring::TokenRange quarter{0, uint64_t{1} << 62};
  EXPECT_EQ(DepthFor(1000000, quarter, 6), 13u);
  // Wrapping around the top of the ring.
  const ring::TokenRange wrapping{UINT64_MAX - (uint64_t{1} << 61),
                                  uint64_t{1} << 61};
  EXPECT_EQ(DepthFor(1000000, wrapping, 6), 13u);
}

}  // namespace
}  // namespace shoplist::merkle
