// The client core without a disk or a network: records in, results and
// one batch of writes out; sync as request bytes and an answer.
#include "clients/core/home_core.h"

#include <map>
#include <string>

#include "clients/core/core_session.h"
#include "clients/core/json.h"
#include "codec/list_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoplist/v1/list_service.pb.h"

namespace shoplist::client {
namespace {

using ::testing::HasSubstr;

// A host's store in memory: what the batches wrote.
using Records = std::map<std::string, std::string>;

void Commit(const Batch& batch, Records& records) {
  for (const Batch::Write& w : batch.writes) {
    switch (w.kind) {
      case Batch::Write::Kind::kPut:
        records[w.key] = w.value;
        break;
      case Batch::Write::Kind::kDelete:
        records.erase(w.key);
        break;
      case Batch::Write::Kind::kDeletePrefix:
        for (auto it = records.lower_bound(w.key);
             it != records.end() && it->first.starts_with(w.key);) {
          it = records.erase(it);
        }
        break;
    }
  }
}

HomeCore Reloaded(const Records& records) {
  HomeCore core("Ann");
  for (const auto& [key, value] : records) {
    EXPECT_TRUE(core.Load(key, value).ok()) << key;
  }
  return core;
}

Inputs At(uint64_t now, uint8_t seed = 1) {
  Inputs in;
  in.now_micros = now;
  for (size_t i = 0; i < in.random.size(); ++i) {
    in.random[i] = static_cast<uint8_t>(seed * 31 + i);
  }
  return in;
}

class HomeCoreTest : public ::testing::Test {
 protected:
  // A new list "Groceries", committed.
  std::string NewList() {
    auto made = core_.New("Groceries", At(1'000'000));
    EXPECT_TRUE(made.ok()) << made.status();
    Commit(made->batch, records_);
    return made->value.id;
  }

  template <typename T>
  T Committed(absl::StatusOr<Applied<T>> applied) {
    EXPECT_TRUE(applied.ok()) << applied.status();
    Commit(applied->batch, records_);
    return applied->value;
  }
  template <typename T>
  T Committed(Applied<T> applied) {
    Commit(applied.batch, records_);
    return applied.value;
  }

  HomeCore core_{"Ann"};
  Records records_;
};

TEST_F(HomeCoreTest, AChangeIsOneBatchThatReloadsToTheSameHome) {
  const std::string id = NewList();
  v1::Operation add;
  add.mutable_add()->set_item("Milk");
  add.mutable_add()->set_count(2);
  MadeChange made = Committed(core_.Change("groc", {add}, At(2'000'000)));
  EXPECT_EQ(made.id, id);
  EXPECT_EQ(made.item, "milk");
  ASSERT_EQ(made.events.size(), 1u);
  EXPECT_EQ(made.events[0].kind, "add");
  EXPECT_TRUE(made.events[0].by_me);

  HomeCore again = Reloaded(records_);
  ListInfo info = *again.Show(id);
  ASSERT_EQ(info.items.size(), 1u);
  EXPECT_EQ(info.items[0].name, "Milk");
  EXPECT_EQ(info.items[0].changed_by, "Ann");
  EXPECT_EQ(info.undoable, 1u);
  EXPECT_EQ(info.access, Access::kOwner);
  EXPECT_EQ(ShowJson(info), ShowJson(*core_.Show(id)));
  ASSERT_EQ(again.Log(id, 10)->size(), 1u);  // the history came along
  EXPECT_EQ((*again.Log(id, 10))[0].item, "Milk");
  EXPECT_EQ(records_.count(std::string(kReplicaIdKey)), 1u);
}

TEST_F(HomeCoreTest, ACategoryIsRememberedInTheSameBatchAsTheChange) {
  const std::string id = NewList();
  v1::Operation category;
  category.mutable_category()->set_item("milk");
  category.mutable_category()->set_category("Dairy");
  v1::Operation add;
  add.mutable_add()->set_item("milk");
  add.mutable_add()->set_count(1);
  Committed(core_.Change(id, {add}, At(2)));
  auto applied = core_.Change(id, {category}, At(3));
  ASSERT_TRUE(applied.ok());
  bool list = false, setting = false;
  for (const Batch::Write& w : applied->batch.writes) {
    list |= w.key == ListKey(id);
    setting |= w.key == SettingKey("category/milk") && w.value == "Dairy";
  }
  EXPECT_TRUE(list && setting);
}

TEST_F(HomeCoreTest, AFailedChangeWritesNothingAndChangesNothing) {
  const std::string id = NewList();
  const std::string before = records_.at(ListKey(id));
  v1::Operation remove;
  remove.mutable_remove_item()->set_item("bread");
  auto failed = core_.Change(id, {remove}, At(2));
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kNotFound);
  HomeCore fresh("Ann");
  auto nothing = fresh.Change("no such list", {remove}, At(2));
  EXPECT_EQ(nothing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fresh.ListIds().size(), 0u);
  auto undo = core_.Change(id, {}, At(3), /*undo=*/true);
  EXPECT_EQ(undo.status().code(), absl::StatusCode::kFailedPrecondition);
  // Nothing was written, and the core's memory is what the records say.
  EXPECT_EQ(records_.at(ListKey(id)), before);
  EXPECT_EQ(ShowJson(*core_.Show(id)), ShowJson(*Reloaded(records_).Show(id)));
}

TEST_F(HomeCoreTest, SyncIsARequestAndAMergedAnswer) {
  const std::string id = NewList();
  const std::string request = *core_.SyncRequest(id);
  v1::SyncRequest sent;
  ASSERT_TRUE(sent.ParseFromString(request));
  EXPECT_EQ(sent.list_id(), id);
  EXPECT_TRUE(sent.create());
  EXPECT_FALSE(sent.secret().empty());

  // Offline: nothing written, the change stays pending.
  Applied<SyncReport> offline =
      core_.MergeSync(request, {SyncAnswer::Kind::kOffline, "", ""});
  EXPECT_EQ(offline.value.outcome, SyncReport::Outcome::kOffline);
  EXPECT_TRUE(offline.batch.empty());

  // A change made while the call was out stays pending after the answer.
  v1::Operation add;
  add.mutable_add()->set_item("eggs");
  add.mutable_add()->set_count(6);
  Committed(core_.Change(id, {add}, At(5)));
  crdt::ListState others;
  crdt::ListState bread = *others.Add(crdt::Writer(77), "bread", 1);
  v1::SyncResponse response;
  codec::EncodeState(bread, response.mutable_missing());
  SyncReport report = Committed(core_.MergeSync(
      request, {SyncAnswer::Kind::kStored, response.SerializeAsString(), ""}));
  EXPECT_EQ(report.outcome, SyncReport::Outcome::kSynced);
  ListInfo info = *Reloaded(records_).Info(id);
  EXPECT_TRUE(info.in_cloud);
  EXPECT_EQ(info.items.size(), 2u);  // eggs, and bread from the cloud
  // What was sent is pending still, with the eggs: the pending delta is
  // acknowledged only when nothing joined it meanwhile (merging again is
  // harmless; losing the eggs would not be).
  EXPECT_EQ(info.unsynced, 3u);  // title, access record, eggs
}

TEST_F(HomeCoreTest, NotFoundForAListTheCloudKnewMeansTheLinkWasRevoked) {
  const std::string id = NewList();
  const std::string request = *core_.SyncRequest(id);
  v1::SyncResponse empty;
  Committed(core_.MergeSync(
      request, {SyncAnswer::Kind::kStored, empty.SerializeAsString(), ""}));
  bool not_found = false;
  SyncReport report = Committed(
      core_.MergeSync(*core_.SyncRequest(id),
                      {SyncAnswer::Kind::kNotFound, "", ""}, &not_found));
  EXPECT_TRUE(not_found);
  EXPECT_THAT(report.error, HasSubstr("revoked"));
  EXPECT_EQ(Reloaded(records_).Info(id)->access, Access::kRevoked);
}

TEST_F(HomeCoreTest, TheSameInputsGiveTheSameBytes) {
  HomeCore a("Ann"), b("Ann");
  auto made_a = a.New("Weekend", At(9, 4));
  auto made_b = b.New("Weekend", At(9, 4));
  ASSERT_TRUE(made_a.ok() && made_b.ok());
  EXPECT_EQ(made_a->batch.writes, made_b->batch.writes);
  EXPECT_EQ(*a.SyncRequest(made_a->value.id), *b.SyncRequest(made_b->value.id));
}

TEST_F(HomeCoreTest, ADamagedRecordIsDataLoss) {
  HomeCore core;
  EXPECT_EQ(core.Load(ListKey("x"), "\xff\xff garbage").code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(HomeCoreTest, ADamagedReplicaIdFailsChangesNotReading) {
  const std::string id = NewList();
  records_[std::string(kReplicaIdKey)] = "short";
  HomeCore damaged = Reloaded(records_);
  EXPECT_TRUE(damaged.Show(id).ok());
  EXPECT_TRUE(damaged.SyncRequest(id).ok());
  v1::Operation add;
  add.mutable_add()->set_item("tea");
  add.mutable_add()->set_count(1);
  EXPECT_EQ(damaged.Change(id, {add}, At(2)).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(damaged.Log(id, 10).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(HomeCoreTest, ForgetDropsTheListAndItsHistoryInOneBatch) {
  const std::string id = NewList();
  v1::Operation add;
  add.mutable_add()->set_item("tea");
  add.mutable_add()->set_count(1);
  Committed(core_.Change(id, {add}, At(2)));
  EXPECT_EQ(core_.Forget(id, false).status().code(),
            absl::StatusCode::kFailedPrecondition);  // unsynced
  Committed(core_.Forget(id, true));
  for (const auto& [key, value] : records_) {
    EXPECT_FALSE(key.starts_with("list/") || key.starts_with("log/")) << key;
  }
}

}  // namespace
}  // namespace shoplist::client

namespace shoplist::client {
namespace {

// json.cc writes times by hand (no time zone code in the wasm module):
// they must read as absl::FormatTime's RFC 3339 in UTC did.
TEST(JsonTimeTest, TimesAreWhatFormatTimeWrote) {
  for (int64_t seconds :
       {int64_t{1}, int64_t{59}, int64_t{951782400}, int64_t{1767225599},
        int64_t{1767225600}, int64_t{4102444799}, int64_t{253402300799}}) {
    for (int64_t micros : {int64_t{0}, int64_t{999999}}) {
      ItemInfo item;
      item.changed_at = absl::FromUnixMicros(seconds * 1'000'000 + micros);
      EXPECT_EQ(ToJson(item)["changed_at"].get<std::string>(),
                absl::FormatTime(absl::RFC3339_sec, item.changed_at,
                                 absl::UTCTimeZone()));
    }
  }
}

}  // namespace
}  // namespace shoplist::client

namespace shoplist::client {
namespace {

// A host that forgets the clock or the random bytes gets an error, not a
// list whose id and owner secret are made of zeros.
TEST(CoreSessionTest, ChangesRequireTheClockAndFreshRandomBytes) {
  CoreSession session("Ann");
  const Json no_random = session.Call(
      Json{{"cmd", "new"}, {"title", "T"}, {"now", 1'767'225'600'000'000}});
  EXPECT_EQ(no_random["error"]["code"], "INVALID_ARGUMENT");
  const Json no_clock = session.Call(
      Json{{"cmd", "new"},
           {"title", "T"},
           {"random", std::string(56, 'A')}});  // 42 bytes of base64
  EXPECT_EQ(no_clock["error"]["code"], "INVALID_ARGUMENT");
  EXPECT_EQ(session.core().ListIds().size(), 0u);
}

}  // namespace
}  // namespace shoplist::client
