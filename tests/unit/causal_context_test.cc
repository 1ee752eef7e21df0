#include "crdt/causal_context.h"

#include "gtest/gtest.h"

namespace shoplist::crdt {
namespace {

TEST(CausalContextTest, ContiguousDotsFoldIntoTheVector) {
  CausalContext c;
  c.Add({7, 1});
  c.Add({7, 2});
  EXPECT_EQ(c.vector().at(7), 2u);
  EXPECT_TRUE(c.cloud().empty());
  EXPECT_TRUE(c.Contains({7, 1}));
  EXPECT_FALSE(c.Contains({7, 3}));
  EXPECT_EQ(c.Next(7), (Dot{7, 3}));
  EXPECT_EQ(c.Next(8), (Dot{8, 1}));
}

TEST(CausalContextTest, GapsStayInTheCloudUntilFilled) {
  CausalContext c;
  c.Add({1, 3});
  c.Add({1, 5});
  EXPECT_TRUE(c.vector().empty());
  EXPECT_EQ(c.cloud().size(), 2u);
  EXPECT_EQ(c.Max(1), 5u);
  c.Add({1, 1});
  c.Add({1, 2});
  // 1,2 fill the gap below 3; 5 still waits for 4.
  EXPECT_EQ(c.vector().at(1), 3u);
  EXPECT_EQ(c.cloud().size(), 1u);
  c.Add({1, 4});
  EXPECT_EQ(c.vector().at(1), 5u);
  EXPECT_TRUE(c.cloud().empty());
}

TEST(CausalContextTest, MergeIsUnionAndCompacts) {
  CausalContext a, b;
  a.Add({1, 1});
  a.Add({1, 3});
  b.Add({1, 1});
  b.Add({1, 2});
  b.Add({2, 4});
  a.Merge(b);
  EXPECT_EQ(a.vector().at(1), 3u);
  EXPECT_TRUE(a.Contains({2, 4}));
  EXPECT_FALSE(a.Contains({2, 3}));
  EXPECT_TRUE(a.Includes(b));
  EXPECT_FALSE(b.Includes(a));
}

TEST(CausalContextTest, MaxSeesTheCloudOfTheLargestReplicaId) {
  CausalContext c;
  c.Add({UINT64_MAX, 4});
  EXPECT_EQ(c.Max(UINT64_MAX), 4u);
  EXPECT_EQ(c.Max(UINT64_MAX - 1), 0u);
}

TEST(CausalContextTest, FromPartsRejectsZeroCounters) {
  EXPECT_FALSE(CausalContext::FromParts({{1, 0}}, {}).ok());
  EXPECT_FALSE(CausalContext::FromParts({}, {Dot{1, 0}}).ok());
  auto c = CausalContext::FromParts({{1, 2}}, {Dot{1, 3}, Dot{1, 9}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->vector().at(1), 3u);
  EXPECT_EQ(c->cloud().size(), 1u);
}

}  // namespace
}  // namespace shoplist::crdt
