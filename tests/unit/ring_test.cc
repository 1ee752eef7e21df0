#include "ring/ring.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ring/stable_hash.h"

namespace shoplist::ring {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr uint32_t kVnodes = 64;

std::vector<Member> Members(int count) {
  std::vector<Member> members;
  for (int i = 1; i <= count; ++i) {
    members.push_back(
        {absl::StrCat("node-", i), absl::StrCat("10.0.0.", i, ":7000")});
  }
  return members;
}

// `count` keys of 26 random lowercase letters, the same on every run.
std::vector<std::string> RandomKeys(int count, uint64_t seed = 42) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> letter('a', 'z');
  std::vector<std::string> keys(count);
  for (std::string& key : keys) {
    key.resize(26);
    for (char& c : key) c = static_cast<char>(letter(rng));
  }
  return keys;
}

std::vector<std::string> Ids(const std::vector<const Member*>& members) {
  std::vector<std::string> ids;
  for (const Member* m : members) ids.push_back(m->id);
  return ids;
}

std::string FirstOwner(const Ring& ring, const std::string& key) {
  std::vector<const Member*> owners = ring.Owners(key, 1);
  return owners.empty() ? "" : owners[0]->id;
}

void SetHealth(std::vector<Member>* members, absl::string_view id, bool up) {
  for (Member& m : *members) {
    if (m.id == id) m.up = up;
  }
}

// The preference list as its contract describes it, built from the full
// clockwise order of distinct members.
std::vector<Placement> ExpectedPreferenceList(const Ring& ring,
                                              const std::string& key,
                                              size_t n) {
  std::vector<const Member*> order = ring.Owners(key, ring.members().size());
  std::vector<const Member*> stand_ins;
  for (size_t i = n; i < order.size(); ++i) {
    if (order[i]->up) stand_ins.push_back(order[i]);
  }
  std::vector<Placement> list;
  size_t next = 0;
  for (size_t i = 0; i < n && i < order.size(); ++i) {
    if (order[i]->up) {
      list.push_back({order[i]->id, order[i]->address, ""});
    } else if (next < stand_ins.size()) {
      list.push_back(
          {stand_ins[next]->id, stand_ins[next]->address, order[i]->id});
      ++next;
    }
  }
  return list;
}

// --- StableHash ---

TEST(StableHashTest, MatchesPinnedValues) {
  // FNV-1a 64 then fmix64; computed once, independently. A change here
  // moves every key in every deployed cluster.
  EXPECT_EQ(StableHash(""), 0xefd01f60ba992926ULL);
  EXPECT_EQ(StableHash("a"), 0x82a2a958a9bece5bULL);
  EXPECT_EQ(StableHash("milk"), 0xd205af154f3f7f41ULL);
  EXPECT_EQ(StableHash("node-1#0"), 0xf28b65a604900cc8ULL);
  EXPECT_EQ(StableHash("shoplist"), 0xd90e884092e99e79ULL);
  EXPECT_EQ(Ring::KeyPosition("milk"), StableHash("milk"));
}

TEST(StableHashTest, Fmix64MatchesPinnedValues) {
  // MurmurHash3's published finalizer; the digests of anti-entropy use it
  // too, so replicas on different builds must agree on it.
  EXPECT_EQ(Fmix64(0), 0u);
  EXPECT_EQ(Fmix64(1), 0xb456bcfc34c2cb2cULL);
  EXPECT_EQ(Fmix64(0x0123456789abcdefULL), 0x87cbfbfe89022ceaULL);
}

TEST(RingTest, PlacesAKnownListOnAKnownPointAndOwners) {
  // Where a list lives must never move silently: every deployed node and
  // proxy computes it, and stored replicas sit where it pointed.
  const std::string list_id = "kq3vyb7xw2mhd5t4r4ncp6ej7a";
  EXPECT_EQ(Ring::KeyPosition(list_id),
            0xa9363f096a094ac8ULL);  // computed independently
  Ring ring(Members(5), kVnodes);
  std::vector<std::string> owners;
  for (const Member* m : ring.Owners(list_id, 3)) owners.push_back(m->id);
  EXPECT_THAT(owners, ElementsAre("node-3", "node-2", "node-5"));
}

TEST(StableHashTest, DependsOnEveryByte) {
  EXPECT_NE(StableHash("node-1#0"), StableHash("node-1#1"));
  EXPECT_NE(StableHash(absl::string_view("a\0b", 3)),
            StableHash(absl::string_view("a\0c", 3)));
  EXPECT_NE(StableHash(absl::string_view("\0", 1)), StableHash(""));
}

// --- Construction ---

TEST(RingTest, IndependentOfMemberOrder) {
  std::vector<Member> members = Members(5);
  SetHealth(&members, "node-2", false);
  std::vector<Member> shuffled = members;
  std::mt19937_64 rng(7);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  std::vector<Member> reversed(members.rbegin(), members.rend());
  ASSERT_NE(shuffled, members);

  Ring a(members, kVnodes);
  Ring b(shuffled, kVnodes);
  Ring c(reversed, kVnodes);
  EXPECT_EQ(a.members(), b.members());
  EXPECT_EQ(a.members(), c.members());
  for (const std::string& key : RandomKeys(10'000)) {
    ASSERT_EQ(Ids(a.Owners(key, 3)), Ids(b.Owners(key, 3))) << key;
    ASSERT_EQ(Ids(a.Owners(key, 3)), Ids(c.Owners(key, 3))) << key;
    ASSERT_EQ(a.PreferenceList(key, 3), b.PreferenceList(key, 3)) << key;
    ASSERT_EQ(a.PreferenceList(key, 3), c.PreferenceList(key, 3)) << key;
  }
}

TEST(RingTest, MembersSortedAndFound) {
  Ring ring({{"c", "c:1"}, {"a", "a:1"}, {"b", "b:1", false}}, 4);
  ASSERT_EQ(ring.members().size(), 3u);
  EXPECT_EQ(ring.members()[0].id, "a");
  EXPECT_EQ(ring.members()[1].id, "b");
  EXPECT_EQ(ring.members()[2].id, "c");
  ASSERT_NE(ring.Find("b"), nullptr);
  EXPECT_EQ(ring.Find("b")->address, "b:1");
  EXPECT_FALSE(ring.Find("b")->up);
  EXPECT_EQ(ring.Find("d"), nullptr);
  EXPECT_EQ(ring.Find(""), nullptr);
  EXPECT_EQ(ring.vnodes(), 4u);
}

TEST(RingTest, DuplicateIdsLastWins) {
  Ring ring({{"a", "old"}, {"b", "b"}, {"a", "new"}}, 8);
  ASSERT_EQ(ring.members().size(), 2u);
  EXPECT_EQ(ring.Find("a")->address, "new");
  for (const std::string& key : RandomKeys(100)) {
    EXPECT_EQ(ring.Owners(key, 3).size(), 2u);
  }
}

TEST(RingTest, CreateRejectsBadMembership) {
  EXPECT_TRUE(Ring::Create(Members(3), kVnodes).ok());
  EXPECT_EQ(Ring::Create(Members(3), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      Ring::Create({{"a", "x"}, {"b", "y"}, {"a", "z"}}, 8).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ring::Create({{"", "x"}}, 8).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RingTest, ZeroVnodesMeansOne) {
  Ring ring(Members(2), 0);
  EXPECT_EQ(ring.vnodes(), 1u);
  EXPECT_EQ(FirstOwner(ring, "node-1#0"), "node-1");
}

TEST(RingTest, TokensFollowTheFormula) {
  // A key whose position equals a token belongs to that token's member
  // (first token >= position): the key "node-i#j" sits exactly on token j
  // of node-i.
  Ring ring(Members(5), 8);
  for (int i = 1; i <= 5; ++i) {
    for (int j = 0; j < 8; ++j) {
      const std::string token_key = absl::StrCat("node-", i, "#", j);
      EXPECT_EQ(FirstOwner(ring, token_key), absl::StrCat("node-", i))
          << token_key;
    }
  }
}

// --- Owners ---

TEST(OwnersTest, DistinctAndIgnoreHealth) {
  std::vector<Member> members = Members(5);
  Ring all_up(members, kVnodes);
  SetHealth(&members, "node-1", false);
  SetHealth(&members, "node-4", false);
  Ring some_down(members, kVnodes);
  for (const std::string& key : RandomKeys(1'000)) {
    std::vector<std::string> owners = Ids(all_up.Owners(key, 3));
    ASSERT_EQ(owners.size(), 3u);
    EXPECT_NE(owners[0], owners[1]);
    EXPECT_NE(owners[0], owners[2]);
    EXPECT_NE(owners[1], owners[2]);
    EXPECT_EQ(Ids(some_down.Owners(key, 3)), owners);
    // Owners(k, n) is a prefix of Owners(k, n + 1).
    std::vector<std::string> more = Ids(all_up.Owners(key, 4));
    EXPECT_EQ(std::vector<std::string>(more.begin(), more.begin() + 3), owners);
    EXPECT_EQ(all_up.Owners(key, 9).size(), 5u);
  }
}

TEST(OwnersTest, BalancedFirstOwnership) {
  Ring ring(Members(5), kVnodes);
  const std::vector<std::string> keys = RandomKeys(100'000);
  std::map<std::string, int> count;
  for (const std::string& key : keys) ++count[FirstOwner(ring, key)];
  ASSERT_EQ(count.size(), 5u);
  for (const auto& [id, c] : count) {
    const double share = static_cast<double>(c) / keys.size();
    std::printf("first-owner share of %s: %.2f%%\n", id.c_str(), 100 * share);
    EXPECT_GE(share, 0.15) << id;
    EXPECT_LE(share, 0.25) << id;
  }
}

TEST(OwnersTest, AddingMemberMovesKeysOnlyToIt) {
  Ring five(Members(5), kVnodes);
  Ring six(Members(6), kVnodes);
  const std::vector<std::string> keys = RandomKeys(100'000);
  int moved = 0;
  for (const std::string& key : keys) {
    const std::string before = FirstOwner(five, key);
    const std::string after = FirstOwner(six, key);
    if (before != after) {
      ++moved;
      ASSERT_EQ(after, "node-6") << key;
    }
    // The owner set changes only by node-6 taking one place.
    std::vector<std::string> old_owners = Ids(five.Owners(key, 3));
    std::vector<std::string> new_owners = Ids(six.Owners(key, 3));
    if (old_owners != new_owners) {
      auto it = std::find(new_owners.begin(), new_owners.end(), "node-6");
      ASSERT_NE(it, new_owners.end()) << key;
      new_owners.erase(it);
      for (const std::string& id : new_owners) {
        EXPECT_NE(std::find(old_owners.begin(), old_owners.end(), id),
                  old_owners.end())
            << key;
      }
    }
  }
  const double share = static_cast<double>(moved) / keys.size();
  std::printf("adding node-6 moved %.2f%% of first owners\n", 100 * share);
  EXPECT_GE(share, 0.10);
  EXPECT_LE(share, 0.25);
}

TEST(OwnersTest, RemovingMemberMovesOnlyItsKeys) {
  std::vector<Member> members = Members(5);
  Ring five(members, kVnodes);
  members.erase(members.begin() + 2);  // node-3
  Ring four(members, kVnodes);
  int moved = 0;
  for (const std::string& key : RandomKeys(100'000)) {
    const std::string before = FirstOwner(five, key);
    const std::string after = FirstOwner(four, key);
    if (before != after) {
      ++moved;
      ASSERT_EQ(before, "node-3") << key;
    }
    ASSERT_NE(after, "node-3");
    std::vector<std::string> old_owners = Ids(five.Owners(key, 3));
    if (std::find(old_owners.begin(), old_owners.end(), "node-3") ==
        old_owners.end()) {
      ASSERT_EQ(Ids(four.Owners(key, 3)), old_owners) << key;
    }
  }
  EXPECT_GT(moved, 0);
}

// --- PreferenceList ---

TEST(PreferenceListTest, AllUpIsTheOwners) {
  Ring ring(Members(5), kVnodes);
  for (const std::string& key : RandomKeys(1'000)) {
    std::vector<Placement> list = ring.PreferenceList(key, 3);
    std::vector<const Member*> owners = ring.Owners(key, 3);
    ASSERT_EQ(list.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(list[i].node_id, owners[i]->id);
      EXPECT_EQ(list[i].address, owners[i]->address);
      EXPECT_THAT(list[i].intended_owner, IsEmpty());
    }
  }
}

TEST(PreferenceListTest, DownOwnerReplacedByNextUpMember) {
  std::vector<Member> members = Members(5);
  SetHealth(&members, "node-2", false);
  Ring ring(members, kVnodes);
  int replaced = 0;
  for (const std::string& key : RandomKeys(2'000)) {
    std::vector<Placement> list = ring.PreferenceList(key, 3);
    ASSERT_EQ(list.size(), 3u);
    ASSERT_EQ(list, ExpectedPreferenceList(ring, key, 3)) << key;
    std::vector<const Member*> order = ring.Owners(key, 5);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_NE(list[i].node_id, "node-2");
      if (order[i]->id == "node-2") {
        ++replaced;
        // The stand-in is the first up member past the three owners.
        const Member* next = order[3]->up ? order[3] : order[4];
        EXPECT_EQ(list[i].node_id, next->id);
        EXPECT_EQ(list[i].address, next->address);
        EXPECT_EQ(list[i].intended_owner, "node-2");
      } else {
        EXPECT_EQ(list[i].node_id, order[i]->id);
        EXPECT_THAT(list[i].intended_owner, IsEmpty());
      }
    }
    EXPECT_NE(list[0].node_id, list[1].node_id);
    EXPECT_NE(list[0].node_id, list[2].node_id);
    EXPECT_NE(list[1].node_id, list[2].node_id);
  }
  EXPECT_GT(replaced, 0);
}

TEST(PreferenceListTest, DownMembersNeverAppear) {
  std::vector<Member> members = Members(7);
  SetHealth(&members, "node-1", false);
  SetHealth(&members, "node-5", false);
  SetHealth(&members, "node-6", false);
  Ring ring(members, kVnodes);
  for (const std::string& key : RandomKeys(2'000)) {
    std::vector<Placement> list = ring.PreferenceList(key, 3);
    ASSERT_EQ(list, ExpectedPreferenceList(ring, key, 3)) << key;
    ASSERT_EQ(list.size(), 3u);
    for (const Placement& p : list) {
      EXPECT_TRUE(ring.Find(p.node_id)->up) << key;
    }
  }
}

TEST(PreferenceListTest, AllOwnersDownGivesTwoStandIns) {
  Ring probe(Members(5), kVnodes);
  const std::string key = "milk";
  std::vector<const Member*> order = probe.Owners(key, 5);
  std::vector<Member> members = Members(5);
  for (int i = 0; i < 3; ++i) SetHealth(&members, order[i]->id, false);
  Ring ring(members, kVnodes);

  std::vector<Placement> list = ring.PreferenceList(key, 3);
  EXPECT_THAT(
      list,
      ElementsAre(Placement{order[3]->id, order[3]->address, order[0]->id},
                  Placement{order[4]->id, order[4]->address, order[1]->id}));
}

TEST(PreferenceListTest, ShorterWithFewerUpMembersThanN) {
  std::vector<Member> members = Members(3);
  SetHealth(&members, "node-3", false);
  Ring ring(members, kVnodes);
  for (const std::string& key : RandomKeys(500)) {
    std::vector<Placement> list = ring.PreferenceList(key, 3);
    ASSERT_EQ(list.size(), 2u) << key;
    for (const Placement& p : list) {
      EXPECT_NE(p.node_id, "node-3");
      EXPECT_THAT(p.intended_owner, IsEmpty());
    }
  }
  // Two members in all: at most two entries even with n = 3.
  Ring two(Members(2), kVnodes);
  EXPECT_EQ(two.PreferenceList("milk", 3).size(), 2u);
  // None up: nothing.
  Ring none({{"a", "a", false}, {"b", "b", false}}, kVnodes);
  EXPECT_THAT(none.PreferenceList("milk", 3), IsEmpty());
}

// --- RangesOf ---

TEST(RangesOfTest, ContainsExactlyTheOwnedKeys) {
  Ring ring(Members(5), kVnodes);
  const std::vector<std::string> keys = RandomKeys(100'000);
  for (size_t n : {1u, 3u}) {
    for (const Member& m : ring.members()) {
      std::vector<TokenRange> ranges = ring.RangesOf(m.id, n);
      ASSERT_FALSE(ranges.empty());
      for (const std::string& key : keys) {
        std::vector<std::string> owners = Ids(ring.Owners(key, n));
        const bool owner =
            std::find(owners.begin(), owners.end(), m.id) != owners.end();
        const uint64_t position = Ring::KeyPosition(key);
        bool inside = false;
        for (const TokenRange& r : ranges) inside |= RangeContains(r, position);
        ASSERT_EQ(owner, inside) << m.id << " n=" << n << " key " << key;
      }
    }
  }
}

TEST(RangesOfTest, BoundariesAreTokens) {
  // A range ends on a token and includes it; the token's own key is inside.
  Ring ring(Members(5), 8);
  for (const TokenRange& r : ring.RangesOf("node-2", 1)) {
    EXPECT_TRUE(RangeContains(r, r.second));
    EXPECT_FALSE(RangeContains(r, r.first));
  }
  std::vector<TokenRange> ranges = ring.RangesOf("node-2", 1);
  for (int j = 0; j < 8; ++j) {
    const uint64_t token = StableHash(absl::StrCat("node-2#", j));
    bool inside = false;
    for (const TokenRange& r : ranges) inside |= RangeContains(r, token);
    EXPECT_TRUE(inside) << j;
  }
}

TEST(RangesOfTest, WholeRingWhenOwningEverything) {
  Ring ring(Members(3), kVnodes);
  for (const Member& m : ring.members()) {
    std::vector<TokenRange> ranges = ring.RangesOf(m.id, 3);
    ASSERT_EQ(ranges.size(), 1u) << m.id;
    EXPECT_EQ(ranges[0].first, ranges[0].second);
  }
  EXPECT_THAT(ring.RangesOf("node-1", 0), IsEmpty());
  EXPECT_THAT(ring.RangesOf("nobody", 3), IsEmpty());
}

TEST(RangeContainsTest, HalfOpenWithWrap) {
  EXPECT_TRUE(RangeContains({10, 20}, 20));
  EXPECT_TRUE(RangeContains({10, 20}, 11));
  EXPECT_FALSE(RangeContains({10, 20}, 10));
  EXPECT_FALSE(RangeContains({10, 20}, 21));
  EXPECT_TRUE(RangeContains({UINT64_MAX - 1, 5}, UINT64_MAX));
  EXPECT_TRUE(RangeContains({UINT64_MAX - 1, 5}, 0));
  EXPECT_TRUE(RangeContains({UINT64_MAX - 1, 5}, 5));
  EXPECT_FALSE(RangeContains({UINT64_MAX - 1, 5}, 6));
  EXPECT_FALSE(RangeContains({UINT64_MAX - 1, 5}, UINT64_MAX - 1));
  EXPECT_TRUE(RangeContains({7, 7}, 0));
  EXPECT_TRUE(RangeContains({7, 7}, 7));
}

// --- Edge cases ---

TEST(RingTest, EmptyRing) {
  for (const Ring& ring : {Ring(), Ring({}, kVnodes)}) {
    EXPECT_TRUE(ring.empty());
    EXPECT_THAT(ring.members(), IsEmpty());
    EXPECT_THAT(ring.Owners("milk", 3), IsEmpty());
    EXPECT_THAT(ring.PreferenceList("milk", 3), IsEmpty());
    EXPECT_THAT(ring.RangesOf("node-1", 3), IsEmpty());
    EXPECT_EQ(ring.Find("node-1"), nullptr);
  }
}

TEST(RingTest, SingleMember) {
  Ring ring({{"solo", "solo:7000"}}, kVnodes);
  for (const std::string& key : RandomKeys(100)) {
    EXPECT_THAT(Ids(ring.Owners(key, 3)), ElementsAre("solo"));
    EXPECT_THAT(ring.PreferenceList(key, 3),
                ElementsAre(Placement{"solo", "solo:7000", ""}));
    EXPECT_THAT(ring.Owners(key, 0), IsEmpty());
    EXPECT_THAT(ring.PreferenceList(key, 0), IsEmpty());
  }
  std::vector<TokenRange> ranges = ring.RangesOf("solo", 1);
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0].first, ranges[0].second);  // the whole ring

  Ring down({{"solo", "solo:7000", false}}, 1);
  EXPECT_THAT(Ids(down.Owners("milk", 3)), ElementsAre("solo"));
  EXPECT_THAT(down.PreferenceList("milk", 3), IsEmpty());
  ranges = down.RangesOf("solo", 3);
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0].first, ranges[0].second);
}

// --- Shares ---

TEST(SharesTest, SumToOneAndToTheOwnersOfAKey) {
  EXPECT_THAT(Shares(Ring(), 3), IsEmpty());
  Ring solo({{"solo", "solo:7000"}}, kVnodes);
  ASSERT_EQ(Shares(solo, 3).size(), 1u);
  EXPECT_DOUBLE_EQ(Shares(solo, 3)[0].primary, 1.0);
  EXPECT_DOUBLE_EQ(Shares(solo, 3)[0].replica, 1.0);

  Ring ring(Members(5), kVnodes);
  for (size_t n : {1u, 2u, 3u, 7u}) {
    double primary = 0, replica = 0;
    for (const Share& share : Shares(ring, n)) {
      EXPECT_GT(share.primary, 0) << share.id;
      EXPECT_LE(share.primary, share.replica) << share.id;
      primary += share.primary;
      replica += share.replica;
    }
    EXPECT_NEAR(primary, 1.0, 1e-9) << n;
    EXPECT_NEAR(replica, static_cast<double>(std::min<size_t>(n, 5)), 1e-9)
        << n;
  }
}

TEST(SharesTest, MatchTheKeysEachMemberOwns) {
  Ring ring(Members(4), kVnodes);
  const std::vector<std::string> keys = RandomKeys(40000);
  std::map<std::string, int> first, among;
  for (const std::string& key : keys) {
    std::vector<const Member*> owners = ring.Owners(key, 2);
    ++first[owners[0]->id];
    for (const Member* m : owners) ++among[m->id];
  }
  for (const Share& share : Shares(ring, 2)) {
    EXPECT_NEAR(share.primary, first[share.id] / 40000.0, 0.02) << share.id;
    EXPECT_NEAR(share.replica, among[share.id] / 40000.0, 0.02) << share.id;
  }
}

}  // namespace
}  // namespace shoplist::ring
