// Capabilities: the link format, secrets, their hashes and what a secret
// proves.
#include <initializer_list>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "access/capability.h"
#include "access/policy.h"
#include "crdt/limits.h"
#include "crdt/list_state.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoplist::access {
namespace {

using ::testing::HasSubstr;

constexpr char kList[] = "kq3vyb7xw2mhd5t4r4ncp6ej7a";
constexpr char kSecret[] = "abcdefghijklmnopqrstuvwx2a";

TEST(LinkTest, FormatsAndParsesEachCapability) {
  for (Capability c :
       {Capability::kRead, Capability::kEdit, Capability::kOwner}) {
    const std::string text = FormatLink({kList, c, kSecret});
    absl::StatusOr<Link> link = ParseLink(absl::StrCat("  ", text, "\n"));
    ASSERT_TRUE(link.ok()) << link.status();
    EXPECT_EQ(link->list_id, kList);
    EXPECT_EQ(link->capability, c);
    EXPECT_EQ(link->secret, kSecret);
  }
  EXPECT_EQ(FormatLink({kList, Capability::kEdit, kSecret}),
            "kq3vyb7xw2mhd5t4r4ncp6ej7a_e_abcdefghijklmnopqrstuvwx2a");
}

TEST(LinkTest, EveryWrongPartIsNamed) {
  struct Case {
    std::string text;
    std::string says;
  };
  const std::string list = kList, secret = kSecret;
  for (const Case& c : std::initializer_list<Case>{
           {"", "the form"},
           {list, "the form"},  // a bare id is not a link
           {list + "_e", "the form"},
           {list + "_e_" + secret + "_x", "the form"},
           {"KQ3VYB7XW2MHD5T4R4NCP6EJ7A_e_" + secret, "list id"},
           {"short_e_" + secret, "list id"},
           {list + "_w_" + secret, "r (read), e (edit) or o (owner)"},
           {list + "_E_" + secret, "r (read), e (edit) or o (owner)"},
           {list + "__" + secret, "r (read), e (edit) or o (owner)"},
           {list + "_r_" + secret.substr(1), "secret"},
           {list + "_r_" + secret.substr(0, 25) + "1", "secret"},
           {list + "_r_", "secret"},
       }) {
    absl::StatusOr<Link> link = ParseLink(c.text);
    EXPECT_EQ(link.status().code(), absl::StatusCode::kInvalidArgument)
        << c.text;
    EXPECT_THAT(std::string(link.status().message()), HasSubstr(c.says))
        << c.text;
  }
}

TEST(SecretTest, SecretsAreFreshAndSpelledLikeListIds) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<std::string> secret = NewSecret();
    ASSERT_TRUE(secret.ok()) << secret.status();
    EXPECT_TRUE(ParseLink(FormatLink({kList, Capability::kRead, *secret})).ok())
        << *secret;
    EXPECT_TRUE(seen.insert(*secret).second) << "repeated " << *secret;
  }
}

TEST(SecretTest, HashIsSha256OfTheDomainAndTheSecret) {
  // Computed independently: hashlib.sha256(
  //   b"shoplist capability secret v1\n" + b"abcdefghijklmnopqrstuvwx2a").
  // Servers compare stored hashes: a change here locks every list.
  const SecretHash hash = HashSecret(kSecret);
  std::string hex;
  for (uint8_t b : hash) absl::StrAppend(&hex, absl::Hex(b, absl::kZeroPad2));
  EXPECT_EQ(hex,
            "7b3eb2dd7d694f50b86d32e8953b492af5326a33eed23e1c87a4f3456b768639");
  EXPECT_FALSE(SameHash(hash, HashSecret("abcdefghijklmnopqrstuvwx3a")));
  EXPECT_TRUE(SameHash(hash, HashSecret(std::string(kSecret))));
}

TEST(ProveTest, EachSecretProvesItsCapabilityAndNoOtherSecretDoes) {
  absl::StatusOr<NewAccess> access = MakeAccess();
  ASSERT_TRUE(access.ok()) << access.status();
  EXPECT_EQ(Prove(access->grants, HashSecret(access->read_secret)),
            Capability::kRead);
  EXPECT_EQ(Prove(access->grants, HashSecret(access->edit_secret)),
            Capability::kEdit);
  EXPECT_EQ(Prove(access->grants, HashSecret(access->owner_secret)),
            Capability::kOwner);
  EXPECT_EQ(Prove(access->grants, HashSecret(kSecret)), Capability::kNone);
  EXPECT_EQ(Prove(access->grants, HashSecret("")), Capability::kNone);
  // Another list's secrets prove nothing here.
  absl::StatusOr<NewAccess> other = MakeAccess();
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(Prove(access->grants, HashSecret(other->owner_secret)),
            Capability::kNone);
  // Revoking replaces the read and edit hashes: old links stop working,
  // the owner's goes on.
  Grants revoked = access->grants;
  revoked.read = other->grants.read;
  revoked.edit = other->grants.edit;
  EXPECT_EQ(Prove(revoked, HashSecret(access->read_secret)), Capability::kNone);
  EXPECT_EQ(Prove(revoked, HashSecret(access->edit_secret)), Capability::kNone);
  EXPECT_EQ(Prove(revoked, HashSecret(access->owner_secret)),
            Capability::kOwner);
  EXPECT_EQ(Prove(revoked, HashSecret(other->edit_secret)), Capability::kEdit);
}

TEST(EpochTest, LinksDeriveFromTheOwnerSecretAndMoveOnAtARevocation) {
  // Computed independently: base32(sha256(b"shoplist capability derive
  // v1\n" + b"edit\n1\n" + owner)[:16]), and the read secret from the edit
  // secret with b"read\n0\n". Links handed out depend on these.
  const NewAccess first = AccessAt(kSecret, 1);
  EXPECT_EQ(first.edit_secret, "cfgd3ak7jiohrrj3xgvbc5xyoi");
  EXPECT_EQ(first.read_secret, "2vqpqcqsci4ko6v47srqcgicvm");
  EXPECT_EQ(AccessAt(kSecret, 2).edit_secret, "hdlywwipswdiyhlyogrzns2kja");

  absl::StatusOr<NewAccess> next = Revoke(first.grants, kSecret);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->epoch, 2u);
  EXPECT_EQ(next->owner_secret, kSecret);
  EXPECT_TRUE(SameHash(next->grants.owner, first.grants.owner));
  EXPECT_EQ(Prove(next->grants, HashSecret(first.edit_secret)),
            Capability::kNone);
  EXPECT_EQ(Prove(next->grants, HashSecret(first.read_secret)),
            Capability::kNone);
  // Two owners revoking at once write the same grants.
  EXPECT_EQ(EncodeGrants(Revoke(first.grants, kSecret)->grants),
            EncodeGrants(next->grants));
  // Only the owner revokes.
  EXPECT_EQ(Revoke(first.grants, first.edit_secret).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(EpochTest, EachHolderHandsOutWhatItHoldsAndBelow) {
  const NewAccess a = AccessAt(kSecret, 3);
  EXPECT_EQ(*SecretFor(a.grants, kSecret, Capability::kOwner), kSecret);
  EXPECT_EQ(*SecretFor(a.grants, kSecret, Capability::kEdit), a.edit_secret);
  EXPECT_EQ(*SecretFor(a.grants, kSecret, Capability::kRead), a.read_secret);
  EXPECT_EQ(*SecretFor(a.grants, a.edit_secret, Capability::kRead),
            a.read_secret);
  EXPECT_EQ(*SecretFor(a.grants, a.read_secret, Capability::kRead),
            a.read_secret);
  EXPECT_EQ(
      SecretFor(a.grants, a.edit_secret, Capability::kOwner).status().code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(
      SecretFor(a.grants, a.read_secret, Capability::kEdit).status().code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(SecretFor(a.grants, "", Capability::kRead).status().code(),
            absl::StatusCode::kPermissionDenied);
  // Grants not derived from their owner secret have no epoch.
  Grants odd = a.grants;
  odd.edit = HashSecret("zzzzzzzzzzzzzzzzzzzzzzzzza");
  EXPECT_EQ(SecretFor(odd, kSecret, Capability::kEdit).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(GrantsTest, EncodeAndDecodeRoundTripAsTheStateHoldsThem) {
  absl::StatusOr<NewAccess> access = MakeAccess();
  ASSERT_TRUE(access.ok()) << access.status();
  const std::string record = EncodeGrants(access->grants);
  EXPECT_EQ(record.size(), crdt::kAccessChars);
  absl::StatusOr<Grants> back = DecodeGrants(record);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(Prove(*back, HashSecret(access->edit_secret)), Capability::kEdit);
  EXPECT_TRUE(SameHash(back->owner, access->grants.owner));
  // A list state accepts exactly this form.
  crdt::ListState list;
  EXPECT_TRUE(list.SetAccess(crdt::Writer(7, 0), record).ok());
  std::string upper = record;
  upper[0] = 'A';
  EXPECT_FALSE(DecodeGrants(upper).ok());
  EXPECT_FALSE(DecodeGrants(record.substr(1)).ok());
  EXPECT_FALSE(list.SetAccess(crdt::Writer(7, 0), upper).ok());
}

TEST(CapabilityTest, NamesAndOrder) {
  EXPECT_EQ(CapabilityName(Capability::kNone), "none");
  EXPECT_EQ(CapabilityName(Capability::kRead), "read");
  EXPECT_EQ(CapabilityName(Capability::kEdit), "edit");
  EXPECT_EQ(CapabilityName(Capability::kOwner), "owner");
  EXPECT_LT(Capability::kRead, Capability::kEdit);
  EXPECT_LT(Capability::kEdit, Capability::kOwner);
}

// --- Policy ---

class PolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(list_.Create(crdt::Writer(1), "groceries", 1).ok());
    open_ = list_;
    absl::StatusOr<NewAccess> access = MakeAccess();
    ASSERT_TRUE(access.ok()) << access.status();
    access_ = *std::move(access);
    ASSERT_TRUE(
        list_.SetAccess(crdt::Writer(1), EncodeGrants(access_.grants)).ok());
  }

  // Deltas as another writer would make them.
  crdt::ListState AddMilk(const crdt::ListState& base) {
    crdt::ListState copy = base;
    return *copy.Add(crdt::Writer(9), "milk", 1);
  }
  crdt::ListState NewRecord(const crdt::ListState& base) {
    crdt::ListState copy = base;
    return *copy.SetAccess(crdt::Writer(9),
                           std::string(crdt::kAccessChars, 'd'));
  }

  crdt::ListState open_;  // no record: open to its id
  crdt::ListState list_;  // with a record
  NewAccess access_;
};

TEST_F(PolicyTest, AnOpenListGrantsEverythingToItsId) {
  EXPECT_EQ(Held(open_, HashSecret("")), Capability::kOwner);
  EXPECT_TRUE(CheckRead(open_, HashSecret("")).ok());
  EXPECT_TRUE(CheckWrite(open_, AddMilk(open_), HashSecret("")).ok());
  // Anyone who knows the id may close it; the record's writer owns it.
  EXPECT_TRUE(CheckWrite(open_, NewRecord(open_), HashSecret("")).ok());
}

TEST_F(PolicyTest, WithoutAProofTheListDoesNotExist) {
  for (absl::string_view secret :
       {absl::string_view(""), absl::string_view(kSecret)}) {
    EXPECT_EQ(Held(list_, HashSecret(secret)), Capability::kNone);
    EXPECT_EQ(CheckRead(list_, HashSecret(secret)).code(),
              absl::StatusCode::kNotFound);
    EXPECT_EQ(CheckWrite(list_, AddMilk(list_), HashSecret(secret)).code(),
              absl::StatusCode::kNotFound);
    EXPECT_EQ(CheckWrite(list_, crdt::ListState(), HashSecret(secret)).code(),
              absl::StatusCode::kNotFound);
  }
}

TEST_F(PolicyTest, ReadLinksReadAndChangeNothing) {
  const std::string& read = access_.read_secret;
  EXPECT_TRUE(CheckRead(list_, HashSecret(read)).ok());
  // A sync that carries nothing is a read.
  crdt::ListState nothing;
  EXPECT_TRUE(CheckWrite(list_, nothing, HashSecret(read)).ok());
  absl::Status add = CheckWrite(list_, AddMilk(list_), HashSecret(read));
  EXPECT_EQ(add.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(add.message()), HasSubstr("edit link"));
}

TEST_F(PolicyTest, EditLinksChangeItemsButNotWhoMayUseTheList) {
  const std::string& edit = access_.edit_secret;
  EXPECT_TRUE(CheckWrite(list_, AddMilk(list_), HashSecret(edit)).ok());
  absl::Status record = CheckWrite(list_, NewRecord(list_), HashSecret(edit));
  EXPECT_EQ(record.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(record.message()), HasSubstr("owner link"));
  // A delta that adds an item and slips in a record is refused whole.
  crdt::ListState both = AddMilk(list_);
  both.Merge(NewRecord(list_));
  EXPECT_EQ(CheckWrite(list_, both, HashSecret(edit)).code(),
            absl::StatusCode::kPermissionDenied);
  crdt::ListState copy = list_;
  EXPECT_EQ(CheckWrite(list_, copy.Delete(), HashSecret(edit)).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(PolicyTest, OwnersMayDoEverything) {
  const std::string& owner = access_.owner_secret;
  EXPECT_EQ(Held(list_, HashSecret(owner)), Capability::kOwner);
  EXPECT_TRUE(CheckWrite(list_, AddMilk(list_), HashSecret(owner)).ok());
  EXPECT_TRUE(CheckWrite(list_, NewRecord(list_), HashSecret(owner)).ok());
  crdt::ListState copy = list_;
  EXPECT_TRUE(CheckWrite(list_, copy.Delete(), HashSecret(owner)).ok());
}

TEST_F(PolicyTest, ARevocationTakesEffectWhereItWasMerged) {
  absl::StatusOr<NewAccess> fresh = MakeAccess();
  ASSERT_TRUE(fresh.ok());
  Grants revoked = access_.grants;
  revoked.read = fresh->grants.read;
  revoked.edit = fresh->grants.edit;
  crdt::ListState after = list_;
  crdt::ListState delta =
      *after.SetAccess(crdt::Writer(1), EncodeGrants(revoked));
  ASSERT_TRUE(CheckWrite(list_, delta, HashSecret(access_.owner_secret)).ok());
  // A replica that has not merged it still takes the old edit link...
  EXPECT_TRUE(
      CheckWrite(list_, AddMilk(list_), HashSecret(access_.edit_secret)).ok());
  // ...one that has refuses it, and takes the new one.
  EXPECT_EQ(
      CheckWrite(after, AddMilk(after), HashSecret(access_.edit_secret)).code(),
      absl::StatusCode::kNotFound);
  EXPECT_TRUE(
      CheckWrite(after, AddMilk(after), HashSecret(fresh->edit_secret)).ok());
  EXPECT_TRUE(CheckRead(after, HashSecret(access_.owner_secret)).ok());
}

}  // namespace
}  // namespace shoplist::access
