#include "codec/list_codec.h"

#include <string>

#include "crdt/limits.h"
#include "gtest/gtest.h"

namespace shoplist::codec {
namespace {

using crdt::ListState;

constexpr crdt::ReplicaId kAlice = 0xA11CE;
constexpr crdt::ReplicaId kBob = 0xB0B;

ListState SampleList() {
  ListState list;
  EXPECT_TRUE(list.Create(kAlice, "groceries", 1000).ok());
  EXPECT_TRUE(list.Add(kAlice, "milk", 3).ok());
  EXPECT_TRUE(list.Add(kBob, "milk", 1).ok());
  EXPECT_TRUE(list.Add(kBob, "Müsli", 2).ok());
  EXPECT_TRUE(list.Buy(kAlice, "milk", 2).ok());
  EXPECT_TRUE(list.RemoveItem(kBob, "Müsli").ok());
  EXPECT_TRUE(list.Add(kAlice, "tea", 1).ok());
  return list;
}

absl::StatusCode DecodeCode(const v1::ListState& message) {
  return DecodeState(message).status().code();
}

TEST(ListCodecTest, StateRoundTrips) {
  ListState list = SampleList();
  v1::ListState message;
  EncodeState(list, &message);
  EXPECT_EQ(message.replicas_size(), 2);
  auto decoded = DecodeState(message);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, list);
  // Through bytes too.
  v1::ListState parsed;
  ASSERT_TRUE(parsed.ParseFromString(message.SerializeAsString()));
  EXPECT_EQ(*DecodeState(parsed), list);
}

std::string AccessRecord(char digit) {
  return std::string(crdt::kAccessChars, digit);
}

TEST(ListCodecTest, AccessRecordRoundTripsAndTravelsInDeltas) {
  ListState list = SampleList();
  absl::StatusOr<ListState> delta =
      list.SetAccess(crdt::Writer(kAlice), AccessRecord('a'));
  ASSERT_TRUE(delta.ok()) << delta.status();
  v1::ListState message;
  EncodeState(list, &message);
  EXPECT_TRUE(message.has_access());
  absl::StatusOr<ListState> back = DecodeState(message);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, list);
  // A replica that lacks the record gets it in what it lacks.
  ListState before = SampleList();
  ListState missing = list.DeltaSince(before.context());
  EXPECT_EQ(missing.access().value, AccessRecord('a'));
  before.Merge(missing);
  EXPECT_EQ(before.access(), list.access());
  // A list written before access records existed decodes open.
  v1::ListState old;
  EncodeState(SampleList(), &old);
  EXPECT_FALSE(old.has_access());
  absl::StatusOr<ListState> open = DecodeState(old);
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_FALSE(open->access().set());
}

// A coordinator reads only the access record of a stored state: the bytes
// of a whole ListState parse as ListStateAccess and give the same record.
TEST(ListCodecTest, AccessAloneDecodesFromAWholeStatesBytes) {
  ListState list = SampleList();  // two writers: the index must resolve
  ASSERT_TRUE(list.SetAccess(crdt::Writer(kBob), AccessRecord('c')).ok());
  v1::ListState message;
  EncodeState(list, &message);
  v1::ListStateAccess alone;
  ASSERT_TRUE(alone.ParseFromString(message.SerializeAsString()));
  absl::StatusOr<crdt::Register> access = DecodeAccess(alone);
  ASSERT_TRUE(access.ok()) << access.status();
  EXPECT_EQ(*access, list.access());
  EXPECT_EQ(access->dot.replica, kBob);

  // An open list has no record.
  v1::ListState open;
  EncodeState(SampleList(), &open);
  ASSERT_TRUE(alone.ParseFromString(open.SerializeAsString()));
  access = DecodeAccess(alone);
  ASSERT_TRUE(access.ok()) << access.status();
  EXPECT_FALSE(access->set());

  // A record naming a replica the state does not list is refused.
  message.mutable_access()->set_replica(7);
  ASSERT_TRUE(alone.ParseFromString(message.SerializeAsString()));
  EXPECT_EQ(DecodeAccess(alone).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ListCodecTest, MalformedAccessRecordIsRefused) {
  ListState list = SampleList();
  ASSERT_TRUE(list.SetAccess(crdt::Writer(kAlice), AccessRecord('b')).ok());
  v1::ListState message;
  EncodeState(list, &message);
  v1::ListState short_record = message;
  short_record.mutable_access()->set_value(AccessRecord('b').substr(1));
  EXPECT_EQ(DecodeCode(short_record), absl::StatusCode::kInvalidArgument);
  v1::ListState not_hex = message;
  not_hex.mutable_access()->set_value(AccessRecord('g'));
  EXPECT_EQ(DecodeCode(not_hex), absl::StatusCode::kInvalidArgument);
  v1::ListState no_dot = message;
  no_dot.mutable_access()->set_counter(0);
  EXPECT_EQ(DecodeCode(no_dot), absl::StatusCode::kInvalidArgument);
  v1::ListState tombstone;
  tombstone.set_deleted(true);
  *tombstone.mutable_access() = message.access();
  EXPECT_EQ(DecodeCode(tombstone), absl::StatusCode::kInvalidArgument);
}

TEST(ListCodecTest, DeltaAndTombstoneRoundTrip) {
  ListState list = SampleList();
  auto delta = list.Add(kBob, "tea", 4);
  ASSERT_TRUE(delta.ok());
  v1::ListState message;
  EncodeState(*delta, &message);
  EXPECT_EQ(*DecodeState(message), *delta);

  EncodeState(ListState::Tombstone(), &message);
  EXPECT_TRUE(message.deleted());
  EXPECT_TRUE(DecodeState(message)->deleted());
}

TEST(ListCodecTest, ContextRoundTrips) {
  crdt::CausalContext context;
  context.Add({1, 1});
  context.Add({1, 2});
  context.Add({2, 5});
  v1::CausalContext message;
  EncodeContext(context, &message);
  EXPECT_EQ(*DecodeContext(message), context);
}

TEST(ListCodecTest, ViewIsEncoded) {
  v1::ListView view;
  EncodeView(SampleList().View(), &view);
  EXPECT_EQ(view.title(), "groceries");
  ASSERT_EQ(view.items_size(), 2);
  EXPECT_EQ(view.items(0).name(), "milk");
  EXPECT_EQ(view.items(0).wanted(), 4);
  EXPECT_EQ(view.items(0).bought(), 2);
}

class MalformedStateTest : public ::testing::Test {
 protected:
  void SetUp() override { EncodeState(SampleList(), &good_); }
  v1::ListState good_;
};

TEST_F(MalformedStateTest, DotOutsideTheContext) {
  v1::ListState m = good_;
  m.mutable_items(0)->mutable_entries(0)->set_counter(999);
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
  m = good_;
  m.mutable_title()->set_counter(999);
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
}

TEST_F(MalformedStateTest, ZeroCounterOrResetAheadOfEntry) {
  v1::ListState m = good_;
  m.mutable_items(0)->mutable_entries(0)->set_counter(0);
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
  m = good_;
  auto* e = m.mutable_items(0)->mutable_entries(0);
  e->set_reset_gap(e->counter());
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
  m = good_;
  m.mutable_items(0)->mutable_entries(0)->clear_reset_gap();
  m.mutable_items(0)->mutable_entries(0)->set_wanted_since_reset(5);
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
}

TEST_F(MalformedStateTest, QuantitiesOutOfRange) {
  v1::ListState m = good_;
  m.mutable_items(0)->mutable_entries(0)->set_wanted(crdt::kMaxAbsQuantity + 1);
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
  m = good_;
  m.mutable_items(0)->mutable_entries(0)->set_bought(INT64_MIN);
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
  // Differences that would overflow when undone.
  m = good_;
  m.mutable_items(0)->mutable_entries(0)->set_wanted(INT64_MAX);
  m.mutable_items(0)->mutable_entries(0)->set_reset_gap(0);
  m.mutable_items(0)->mutable_entries(0)->set_wanted_since_reset(INT64_MIN);
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
}

TEST_F(MalformedStateTest, BadNames) {
  v1::ListState m = good_;
  m.mutable_items(0)->set_name(std::string(crdt::kMaxNameBytes + 1, 'a'));
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
  m = good_;
  m.mutable_items(0)->set_name("\xC3(");
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
  m = good_;
  m.mutable_items(0)->set_name("");
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
  m = good_;
  m.mutable_title()->set_value("\xFF");
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
}

TEST_F(MalformedStateTest, DuplicatesAndDisorder) {
  v1::ListState m = good_;
  *m.add_items() = m.items(0);
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
  m = good_;
  m.mutable_items()->SwapElements(0, 1);
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
  m = good_;
  *m.mutable_items(0)->add_entries() = m.items(0).entries(0);
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
  m = good_;
  m.add_replicas(m.replicas(0));
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
  m = good_;
  auto* entry = m.mutable_context()->add_vector();
  *entry = m.context().vector(0);
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
}

TEST_F(MalformedStateTest, ReplicaIndexOutOfRange) {
  v1::ListState m = good_;
  m.mutable_items(0)->mutable_entries(0)->set_replica(7);
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
  m = good_;
  m.mutable_title()->set_replica(2);
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
}

TEST_F(MalformedStateTest, ItemWithoutEntries) {
  v1::ListState m = good_;
  m.mutable_items(0)->clear_entries();
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
}

TEST_F(MalformedStateTest, TombstoneWithContent) {
  v1::ListState m = good_;
  m.set_deleted(true);
  EXPECT_EQ(DecodeCode(m), absl::StatusCode::kInvalidArgument);
}

TEST_F(MalformedStateTest, ArbitraryBytesNeverCrash) {
  std::string bytes = good_.SerializeAsString();
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t flip : {0x01, 0x80, 0xFF}) {
      std::string mutated = bytes;
      mutated[i] = static_cast<char>(mutated[i] ^ flip);
      v1::ListState m;
      if (!m.ParseFromString(mutated)) continue;
      auto decoded = DecodeState(m);
      if (decoded.ok()) {
        EXPECT_TRUE(decoded->Validate().ok());
      }
    }
  }
}

}  // namespace
}  // namespace shoplist::codec

namespace shoplist::codec {
namespace {

// Found by fuzz/list_request_fuzz: a valid state whose item sums to about
// -2^40 (a peer's writes) made "add 1" produce an entry above the limit, a
// delta every replica refuses. Such a change is now refused up front.
TEST(ListCodecTest, ChangesThatWouldLeaveTheRangeAreRefused) {
  v1::ListState in;
  in.add_replicas(7);
  auto* v = in.mutable_context()->add_vector();
  v->set_replica(7);
  v->set_counter(1);
  auto* item = in.add_items();
  item->set_name("milk");
  auto* e = item->add_entries();
  e->set_replica(0);
  e->set_counter(1);
  e->set_wanted(-crdt::kMaxAbsQuantity);
  e->set_bought(-crdt::kMaxAbsQuantity);
  absl::StatusOr<crdt::ListState> state = DecodeState(in);
  ASSERT_TRUE(state.ok()) << state.status();
  const crdt::ListState before = *state;

  EXPECT_EQ(state->Add(crdt::Writer(9), "milk", 1).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(*state, before);  // nothing changed, no dot taken
  // Other items, and other changes within range, still work and validate.
  absl::StatusOr<crdt::ListState> bread =
      state->Add(crdt::Writer(9), "bread", 1);
  ASSERT_TRUE(bread.ok());
  EXPECT_TRUE(bread->Validate().ok());
}

}  // namespace
}  // namespace shoplist::codec
