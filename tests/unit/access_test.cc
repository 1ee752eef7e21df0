// Capabilities: the link format, secrets, their hashes and what a secret
// proves.
#include <initializer_list>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "access/capability.h"
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
  EXPECT_EQ(Prove(access->grants, access->read_secret), Capability::kRead);
  EXPECT_EQ(Prove(access->grants, access->edit_secret), Capability::kEdit);
  EXPECT_EQ(Prove(access->grants, access->owner_secret), Capability::kOwner);
  EXPECT_EQ(Prove(access->grants, kSecret), Capability::kNone);
  EXPECT_EQ(Prove(access->grants, ""), Capability::kNone);
  // Another list's secrets prove nothing here.
  absl::StatusOr<NewAccess> other = MakeAccess();
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(Prove(access->grants, other->owner_secret), Capability::kNone);
  // Revoking replaces the read and edit hashes: old links stop working,
  // the owner's goes on.
  Grants revoked = access->grants;
  revoked.read = other->grants.read;
  revoked.edit = other->grants.edit;
  EXPECT_EQ(Prove(revoked, access->read_secret), Capability::kNone);
  EXPECT_EQ(Prove(revoked, access->edit_secret), Capability::kNone);
  EXPECT_EQ(Prove(revoked, access->owner_secret), Capability::kOwner);
  EXPECT_EQ(Prove(revoked, other->edit_secret), Capability::kEdit);
}

TEST(GrantsTest, EncodeAndDecodeRoundTripAsTheStateHoldsThem) {
  absl::StatusOr<NewAccess> access = MakeAccess();
  ASSERT_TRUE(access.ok()) << access.status();
  const std::string record = EncodeGrants(access->grants);
  EXPECT_EQ(record.size(), crdt::kAccessChars);
  absl::StatusOr<Grants> back = DecodeGrants(record);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(Prove(*back, access->edit_secret), Capability::kEdit);
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

}  // namespace
}  // namespace shoplist::access
