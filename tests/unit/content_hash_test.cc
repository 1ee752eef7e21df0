#include "merkle/content_hash.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace shoplist::merkle {
namespace {

TEST(ContentHashTest, IsAFixedFunctionOfTheBytes) {
  // Pinned: replicas on different builds compare these hashes.
  EXPECT_EQ(ContentHash(""), ContentHash(std::string()));
  EXPECT_EQ(ContentHash("milk"), ContentHash(std::string("milk")));
  EXPECT_EQ(ContentHash(""), 0xf490368aba8bfeacULL);
  EXPECT_EQ(ContentHash("shoplist state bytes"), 0x1d5d012be79e29aULL);
}

TEST(ContentHashTest, EveryByteAndTheLengthCount) {
  std::string base(37, 'x');
  std::set<uint64_t> seen = {ContentHash(base)};
  for (size_t i = 0; i < base.size(); ++i) {
    std::string changed = base;
    changed[i] ^= 1;
    EXPECT_TRUE(seen.insert(ContentHash(changed)).second) << "byte " << i;
  }
  for (size_t n = 0; n < base.size(); ++n) {
    EXPECT_TRUE(seen.insert(ContentHash(base.substr(0, n))).second)
        << "prefix " << n;
  }
  // Trailing zero bytes are not the same as a shorter input.
  EXPECT_NE(ContentHash(std::string("ab")),
            ContentHash(std::string("ab\0", 3)));
}

}  // namespace
}  // namespace shoplist::merkle
