// What a home offers to add again (suggest.h): names typed before, and what
// a list had bought, from the history and lists the core holds.
#include "clients/core/suggest.h"

#include <map>
#include <string>
#include <vector>

#include "clients/core/home_core.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoplist::client {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;

auto Named(const std::string& name) { return Field(&Suggestion::name, name); }

Inputs At(uint64_t seconds) {
  Inputs in;
  in.now_micros = seconds * 1'000'000;
  for (size_t i = 0; i < in.random.size(); ++i) {
    in.random[i] = static_cast<uint8_t>(seconds * 7 + i);
  }
  return in;
}

v1::Operation Add(const std::string& item, int64_t count) {
  v1::Operation op;
  op.mutable_add()->set_item(item);
  op.mutable_add()->set_count(count);
  return op;
}
v1::Operation Buy(const std::string& item, int64_t count = 0) {
  v1::Operation op;
  op.mutable_buy()->set_item(item);
  op.mutable_buy()->set_count(count);
  return op;
}
v1::Operation Unbuy(const std::string& item, int64_t count) {
  v1::Operation op;
  op.mutable_unbuy()->set_item(item);
  op.mutable_unbuy()->set_count(count);
  return op;
}
v1::Operation Category(const std::string& item, const std::string& category) {
  v1::Operation op;
  op.mutable_category()->set_item(item);
  op.mutable_category()->set_category(category);
  return op;
}
v1::Operation Clear() {
  v1::Operation op;
  op.mutable_clear_bought();
  return op;
}

class SuggestTest : public ::testing::Test {
 protected:
  std::string NewList(const std::string& title) {
    auto made = core_.New(title, At(++clock_));
    EXPECT_TRUE(made.ok()) << made.status();
    Commit(made->batch);
    return made->value.id;
  }
  void Do(const std::string& id, std::vector<v1::Operation> ops) {
    auto applied = core_.Change(id, std::move(ops), At(++clock_));
    ASSERT_TRUE(applied.ok()) << applied.status();
    Commit(applied->batch);
  }
  void Commit(const Batch& batch) {
    for (const Batch::Write& w : batch.writes) {
      if (w.kind == Batch::Write::Kind::kPut) records_[w.key] = w.value;
      if (w.kind == Batch::Write::Kind::kDelete) records_.erase(w.key);
    }
  }
  std::vector<Suggestion> Suggested(const std::string& typed,
                                    const std::string& list = "") {
    auto found = core_.Suggest(typed, list, kDefaultSuggestions);
    EXPECT_TRUE(found.ok()) << found.status();
    return found.value_or(std::vector<Suggestion>{});
  }
  std::vector<Suggestion> Again(const std::string& list) {
    auto bought = core_.BoughtBefore(list, kDefaultSuggestions);
    EXPECT_TRUE(bought.ok()) << bought.status();
    return bought.value_or(std::vector<Suggestion>{});
  }

  HomeCore core_{"Ann"};
  std::map<std::string, std::string> records_;
  uint64_t clock_ = 1'000;
};

TEST_F(SuggestTest, NamesMatchAtTheStartOfTheNameOrOfAWordFoldedAsItemsAre) {
  const std::string id = NewList("Groceries");
  Do(id, {Add("Oat milk", 2), Add("Milk", 1), Add("Straße-Brot", 1),
          Add("Eggs", 6)});
  // "milk" starts "Milk" (first) and a word of "Oat milk".
  EXPECT_THAT(Suggested("MILK"), ElementsAre(Named("Milk"), Named("Oat milk")));
  EXPECT_THAT(Suggested("STRASSE"), ElementsAre(Named("Straße-Brot")));
  EXPECT_THAT(Suggested("  e"), ElementsAre(Named("Eggs")));
  EXPECT_THAT(Suggested("ilk"), IsEmpty());  // not a word start
  EXPECT_THAT(Suggested("   "), IsEmpty());
}

TEST_F(SuggestTest, TheMostUsedComeFirstWithTheirRememberedAisleAndLastCount) {
  const std::string a = NewList("Weekly");
  const std::string b = NewList("Party");
  Do(a, {Add("Bread", 1)});
  Do(a, {Add("Butter", 1), Category("Butter", "Dairy")});
  Do(b, {Add("butter", 3)});  // the same item, on another list
  const std::vector<Suggestion> found = Suggested("b");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].name, "butter");  // as last typed
  EXPECT_EQ(found[0].uses, 2u);
  EXPECT_EQ(found[0].count, 3);
  EXPECT_EQ(found[0].category, "Dairy");  // remembered by this home
  EXPECT_EQ(found[1].name, "Bread");
  EXPECT_EQ(found[1].category, "");
}

TEST_F(SuggestTest, WhatIsStillToBuyOnTheListBeingAddedToIsLeftOut) {
  const std::string id = NewList("Groceries");
  Do(id, {Add("Milk", 1), Add("Mango", 2)});
  Do(id, {Buy("Mango")});
  // Milk is there to buy already; the bought mangoes may be wanted again.
  EXPECT_THAT(Suggested("m", id), ElementsAre(Named("Mango")));
  EXPECT_THAT(Suggested("m"), ElementsAre(Named("Mango"), Named("Milk")));
  EXPECT_EQ(core_.Suggest("m", "no such list", 8).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SuggestTest, ListsWithoutHistoryOfferTheirItems) {
  // A joined list's items arrive without this home's history of them.
  ListInfo joined;
  joined.id = "x";
  ItemInfo rice;
  rice.key = "rice";
  rice.name = "Rice";
  rice.wanted = 2;
  rice.category = "Dry goods";
  joined.items.push_back(rice);
  const std::vector<ListHistory> lists = {ListHistory{&joined, {}}};
  const auto none = [](absl::string_view) { return std::string(); };
  const std::vector<Suggestion> found = Suggest("ri", lists, "", none, 8);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].name, "Rice");
  EXPECT_EQ(found[0].count, 2);
  EXPECT_EQ(found[0].category, "Dry goods");
  EXPECT_EQ(found[0].uses, 0u);
}

TEST_F(SuggestTest, BoughtBeforeOffersWhatATripBoughtOnceItIsOffTheList) {
  const std::string id = NewList("Groceries");
  Do(id, {Add("Eggs", 6), Add("Milk", 2), Add("Tea", 1)});
  Do(id, {Category("Eggs", "Dairy")});
  Do(id, {Buy("Eggs", 4)});
  Do(id, {Buy("Eggs", 2)});  // one trip, two taps: 6
  Do(id, {Buy("Milk")});
  Do(id, {Unbuy("Milk", 1)});  // one of the two went back
  Do(id, {Buy("Milk", 1)});
  Do(id, {Buy("Tea")});
  EXPECT_THAT(Again(id), IsEmpty());  // bought, and still on the list
  Do(id, {Clear()});
  const std::vector<Suggestion> again = Again(id);
  // The latest bought first.
  ASSERT_THAT(again, ElementsAre(Named("Tea"), Named("Milk"), Named("Eggs")));
  EXPECT_EQ(again[2].count, 6);
  EXPECT_EQ(again[2].category, "Dairy");
  EXPECT_EQ(again[1].count, 2);
  // Added again: no longer offered.
  Do(id, {Add("tea", 1)});
  EXPECT_THAT(Again(id), ElementsAre(Named("Milk"), Named("Eggs")));
}

TEST_F(SuggestTest, WhatIsOfferedComesBackFromTheStoredRecords) {
  const std::string id = NewList("Groceries");
  Do(id, {Add("Eggs", 6), Category("Eggs", "Dairy")});
  Do(id, {Buy("Eggs")});
  Do(id, {Clear()});
  HomeCore reloaded("Ann");
  for (const auto& [key, value] : records_) {
    ASSERT_TRUE(reloaded.Load(key, value).ok()) << key;
  }
  EXPECT_EQ(reloaded.Suggest("eg", "", 8).value(), Suggested("eg"));
  EXPECT_EQ(reloaded.BoughtBefore(id, 8).value(), Again(id));
  EXPECT_EQ(Again(id).at(0).count, 6);
}

TEST_F(SuggestTest, LimitsAreKept) {
  const std::string id = NewList("Many");
  std::vector<v1::Operation> ops;
  for (int i = 0; i < 30; ++i)
    ops.push_back(Add("Item " + std::to_string(i), 1));
  Do(id, ops);
  EXPECT_EQ(core_.Suggest("item", "", 5)->size(), 5u);
  EXPECT_EQ(core_.Suggest("item", "", 100)->size(), 30u);
}

}  // namespace
}  // namespace shoplist::client
