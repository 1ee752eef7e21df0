// The client's pure rules: text as people type it (ICU trimming and case
// folding), names cleaned for operations, which list LIST names, and the
// retry schedule every connection attempt follows.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/core/cloud_link.h"
#include "clients/core/list_resolver.h"
#include "codec/operation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "text/text.h"

namespace shoplist {
namespace {

using client::ListName;
using client::ResolveList;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(TextTest, TrimSpaceRemovesUnicodeBlanksAtBothEndsOnly) {
  EXPECT_EQ(text::TrimSpace("  milk \t\n"), "milk");
  EXPECT_EQ(text::TrimSpace("oat  milk"), "oat  milk");
  // NO-BREAK SPACE and IDEOGRAPHIC SPACE, as pasted from pages.
  EXPECT_EQ(text::TrimSpace("\u00a0\u3000Brot\u00a0"), "Brot");
  EXPECT_EQ(text::TrimSpace("   "), "");
  EXPECT_EQ(text::TrimSpace(""), "");
  EXPECT_EQ(text::TrimSpace("Äpfel"), "Äpfel");
  // Invalid UTF-8 is kept as it is, for the validator to refuse.
  EXPECT_EQ(text::TrimSpace(" \xff "), "\xff");
}

TEST(TextTest, FoldCaseIsFullUnicodeFolding) {
  EXPECT_EQ(text::FoldCase("Weekend"), text::FoldCase("wEEKEND"));
  EXPECT_EQ(text::FoldCase("ÄPFEL"), text::FoldCase("äpfel"));
  EXPECT_EQ(text::FoldCase("Straße"), text::FoldCase("STRASSE"));
  EXPECT_NE(text::FoldCase("milk"), text::FoldCase("mild"));
}

TEST(TextTest, ItemKeysMakeOneItemPerThing) {
  EXPECT_EQ(text::ItemKey("  Oat \t MILK "), "oat milk");
  EXPECT_EQ(text::ItemKey("Straße"), text::ItemKey("STRASSE"));
  // e + U+0301 COMBINING ACUTE is the one code point é.
  EXPECT_EQ(text::ItemKey("Cafe\u0301"), text::ItemKey("CAFÉ"));
  EXPECT_EQ(text::ItemKey("Cafe\u0301"), "caf\u00e9");
  EXPECT_EQ(text::CleanSpace(" Oat\u00a0\u00a0milk "), "Oat milk");
  for (const char* s : {"milk", "oat milk", "caf\u00e9", "", "strasse"}) {
    EXPECT_TRUE(text::IsItemKey(s)) << s;
    EXPECT_EQ(text::ItemKey(text::ItemKey(s)), text::ItemKey(s));
  }
  for (const char* s : {"Milk", " milk", "milk ", "oat  milk", "oat\tmilk",
                        "Caf\u00e9", "Stra\u00dfe"}) {
    EXPECT_FALSE(text::IsItemKey(s)) << s;
  }
}

TEST(TextTest, SortKeysFollowCollationNotBytes) {
  EXPECT_LT(text::SortKey("eggs"), text::SortKey("Milk"));
  EXPECT_LT(text::SortKey("\u00c4pfel"), text::SortKey("Birnen"));
  EXPECT_LT(text::SortKey("milk"), text::SortKey("Milk"));  // then case
}

TEST(CleanNameTest, TrimsAndRefusesBlankNames) {
  EXPECT_EQ(*codec::CleanName("  milk ", "item name"), "milk");
  absl::StatusOr<std::string> blank = codec::CleanName("   ", "item name");
  EXPECT_EQ(blank.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(blank.status().message(), "item name is only blanks");
  EXPECT_EQ(codec::CleanName("", "title").status().message(), "title is empty");
  EXPECT_EQ(codec::CleanName(std::string(300, 'x'), "title").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CleanNameTest, OperationsUseTheCleanNameAndRefuseBlankOnes) {
  crdt::ListState state;
  v1::Operation create;
  create.mutable_create()->set_title("  Groceries ");
  ASSERT_TRUE(codec::ApplyOperation(create, 0xA, 1, state).ok());
  EXPECT_EQ(state.View().title, "Groceries");

  v1::Operation add;
  add.mutable_add()->set_item("\u00a0milk ");
  add.mutable_add()->set_count(2);
  ASSERT_TRUE(codec::ApplyOperation(add, 0xA, 2, state).ok());
  ASSERT_EQ(state.View().items.size(), 1u);
  EXPECT_EQ(state.View().items[0].name, "milk");

  v1::Operation blank_item;
  blank_item.mutable_add()->set_item(" \t ");
  blank_item.mutable_add()->set_count(1);
  v1::Operation blank_title;
  blank_title.mutable_rename()->set_title("   ");
  v1::Operation blank_buy;
  blank_buy.mutable_buy()->set_item("  ");
  for (const v1::Operation& op : {blank_item, blank_title, blank_buy}) {
    const crdt::ListState before = state;
    absl::StatusOr<crdt::ListState> delta =
        codec::ApplyOperation(op, 0xA, 3, state);
    EXPECT_EQ(delta.status().code(), absl::StatusCode::kInvalidArgument)
        << op.DebugString();
    EXPECT_THAT(std::string(delta.status().message()),
                HasSubstr("is only blanks"));
    EXPECT_EQ(state, before);
  }
}

const std::vector<ListName> kLists = {
    {"aaaabbbbccccddddeeeeffffgg", "Weekend groceries"},
    {"aaaazzzzccccddddeeeeffffgg", "Hardware store"},
    {"qqqqbbbbccccddddeeeeffffgg", "Weekday lunch"},
    {"rrrrbbbbccccddddeeeeffffgg", "Äpfel und Birnen"},
};

TEST(ResolveListTest, FullIdAndUniqueIdPrefix) {
  EXPECT_EQ(*ResolveList("aaaazzzzccccddddeeeeffffgg", kLists), kLists[1].id);
  EXPECT_EQ(*ResolveList("qq", kLists), kLists[2].id);
  EXPECT_EQ(ResolveList("aaaa", kLists).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ResolveListTest, TitleExactlyThenWithoutCaseThenByPrefix) {
  EXPECT_EQ(*ResolveList("Hardware store", kLists), kLists[1].id);
  EXPECT_EQ(*ResolveList("hardware STORE", kLists), kLists[1].id);
  EXPECT_EQ(*ResolveList("  weekend ", kLists), kLists[0].id);  // a prefix
  EXPECT_EQ(*ResolveList("äpf", kLists), kLists[3].id);  // Unicode folding
  EXPECT_EQ(*ResolveList("Hard", kLists), kLists[1].id);
}

TEST(ResolveListTest, AnAmbiguousPrefixNamesEveryCandidate) {
  absl::StatusOr<std::string> id = ResolveList("week", kLists);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(id.status().message()),
              AllOf(HasSubstr("more than one list"),
                    HasSubstr(kLists[0].id + "  Weekend groceries"),
                    HasSubstr(kLists[2].id + "  Weekday lunch")));
}

TEST(ResolveListTest, AnExactTitleWinsOverLongerTitlesItPrefixes) {
  std::vector<ListName> lists = kLists;
  lists.push_back({"sssssbbbccccddddeeeeffffgg", "Weekend"});
  EXPECT_EQ(*ResolveList("Weekend", lists), lists.back().id);
  EXPECT_EQ(*ResolveList("weekend", lists), lists.back().id);
}

TEST(ResolveListTest, NothingOrBlankIsRefused) {
  EXPECT_EQ(ResolveList("Garden", kLists).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(ResolveList("Garden", kLists).status().message()),
              HasSubstr("no list 'Garden'"));
  EXPECT_EQ(ResolveList("  ", kLists).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveList("x", {}).status().code(), absl::StatusCode::kNotFound);
}

TEST(RetryDelayTest, DoublesFrom100MsAndStaysNearOneSecond) {
  EXPECT_EQ(client::CloudLink::RetryDelay(0), absl::ZeroDuration());
  EXPECT_EQ(client::CloudLink::RetryDelay(1), absl::Milliseconds(100));
  EXPECT_EQ(client::CloudLink::RetryDelay(2), absl::Milliseconds(200));
  EXPECT_EQ(client::CloudLink::RetryDelay(4), absl::Milliseconds(800));
  EXPECT_EQ(client::CloudLink::RetryDelay(5), absl::Seconds(1));
  EXPECT_EQ(client::CloudLink::RetryDelay(1000), absl::Seconds(1));
}

}  // namespace
}  // namespace shoplist
