#include "crdt/utf8.h"

#include "gtest/gtest.h"

namespace shoplist::crdt {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("milk"));
  EXPECT_TRUE(IsValidUtf8("Müsli"));
  EXPECT_TRUE(IsValidUtf8("\xE2\x82\xAC"));      // euro sign
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x8D\x8E"));  // red apple
}

TEST(Utf8Test, RejectsMalformedText) {
  EXPECT_FALSE(IsValidUtf8("\xC3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("a\x80z"));
}

}  // namespace
}  // namespace shoplist::crdt
