#include "services/node/encoded_reads.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace shoplist::node {
namespace {

EncodedReads::Bytes BytesOf(size_t n, char c = 'x') {
  return std::make_shared<const std::string>(n, c);
}

TEST(EncodedReadsTest, FindsOnlyTheCopyItWasPutFor) {
  EncodedReads reads(1 << 20);
  EXPECT_EQ(reads.Find("list", "d1"), nullptr);
  reads.Put("list", "d1", BytesOf(10, 'a'));
  ASSERT_NE(reads.Find("list", "d1"), nullptr);
  EXPECT_EQ(*reads.Find("list", "d1"), std::string(10, 'a'));
  EXPECT_EQ(reads.Find("list", "d2"), nullptr);  // a newer copy: stale
  EXPECT_EQ(reads.Find("other", "d1"), nullptr);

  reads.Put("list", "d2", BytesOf(4, 'b'));  // replaces
  EXPECT_EQ(reads.Find("list", "d1"), nullptr);
  EXPECT_EQ(*reads.Find("list", "d2"), std::string(4, 'b'));
  EXPECT_EQ(reads.bytes(), 4u);
}

TEST(EncodedReadsTest, DropsTheOldestPutFirstPastTheCapacity) {
  EncodedReads reads(100);
  reads.Put("a", "d", BytesOf(40));
  reads.Put("b", "d", BytesOf(40));
  reads.Put("a", "e", BytesOf(40));  // a again: now newer than b
  EXPECT_EQ(reads.bytes(), 80u);
  reads.Put("c", "d", BytesOf(40));
  EXPECT_EQ(reads.Find("b", "d"), nullptr);
  EXPECT_NE(reads.Find("a", "e"), nullptr);
  EXPECT_NE(reads.Find("c", "d"), nullptr);
  EXPECT_EQ(reads.bytes(), 80u);
}

TEST(EncodedReadsTest, KeepsNothingLargerThanItsCapacity) {
  EncodedReads reads(100);
  reads.Put("a", "d", BytesOf(50));
  reads.Put("big", "d", BytesOf(101));
  EXPECT_EQ(reads.Find("big", "d"), nullptr);
  EXPECT_NE(reads.Find("a", "d"), nullptr);
  EXPECT_EQ(reads.bytes(), 50u);
}

TEST(EncodedReadsTest, AListPutAgainAndAgainKeepsItsAccountsRight) {
  EncodedReads reads(1000);
  reads.Put("cold", "d", BytesOf(100));
  for (int i = 0; i < 10'000; ++i) {
    reads.Put("hot", std::to_string(i), BytesOf(1 + i % 50));
  }
  EXPECT_EQ(reads.bytes(), 100u + 1 + 9'999 % 50);
  EXPECT_NE(reads.Find("cold", "d"), nullptr);
  EXPECT_NE(reads.Find("hot", "9999"), nullptr);
  // Order is kept through the compactions: cold is still the oldest.
  reads.Put("x", "d", BytesOf(900));
  EXPECT_EQ(reads.Find("cold", "d"), nullptr);
  EXPECT_NE(reads.Find("hot", "9999"), nullptr);
}

}  // namespace
}  // namespace shoplist::node
