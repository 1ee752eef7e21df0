#include "membership/membership.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ring/ring.h"

namespace shoplist::membership {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr absl::Duration kHeartbeatTimeout = absl::Seconds(3);
constexpr absl::Duration kRemovalTimeout = absl::Hours(24);

// The fake clock: the Unix epoch plus an offset.
absl::Time At(absl::Duration offset) { return absl::UnixEpoch() + offset; }

MembershipOptions Options() {
  MembershipOptions options;
  options.heartbeat_timeout = kHeartbeatTimeout;
  options.removal_timeout = kRemovalTimeout;
  return options;
}

std::string Address(int i) { return absl::StrCat("10.0.0.", i, ":7000"); }

// A table with node-1..node-count, all joined at `now`.
Membership Joined(int count, absl::Time now) {
  Membership m(Options());
  for (int i = 1; i <= count; ++i) {
    EXPECT_TRUE(m.Join(absl::StrCat("node-", i), Address(i), now).ok());
  }
  return m;
}

// Every member of `m` as "id@address:up|down", sorted by id.
std::vector<std::string> View(const Membership& m) {
  std::vector<std::string> view;
  for (const ring::Member& member : m.Members()) {
    view.push_back(absl::StrCat(member.id, "@", member.address, ":",
                                member.up ? "up" : "down"));
  }
  return view;
}

TEST(MembershipJoinTest, AddsUpMemberAndBumpsVersion) {
  Membership m(Options());
  EXPECT_EQ(m.version(), 0u);
  ASSERT_TRUE(m.Join("node-1", Address(1), At(absl::Seconds(1))).ok());
  EXPECT_EQ(m.version(), 1u);
  const NodeRecord* node = m.Find("node-1");
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->id, "node-1");
  EXPECT_EQ(node->address, Address(1));
  EXPECT_TRUE(node->up);
  EXPECT_EQ(node->last_heartbeat, At(absl::Seconds(1)));
  EXPECT_THAT(View(m), ElementsAre("node-1@10.0.0.1:7000:up"));
}

TEST(MembershipJoinTest, IdenticalJoinOfUpNodeKeepsVersion) {
  Membership m(Options());
  ASSERT_TRUE(m.Join("node-1", Address(1), At(absl::Seconds(0))).ok());
  ASSERT_EQ(m.version(), 1u);
  ASSERT_TRUE(m.Join("node-1", Address(1), At(absl::Seconds(2))).ok());
  EXPECT_EQ(m.version(), 1u);
  EXPECT_THAT(View(m), ElementsAre("node-1@10.0.0.1:7000:up"));
  // The repeated Join still counts as a heartbeat.
  EXPECT_EQ(m.Find("node-1")->last_heartbeat, At(absl::Seconds(2)));
}

TEST(MembershipJoinTest, JoinWithNewAddressUpdatesAndBumps) {
  Membership m(Options());
  ASSERT_TRUE(m.Join("node-1", Address(1), At(absl::Seconds(0))).ok());
  ASSERT_TRUE(m.Join("node-1", Address(9), At(absl::Seconds(1))).ok());
  EXPECT_EQ(m.version(), 2u);
  EXPECT_THAT(View(m), ElementsAre("node-1@10.0.0.9:7000:up"));
}

TEST(MembershipJoinTest, JoinOfDownNodeMarksItUpAndBumps) {
  Membership m(Options());
  ASSERT_TRUE(m.Join("node-1", Address(1), At(absl::Seconds(0))).ok());
  ASSERT_TRUE(m.ReportFailure("node-1", At(absl::Seconds(1))).ok());
  ASSERT_EQ(m.version(), 2u);
  ASSERT_TRUE(m.Join("node-1", Address(1), At(absl::Seconds(2))).ok());
  EXPECT_EQ(m.version(), 3u);
  EXPECT_THAT(View(m), ElementsAre("node-1@10.0.0.1:7000:up"));
}

TEST(MembershipJoinTest, RejectsBadIdsAndEmptyAddressWithoutChange) {
  Membership m(Options());
  ASSERT_TRUE(m.Join("node-1", Address(1), At(absl::Seconds(0))).ok());
  const std::vector<std::string> before = View(m);
  const uint64_t version = m.version();

  const std::string too_long(65, 'a');
  for (const std::string& id :
       {std::string(""), std::string("a/b"), too_long}) {
    SCOPED_TRACE(absl::StrCat("id '", id, "'"));
    absl::Status s = m.Join(id, Address(2), At(absl::Seconds(1)));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_EQ(m.Find(id), nullptr);
  }
  {
    absl::Status s = m.Join("node-2", "", At(absl::Seconds(1)));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_EQ(m.Find("node-2"), nullptr);
  }
  {
    // An empty address must not clear an existing member's address either.
    absl::Status s = m.Join("node-1", "", At(absl::Seconds(1)));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  }
  EXPECT_EQ(m.version(), version);
  EXPECT_EQ(View(m), before);
  EXPECT_EQ(m.Find("node-1")->last_heartbeat, At(absl::Seconds(0)));

  // The boundary: 64 characters is a valid id.
  EXPECT_TRUE(
      m.Join(std::string(64, 'a'), Address(3), At(absl::Seconds(2))).ok());
}

TEST(MembershipMembersTest, SortedByIdWithUpFlagsAndAddresses) {
  Membership m(Options());
  const absl::Time t0 = At(absl::Seconds(0));
  ASSERT_TRUE(m.Join("node-c", "c:1", t0).ok());
  ASSERT_TRUE(m.Join("node-a", "a:1", t0).ok());
  ASSERT_TRUE(m.Join("node-b", "b:1", t0).ok());
  ASSERT_TRUE(m.ReportFailure("node-b", t0).ok());

  std::vector<ring::Member> members = m.Members();
  EXPECT_THAT(members, ElementsAre(ring::Member{"node-a", "a:1", true},
                                   ring::Member{"node-b", "b:1", false},
                                   ring::Member{"node-c", "c:1", true}));
  EXPECT_THAT(Membership(Options()).Members(), IsEmpty());
}

TEST(MembershipHeartbeatTest, UnknownNodeIsNotFound) {
  Membership m = Joined(1, At(absl::Seconds(0)));
  const uint64_t version = m.version();
  absl::Status s = m.Heartbeat("node-2", At(absl::Seconds(1)));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_EQ(m.Find("node-2"), nullptr);
  EXPECT_EQ(m.version(), version);
}

TEST(MembershipHeartbeatTest, HeartbeatsKeepNodeUp) {
  Membership m = Joined(1, At(absl::Seconds(0)));
  const uint64_t version = m.version();
  // Heartbeats every 2s, ticks in between, for well past the time-out.
  for (int s = 2; s <= 20; s += 2) {
    ASSERT_TRUE(m.Heartbeat("node-1", At(absl::Seconds(s))).ok());
    EXPECT_FALSE(m.Tick(At(absl::Seconds(s + 1)))) << "at " << s + 1 << "s";
    EXPECT_FALSE(m.Tick(At(absl::Seconds(s) + kHeartbeatTimeout)))
        << "at " << s << "s + timeout";
  }
  EXPECT_TRUE(m.Find("node-1")->up);
  EXPECT_EQ(m.version(), version);
}

TEST(MembershipHeartbeatTest, MissedHeartbeatsMarkDownButKeepOwnership) {
  const absl::Time t0 = At(absl::Seconds(0));
  Membership m = Joined(5, t0);
  for (int i = 1; i <= 5; ++i) {
    if (i == 3) continue;  // node-3 goes silent
    ASSERT_TRUE(
        m.Heartbeat(absl::StrCat("node-", i), At(absl::Seconds(2))).ok());
  }
  const std::vector<ring::Member> before = m.Members();
  const uint64_t version = m.version();

  // Not yet: just under the time-out.
  EXPECT_FALSE(m.Tick(t0 + kHeartbeatTimeout - absl::Milliseconds(1)));
  EXPECT_TRUE(m.Find("node-3")->up);
  EXPECT_EQ(m.version(), version);

  const absl::Time down_at = t0 + kHeartbeatTimeout + absl::Seconds(1);
  EXPECT_TRUE(m.Tick(down_at));
  EXPECT_EQ(m.version(), version + 1);
  const NodeRecord* node3 = m.Find("node-3");
  ASSERT_NE(node3, nullptr) << "a down node must stay a member";
  EXPECT_FALSE(node3->up);
  EXPECT_EQ(node3->since, down_at);
  for (int i : {1, 2, 4, 5}) {
    EXPECT_TRUE(m.Find(absl::StrCat("node-", i))->up) << "node-" << i;
  }

  const std::vector<ring::Member> after = m.Members();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].id, before[i].id);
    EXPECT_EQ(after[i].address, before[i].address);
    EXPECT_EQ(after[i].up, after[i].id != "node-3") << after[i].id;
  }

  const ring::Ring ring_before(before, 16);
  const ring::Ring ring_after(after, 16);
  int keys_owned_by_3 = 0;
  for (int k = 0; k < 1000; ++k) {
    const std::string key = absl::StrCat("key-", k);
    std::vector<const ring::Member*> owners_before = ring_before.Owners(key, 3);
    std::vector<const ring::Member*> owners_after = ring_after.Owners(key, 3);
    ASSERT_EQ(owners_before.size(), 3u) << key;
    ASSERT_EQ(owners_after.size(), 3u) << key;
    for (size_t j = 0; j < 3; ++j) {
      EXPECT_EQ(owners_after[j]->id, owners_before[j]->id) << key;
      EXPECT_EQ(owners_after[j]->address, owners_before[j]->address) << key;
      EXPECT_TRUE(owners_before[j]->up) << key;
      EXPECT_EQ(owners_after[j]->up, owners_after[j]->id != "node-3") << key;
      if (owners_after[j]->id == "node-3") ++keys_owned_by_3;
    }
  }
  // The check above is only meaningful if node-3 owns some keys.
  EXPECT_GT(keys_owned_by_3, 0);
}

TEST(MembershipHeartbeatTest, HeartbeatFromDownNodeMarksItUp) {
  const absl::Time t0 = At(absl::Seconds(0));
  Membership m = Joined(1, t0);
  ASSERT_TRUE(m.Tick(t0 + kHeartbeatTimeout + absl::Seconds(1)));
  ASSERT_FALSE(m.Find("node-1")->up);
  const uint64_t version = m.version();

  const absl::Time back = t0 + absl::Seconds(10);
  ASSERT_TRUE(m.Heartbeat("node-1", back).ok());
  EXPECT_TRUE(m.Find("node-1")->up);
  EXPECT_EQ(m.Find("node-1")->last_heartbeat, back);
  EXPECT_EQ(m.version(), version + 1);
  // A further heartbeat of the now-up node changes nothing.
  ASSERT_TRUE(m.Heartbeat("node-1", back + absl::Seconds(1)).ok());
  EXPECT_EQ(m.version(), version + 1);
  // And it is judged from its new heartbeat, not marked down again at once.
  EXPECT_FALSE(m.Tick(back + absl::Seconds(2)));
  EXPECT_TRUE(m.Find("node-1")->up);
}

TEST(MembershipReportFailureTest, MarksDownAtOnce) {
  const absl::Time t0 = At(absl::Seconds(0));
  Membership m = Joined(2, t0);
  const uint64_t version = m.version();
  const absl::Time report = t0 + absl::Seconds(1);  // well within time-out
  ASSERT_TRUE(m.ReportFailure("node-2", report).ok());
  EXPECT_EQ(m.version(), version + 1);
  const NodeRecord* node2 = m.Find("node-2");
  ASSERT_NE(node2, nullptr);
  EXPECT_FALSE(node2->up);
  EXPECT_EQ(node2->since, report);
  EXPECT_TRUE(m.Find("node-1")->up);
  EXPECT_THAT(View(m), ElementsAre("node-1@10.0.0.1:7000:up",
                                   "node-2@10.0.0.2:7000:down"));
}

TEST(MembershipReportFailureTest, UnknownNodeIsNotFound) {
  Membership m = Joined(1, At(absl::Seconds(0)));
  const uint64_t version = m.version();
  absl::Status s = m.ReportFailure("node-9", At(absl::Seconds(1)));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_EQ(m.Find("node-9"), nullptr);
  EXPECT_EQ(m.version(), version);
}

TEST(MembershipReportFailureTest, RepeatedReportKeepsVersionAndDownSince) {
  const absl::Time t0 = At(absl::Seconds(0));
  Membership m = Joined(1, t0);
  ASSERT_TRUE(m.ReportFailure("node-1", t0 + absl::Seconds(1)).ok());
  const uint64_t version = m.version();
  ASSERT_TRUE(m.ReportFailure("node-1", t0 + absl::Seconds(5)).ok());
  EXPECT_EQ(m.version(), version);
  EXPECT_FALSE(m.Find("node-1")->up);
  // The first report starts the removal clock; later ones do not restart it.
  EXPECT_EQ(m.Find("node-1")->since, t0 + absl::Seconds(1));
}

TEST(MembershipRemovalTest, TickRemovesNodeDownPastRemovalTimeout) {
  const absl::Time t0 = At(absl::Seconds(0));
  Membership m = Joined(2, t0);
  const absl::Time down_at = t0 + kHeartbeatTimeout + absl::Seconds(1);
  // node-1 keeps heart-beating; node-2 does not.
  ASSERT_TRUE(m.Heartbeat("node-1", down_at - absl::Seconds(1)).ok());
  ASSERT_TRUE(m.Tick(down_at));
  ASSERT_FALSE(m.Find("node-2")->up);

  // Keep node-1 alive until the end.
  const absl::Time end = down_at + kRemovalTimeout + absl::Seconds(1);
  ASSERT_TRUE(m.Heartbeat("node-1", end - absl::Seconds(1)).ok());
  const uint64_t version = m.version();

  // Just before the removal time-out the node is still a (down) member.
  EXPECT_FALSE(m.Tick(end - absl::Seconds(1) - absl::Milliseconds(1)));
  ASSERT_NE(m.Find("node-2"), nullptr);
  EXPECT_EQ(m.version(), version);

  EXPECT_TRUE(m.Tick(end));
  EXPECT_EQ(m.Find("node-2"), nullptr);
  EXPECT_EQ(m.version(), version + 1);
  EXPECT_THAT(View(m), ElementsAre("node-1@10.0.0.1:7000:up"));
}

TEST(MembershipRemovalTest, ReportedNodeRemovedAfterRemovalTimeout) {
  const absl::Time t0 = At(absl::Seconds(0));
  Membership m = Joined(1, t0);
  ASSERT_TRUE(m.ReportFailure("node-1", t0).ok());
  const uint64_t version = m.version();
  EXPECT_TRUE(m.Tick(t0 + kRemovalTimeout + absl::Seconds(1)));
  EXPECT_EQ(m.Find("node-1"), nullptr);
  EXPECT_THAT(m.Members(), IsEmpty());
  EXPECT_EQ(m.version(), version + 1);
}

TEST(MembershipRemovalTest, NodeThatCameBackIsNotRemoved) {
  const absl::Time t0 = At(absl::Seconds(0));
  Membership m = Joined(1, t0);
  ASSERT_TRUE(m.ReportFailure("node-1", t0).ok());
  // Back an hour before the removal time-out, then heart-beating as usual.
  const absl::Time back = t0 + kRemovalTimeout - absl::Hours(1);
  ASSERT_TRUE(m.Heartbeat("node-1", back).ok());
  ASSERT_TRUE(m.Find("node-1")->up);
  const uint64_t version = m.version();

  const absl::Time later = t0 + kRemovalTimeout + absl::Seconds(1);
  ASSERT_TRUE(m.Heartbeat("node-1", later - absl::Seconds(1)).ok());
  EXPECT_FALSE(m.Tick(later));
  ASSERT_NE(m.Find("node-1"), nullptr);
  EXPECT_TRUE(m.Find("node-1")->up);
  EXPECT_EQ(m.version(), version);
}

TEST(MembershipLeaveTest, RemovesAtOnce) {
  const absl::Time t0 = At(absl::Seconds(0));
  Membership m = Joined(3, t0);
  const uint64_t version = m.version();
  ASSERT_TRUE(m.Leave("node-2").ok());
  EXPECT_EQ(m.Find("node-2"), nullptr);
  EXPECT_EQ(m.version(), version + 1);
  EXPECT_THAT(View(m), ElementsAre("node-1@10.0.0.1:7000:up",
                                   "node-3@10.0.0.3:7000:up"));
}

TEST(MembershipLeaveTest, RemovesDownNodeToo) {
  const absl::Time t0 = At(absl::Seconds(0));
  Membership m = Joined(1, t0);
  ASSERT_TRUE(m.ReportFailure("node-1", t0).ok());
  const uint64_t version = m.version();
  ASSERT_TRUE(m.Leave("node-1").ok());
  EXPECT_EQ(m.Find("node-1"), nullptr);
  EXPECT_EQ(m.version(), version + 1);
}

TEST(MembershipLeaveTest, UnknownNodeIsNotFound) {
  Membership m = Joined(1, At(absl::Seconds(0)));
  const uint64_t version = m.version();
  absl::Status s = m.Leave("node-2");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_EQ(m.version(), version);
  EXPECT_THAT(View(m), ElementsAre("node-1@10.0.0.1:7000:up"));
  // Leaving twice: the second is NOT_FOUND.
  ASSERT_TRUE(m.Leave("node-1").ok());
  EXPECT_EQ(m.Leave("node-1").code(), absl::StatusCode::kNotFound);
}

TEST(MembershipRestoreTest, RestoresMembersUpWithVersion) {
  Membership m(Options());
  // A stale entry that Restore must replace.
  ASSERT_TRUE(m.Join("old", "old:1", At(absl::Seconds(0))).ok());

  const absl::Time now = At(absl::Hours(100));
  m.Restore(42,
            {ring::Member{"node-b", "b:1", false},
             ring::Member{"node-a", "a:1", true}},
            now);
  EXPECT_EQ(m.version(), 42u);
  EXPECT_EQ(m.Find("old"), nullptr);
  EXPECT_THAT(m.Members(), ElementsAre(ring::Member{"node-a", "a:1", true},
                                       ring::Member{"node-b", "b:1", true}));
  EXPECT_EQ(m.Find("node-a")->last_heartbeat, now);
  EXPECT_EQ(m.Find("node-b")->last_heartbeat, now);

  // Not marked down at once, nor just under the heartbeat time-out.
  EXPECT_FALSE(m.Tick(now));
  EXPECT_FALSE(m.Tick(now + kHeartbeatTimeout - absl::Milliseconds(1)));
  EXPECT_EQ(m.version(), 42u);
  EXPECT_TRUE(m.Find("node-a")->up);
  EXPECT_TRUE(m.Find("node-b")->up);

  // Past it, both go down (and stay members).
  EXPECT_TRUE(m.Tick(now + kHeartbeatTimeout + absl::Seconds(1)));
  EXPECT_EQ(m.version(), 43u);
  EXPECT_THAT(m.Members(), ElementsAre(ring::Member{"node-a", "a:1", false},
                                       ring::Member{"node-b", "b:1", false}));
}

TEST(MembershipTickTest, NothingToDoReturnsFalseAndKeepsVersion) {
  Membership empty(Options());
  EXPECT_FALSE(empty.Tick(At(absl::Hours(1000))));
  EXPECT_EQ(empty.version(), 0u);

  const absl::Time t0 = At(absl::Seconds(0));
  Membership m = Joined(3, t0);
  const uint64_t version = m.version();
  const std::vector<std::string> before = View(m);
  EXPECT_FALSE(m.Tick(t0));
  EXPECT_FALSE(m.Tick(t0 + absl::Seconds(1)));
  EXPECT_EQ(m.version(), version);
  EXPECT_EQ(View(m), before);

  // A node already down, not yet due for removal: nothing to do either.
  ASSERT_TRUE(m.ReportFailure("node-1", t0 + absl::Seconds(1)).ok());
  const uint64_t after_report = m.version();
  for (int i = 2; i <= 3; ++i) {
    ASSERT_TRUE(
        m.Heartbeat(absl::StrCat("node-", i), t0 + absl::Seconds(2)).ok());
  }
  EXPECT_FALSE(m.Tick(t0 + absl::Seconds(3)));
  EXPECT_EQ(m.version(), after_report);
}

}  // namespace
}  // namespace shoplist::membership
