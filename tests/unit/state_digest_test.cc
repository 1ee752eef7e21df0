// Digests of a replica by its causal context (merkle/state_digest.h), and
// of stored bytes without decoding the items (storage::StoredDigest). That
// equal digests mean equal states is checked under random histories in
// list_property_test.
#include "merkle/state_digest.h"

#include <string>

#include "codec/list_codec.h"
#include "gtest/gtest.h"
#include "storage/replica_store.h"

namespace shoplist::merkle {
namespace {

constexpr crdt::ReplicaId kAlice = 0xA11CE;
constexpr crdt::ReplicaId kBob = 0xB0B;

std::string Encoded(const crdt::ListState& state) {
  v1::ListState message;
  codec::EncodeState(state, &message);
  return message.SerializeAsString();
}

TEST(StateDigestTest, TheSameChangesGiveTheSameDigestWhateverTheirOrder) {
  crdt::ListState alice, bob;
  crdt::ListState create = *alice.Create(kAlice, "groceries", 1);
  crdt::ListState milk = *alice.Add(kAlice, "milk", 2);
  bob.Merge(milk);  // out of order: a dot in the cloud, then the gap closes
  EXPECT_NE(StateDigest(bob.context(), false),
            StateDigest(alice.context(), false));
  bob.Merge(create);
  EXPECT_EQ(StateDigest(bob.context(), false),
            StateDigest(alice.context(), false));
  EXPECT_EQ(Encoded(bob), Encoded(alice));
  EXPECT_EQ(StateDigest(alice.context(), false).size(), 32u);
}

TEST(StateDigestTest, EveryDotAndTheTombstoneCount) {
  crdt::ListState a;
  (void)a.Create(kAlice, "groceries", 1);
  const std::string before = StateDigest(a.context(), false);
  EXPECT_NE(StateDigest(a.context(), true), before);
  crdt::ListState b = a;
  (void)b.Add(kBob, "tea", 1);
  EXPECT_NE(StateDigest(b.context(), false), before);
  EXPECT_NE(StateDigest(crdt::CausalContext(), false), before);
}

TEST(StateDigestTest, StateHashIsTheFirstEightBytesLittleEndian) {
  const std::string digest = "\x01\x02\x03\x04\x05\x06\x07\x08rest";
  EXPECT_EQ(StateHash(digest), 0x0807060504030201ULL);
}

TEST(StoredDigestTest, StoredBytesDigestAsTheirStateWithoutTheItemsDecoded) {
  crdt::ListState list;
  (void)list.Create(kAlice, "groceries", 1);
  (void)list.Add(kAlice, "milk", 2);
  (void)list.Add(kBob, "tea", 1);
  absl::StatusOr<std::string> digest =
      storage::StoredDigest(Encoded(list), "the list");
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, StateDigest(list.context(), list.deleted()));
  crdt::ListState deleted = list;
  (void)deleted.Delete();
  EXPECT_EQ(*storage::StoredDigest(Encoded(deleted), "the list"),
            StateDigest(deleted.context(), true));
  EXPECT_EQ(
      storage::StoredDigest("\xff\xff garbage", "the list").status().code(),
      absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace shoplist::merkle
