// The pure quorum pieces: QuorumTracker's one decision per fan-out,
// FanOutPlan's choice of owners and stand-ins, and FanOut, which the
// coordinator's write and read state machines feed every reply.
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quorum/fan_out.h"
#include "quorum/fan_out_plan.h"
#include "quorum/quorum_tracker.h"

namespace shoplist::quorum {

// For failure messages (found by argument-dependent lookup).
[[maybe_unused]] static void PrintTo(const Target& t, std::ostream* os) {
  *os << "{" << t.node_id << ", " << t.address << ", intended_owner \""
      << t.intended_owner << "\"}";
}

namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

using Outcome = QuorumTracker::Outcome;

// --- QuorumTracker ---

// A tracker for `needed` successes with `targets` requests out.
QuorumTracker Tracker(size_t needed, int targets) {
  QuorumTracker tracker(needed);
  for (int i = 0; i < targets; ++i) tracker.AddTarget();
  return tracker;
}

TEST(QuorumTrackerTest, ReachedOnTheReplyThatMakesNeededAcks) {
  QuorumTracker tracker = Tracker(2, 3);
  EXPECT_EQ(tracker.Record(true), Outcome::kPending);
  EXPECT_EQ(tracker.acks(), 1u);
  EXPECT_EQ(tracker.Record(true), Outcome::kReached);
  EXPECT_EQ(tracker.acks(), 2u);
  EXPECT_FALSE(tracker.all_replied());
}

TEST(QuorumTrackerTest, ReachedDespiteFailuresWhileEnoughArePending) {
  QuorumTracker tracker = Tracker(2, 3);
  EXPECT_EQ(tracker.Record(false), Outcome::kPending);
  EXPECT_EQ(tracker.Record(true), Outcome::kPending);
  EXPECT_EQ(tracker.Record(true), Outcome::kReached);
  EXPECT_EQ(tracker.acks(), 2u);
  EXPECT_TRUE(tracker.all_replied());
}

TEST(QuorumTrackerTest, DecidesOnceRepliesAfterReachedArePending) {
  QuorumTracker tracker = Tracker(1, 3);
  EXPECT_EQ(tracker.Record(true), Outcome::kReached);
  EXPECT_EQ(tracker.Record(true), Outcome::kPending);
  EXPECT_EQ(tracker.Record(false), Outcome::kPending);
  // Late replies are still counted.
  EXPECT_EQ(tracker.acks(), 2u);
  EXPECT_TRUE(tracker.all_replied());
}

TEST(QuorumTrackerTest, NotFailedWhileAcksPlusPendingEqualNeeded) {
  // 0 acks + 2 pending can still make 2.
  QuorumTracker tracker = Tracker(2, 3);
  EXPECT_EQ(tracker.Record(false), Outcome::kPending);
}

TEST(QuorumTrackerTest, FailedOnceAcksPlusPendingBelowNeeded) {
  QuorumTracker tracker = Tracker(2, 3);
  EXPECT_EQ(tracker.Record(false), Outcome::kPending);
  // 0 acks + 1 pending cannot make 2.
  EXPECT_EQ(tracker.Record(false), Outcome::kFailed);
  EXPECT_EQ(tracker.acks(), 0u);
  EXPECT_FALSE(tracker.all_replied());
}

TEST(QuorumTrackerTest, DecidesOnceRepliesAfterFailedArePending) {
  QuorumTracker tracker = Tracker(2, 2);
  EXPECT_EQ(tracker.Record(false), Outcome::kFailed);
  // This would have been the second ack had the first not failed; the
  // decision stands.
  EXPECT_EQ(tracker.Record(true), Outcome::kPending);
  EXPECT_EQ(tracker.acks(), 1u);
  EXPECT_TRUE(tracker.all_replied());
}

TEST(QuorumTrackerTest, ReplacementAddedBeforeFailureKeepsItPending) {
  QuorumTracker tracker = Tracker(2, 2);
  EXPECT_EQ(tracker.Record(true), Outcome::kPending);
  // A stand-in goes out for the target about to be recorded as failed.
  tracker.AddTarget();
  EXPECT_EQ(tracker.Record(false), Outcome::kPending);
  EXPECT_FALSE(tracker.all_replied());
  EXPECT_EQ(tracker.Record(true), Outcome::kReached);
  EXPECT_TRUE(tracker.all_replied());
}

TEST(QuorumTrackerTest, SingleTargetDecidesOnItsReply) {
  QuorumTracker ok = Tracker(1, 1);
  EXPECT_EQ(ok.Record(true), Outcome::kReached);
  QuorumTracker failed = Tracker(1, 1);
  EXPECT_EQ(failed.Record(false), Outcome::kFailed);
}

TEST(QuorumTrackerTest, AllRepliedOnlyWhenEveryTargetAnswered) {
  QuorumTracker tracker(3);
  EXPECT_TRUE(tracker.all_replied());  // nothing went out yet
  tracker.AddTarget();
  tracker.AddTarget();
  EXPECT_FALSE(tracker.all_replied());
  tracker.Record(true);
  EXPECT_FALSE(tracker.all_replied());
  tracker.Record(true);
  EXPECT_TRUE(tracker.all_replied());
}

// --- FanOutPlan ---

Candidate Up(const std::string& id) { return {id, id + ":7000", true}; }
Candidate Down(const std::string& id) { return {id, id + ":7000", false}; }

// A target on `node` holding the copy of `owner` ("" when it is the owner).
auto IsTarget(const std::string& node, const std::string& owner = "") {
  return AllOf(Field("node_id", &Target::node_id, node),
               Field("address", &Target::address, node + ":7000"),
               Field("intended_owner", &Target::intended_owner, owner));
}

TEST(FanOutPlanTest, HealthyOwnersAreTheTargets) {
  FanOutPlan plan({Up("n1"), Up("n2"), Up("n3"), Up("n4"), Up("n5")}, 3);
  std::vector<Target> targets = plan.InitialTargets();
  EXPECT_THAT(targets, UnorderedElementsAre(IsTarget("n1"), IsTarget("n2"),
                                            IsTarget("n3")));
  for (const Target& t : targets) EXPECT_EQ(t.owner(), t.node_id);
}

TEST(FanOutPlanTest, UnhealthyOwnerGetsFirstHealthyNodePastOwners) {
  FanOutPlan plan({Up("n1"), Down("n2"), Up("n3"), Up("n4"), Up("n5")}, 3);
  std::vector<Target> targets = plan.InitialTargets();
  EXPECT_THAT(targets,
              UnorderedElementsAre(IsTarget("n1"), IsTarget("n4", "n2"),
                                   IsTarget("n3")));
  for (const Target& t : targets) {
    if (t.node_id == "n4") {
      EXPECT_EQ(t.owner(), "n2");
    }
  }
}

TEST(FanOutPlanTest, StandInsSkipUnhealthyNodesAndAreNotReused) {
  FanOutPlan plan(
      {Down("n1"), Down("n2"), Up("n3"), Down("n4"), Up("n5"), Up("n6")}, 3);
  EXPECT_THAT(plan.InitialTargets(),
              UnorderedElementsAre(IsTarget("n5", "n1"), IsTarget("n6", "n2"),
                                   IsTarget("n3")));
}

TEST(FanOutPlanTest, ReplaceGivesNextHealthyNodePastOwners) {
  FanOutPlan plan(
      {Up("n1"), Up("n2"), Up("n3"), Down("n4"), Up("n5"), Up("n6")}, 3);
  std::vector<Target> targets = plan.InitialTargets();
  ASSERT_EQ(targets.size(), 3u);

  std::optional<Target> first = plan.Replace(Target{"n2", "n2:7000", ""});
  ASSERT_TRUE(first.has_value());
  EXPECT_THAT(*first, IsTarget("n5", "n2"));

  // A failed stand-in is replaced for the owner it stood in for.
  std::optional<Target> second = plan.Replace(*first);
  ASSERT_TRUE(second.has_value());
  EXPECT_THAT(*second, IsTarget("n6", "n2"));

  EXPECT_EQ(plan.Replace(Target{"n1", "n1:7000", ""}), std::nullopt);
}

TEST(FanOutPlanTest, ReplaceDoesNotReuseAnInitialStandIn) {
  FanOutPlan plan({Up("n1"), Down("n2"), Up("n3"), Up("n4"), Up("n5")}, 3);
  EXPECT_THAT(plan.InitialTargets(),
              UnorderedElementsAre(IsTarget("n1"), IsTarget("n4", "n2"),
                                   IsTarget("n3")));
  std::optional<Target> replacement = plan.Replace(Target{"n1", "n1:7000", ""});
  ASSERT_TRUE(replacement.has_value());
  EXPECT_THAT(*replacement, IsTarget("n5", "n1"));
  EXPECT_EQ(plan.Replace(Target{"n3", "n3:7000", ""}), std::nullopt);
}

TEST(FanOutPlanTest, FewerTargetsWhenNotEnoughHealthyNodes) {
  FanOutPlan plan({Down("n1"), Up("n2"), Down("n3"), Down("n4")}, 3);
  EXPECT_THAT(plan.InitialTargets(), UnorderedElementsAre(IsTarget("n2")));
  EXPECT_EQ(plan.Replace(Target{"n2", "n2:7000", ""}), std::nullopt);
}

TEST(FanOutPlanTest, NLargerThanWalkMakesEveryNodeAnOwner) {
  FanOutPlan plan({Up("n1"), Down("n2"), Up("n3")}, 5);
  // No node lies past the owners, so the down owner has no stand-in.
  EXPECT_THAT(plan.InitialTargets(),
              UnorderedElementsAre(IsTarget("n1"), IsTarget("n3")));
  EXPECT_EQ(plan.Replace(Target{"n1", "n1:7000", ""}), std::nullopt);
}

TEST(FanOutPlanTest, EmptyWalkHasNoTargets) {
  FanOutPlan plan({}, 3);
  EXPECT_THAT(plan.InitialTargets(), IsEmpty());
  EXPECT_EQ(plan.Replace(Target{"n1", "n1:7000", ""}), std::nullopt);
}

// --- FanOut ---

TEST(FanOutTest, StartPutsThisNodeLastSoTheNetworkStartsFirst) {
  FanOut fan_out(FanOutPlan({Up("n1"), Up("n2"), Up("n3"), Up("n4")}, 3), 2);
  EXPECT_THAT(fan_out.Start("n1"),
              ElementsAre(IsTarget("n2"), IsTarget("n3"), IsTarget("n1")));
}

TEST(FanOutTest, NoHealthyNodeStartsNothing) {
  FanOut fan_out(FanOutPlan({Down("n1"), Down("n2")}, 2), 1);
  EXPECT_THAT(fan_out.Start("n9"), IsEmpty());
}

TEST(FanOutTest, DecidesOnceAndCountsAcks) {
  FanOut fan_out(FanOutPlan({Up("n1"), Up("n2"), Up("n3")}, 3), 2);
  std::vector<Target> targets = fan_out.Start("n1");
  ASSERT_EQ(targets.size(), 3u);
  FanOut::Step first = fan_out.Record(targets[0], true);
  EXPECT_EQ(first.decided, Outcome::kPending);
  EXPECT_EQ(first.acks, 1u);
  FanOut::Step second = fan_out.Record(targets[1], true);
  EXPECT_EQ(second.decided, Outcome::kReached);
  EXPECT_EQ(second.acks, 2u);
  EXPECT_FALSE(second.all_replied);
  FanOut::Step last = fan_out.Record(targets[2], true);
  EXPECT_EQ(last.decided, Outcome::kPending);  // decided before
  EXPECT_EQ(last.acks, 3u);
  EXPECT_TRUE(last.all_replied);
}

TEST(FanOutTest, AFailureBringsAStandInBeforeTheCallCanFail) {
  // W=3 of N=3: one failure would decide kFailed, were the stand-in not
  // awaited first.
  FanOut fan_out(
      FanOutPlan({Up("n1"), Up("n2"), Up("n3"), Up("n4"), Up("n5")}, 3), 3);
  std::vector<Target> targets = fan_out.Start("n1");
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(fan_out.Record(targets[0], true).decided, Outcome::kPending);
  FanOut::Step failed = fan_out.Record(targets[1], false);
  EXPECT_EQ(failed.decided, Outcome::kPending);
  ASSERT_TRUE(failed.replacement.has_value());
  EXPECT_THAT(*failed.replacement, IsTarget("n4", targets[1].node_id));
  EXPECT_FALSE(failed.all_replied);  // the stand-in is out
  EXPECT_EQ(fan_out.Record(targets[2], true).decided, Outcome::kPending);
  FanOut::Step stood_in = fan_out.Record(*failed.replacement, true);
  EXPECT_EQ(stood_in.decided, Outcome::kReached);
  EXPECT_EQ(stood_in.acks, 3u);
  EXPECT_TRUE(stood_in.all_replied);
}

TEST(FanOutTest, ARefusalAsksNoStandInAndCanDecideAFailure) {
  FanOut fan_out(
      FanOutPlan({Up("n1"), Up("n2"), Up("n3"), Up("n4"), Up("n5")}, 3), 2);
  std::vector<Target> targets = fan_out.Start("n9");
  ASSERT_EQ(targets.size(), 3u);
  FanOut::Step first = fan_out.RecordRefusal(targets[0]);
  EXPECT_FALSE(first.replacement.has_value());
  EXPECT_EQ(first.decided, Outcome::kPending);
  FanOut::Step second = fan_out.RecordRefusal(targets[1]);
  EXPECT_FALSE(second.replacement.has_value());
  EXPECT_EQ(second.decided, Outcome::kFailed);
  EXPECT_TRUE(fan_out.Record(targets[2], true).all_replied);
}

TEST(FanOutTest, FailsOnceNoStandInIsLeft) {
  FanOut fan_out(FanOutPlan({Up("n1"), Up("n2"), Up("n3"), Up("n4")}, 3), 3);
  std::vector<Target> targets = fan_out.Start("n1");
  FanOut::Step first = fan_out.Record(targets[0], false);
  ASSERT_TRUE(first.replacement.has_value());  // n4, the last node
  EXPECT_EQ(first.decided, Outcome::kPending);
  FanOut::Step second = fan_out.Record(*first.replacement, false);
  EXPECT_FALSE(second.replacement.has_value());
  EXPECT_EQ(second.decided, Outcome::kFailed);
  EXPECT_FALSE(second.all_replied);
  FanOut::Step late = fan_out.Record(targets[1], true);
  EXPECT_EQ(late.decided, Outcome::kPending);
  EXPECT_FALSE(late.all_replied);
  EXPECT_TRUE(fan_out.Record(targets[2], true).all_replied);
}

}  // namespace
}  // namespace shoplist::quorum
