#include "access/capability.h"

#include <sha2.h>  // libmd: one SHA-256 for the native and wasm builds

#include <algorithm>
#include <initializer_list>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crdt/list_id.h"

namespace shoplist::access {
namespace {

// Binds the hash to its use: a secret hashed for another purpose, or by
// another version of this scheme, does not match.
constexpr absl::string_view kDomain = "shoplist capability secret v1\n";
constexpr absl::string_view kDeriveDomain = "shoplist capability derive v1\n";

// The one spelling of each capability: in links and in words.
struct Spelling {
  Capability capability;
  absl::string_view letter;
  absl::string_view name;
};
constexpr Spelling kSpellings[] = {{Capability::kRead, "r", "read"},
                                   {Capability::kEdit, "e", "edit"},
                                   {Capability::kOwner, "o", "owner"}};

const Spelling* SpellingOf(Capability capability) {
  for (const Spelling& s : kSpellings) {
    if (s.capability == capability) return &s;
  }
  return nullptr;
}

}  // namespace

absl::string_view CapabilityName(Capability capability) {
  const Spelling* spelling = SpellingOf(capability);
  return spelling != nullptr ? spelling->name : "none";
}

std::string FormatLink(const Link& link) {
  const Spelling* spelling = SpellingOf(link.capability);
  return absl::StrCat(link.list_id, "_",
                      spelling != nullptr ? spelling->letter : "?", "_",
                      link.secret);
}

absl::StatusOr<Link> ParseLink(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  std::vector<absl::string_view> parts = absl::StrSplit(text, '_');
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(
        "a link has the form <list id>_<r|e|o>_<secret>");
  }
  Link link;
  if (absl::Status s = crdt::ValidateListId(parts[0]); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the link's list id is wrong: ", s.message()));
  }
  link.list_id = std::string(parts[0]);
  for (const Spelling& spelling : kSpellings) {
    if (parts[1] == spelling.letter) link.capability = spelling.capability;
  }
  if (link.capability == Capability::kNone) {
    return absl::InvalidArgumentError(
        "the link's middle part must be r (read), e (edit) or o (owner)");
  }
  // Secrets are spelled like list ids.
  if (!crdt::ValidateListId(parts[2]).ok()) {
    return absl::InvalidArgumentError(
        "the link's secret must be 26 characters of a-z and 2-7");
  }
  link.secret = std::string(parts[2]);
  return link;
}

absl::StatusOr<std::string> NewSecret() { return crdt::NewListId(); }

namespace {

SecretHash Sha256(std::initializer_list<absl::string_view> parts) {
  static_assert(SecretHash().size() == SHA256_DIGEST_LENGTH);
  SHA2_CTX ctx;
  SHA256Init(&ctx);
  for (absl::string_view part : parts) {
    SHA256Update(&ctx, reinterpret_cast<const uint8_t*>(part.data()),
                 part.size());
  }
  SecretHash hash;
  SHA256Final(hash.data(), &ctx);
  return hash;
}

std::string Derive(absl::string_view parent, absl::string_view purpose,
                   uint32_t epoch) {
  const std::string at = absl::StrCat(purpose, "\n", epoch, "\n");
  const SecretHash hash = Sha256({kDeriveDomain, at, parent});
  std::array<uint8_t, 16> bits;
  std::copy(hash.begin(), hash.begin() + bits.size(), bits.begin());
  return crdt::SpellId(bits);
}

// An edit secret already stands for its epoch.
std::string ReadOf(absl::string_view edit_secret) {
  return Derive(edit_secret, "read", 0);
}

// The epoch whose edit secret `grants` holds, found from the owner secret.
absl::StatusOr<uint32_t> EpochOf(const Grants& grants,
                                 absl::string_view owner_secret) {
  for (uint32_t epoch = 1; epoch <= kMaxEpoch; ++epoch) {
    if (SameHash(HashSecret(Derive(owner_secret, "edit", epoch)),
                 grants.edit)) {
      return epoch;
    }
  }
  return absl::FailedPreconditionError(
      "this list's links were not made from its owner link");
}

}  // namespace

SecretHash HashSecret(absl::string_view secret) {
  return Sha256({kDomain, secret});
}

std::string ProofBytes(const SecretHash& hash) {
  return std::string(reinterpret_cast<const char*>(hash.data()), hash.size());
}

absl::StatusOr<SecretHash> ProofFromBytes(absl::string_view bytes) {
  SecretHash hash;
  if (bytes.size() != hash.size()) {
    return absl::InvalidArgumentError("a write's proof is 32 bytes");
  }
  std::copy(bytes.begin(), bytes.end(), hash.begin());
  return hash;
}

bool SameHash(const SecretHash& a, const SecretHash& b) {
  // Every byte is read whatever differs first: the volatile reads keep the
  // compiler from turning the loop into an early-exit memcmp.
  const volatile uint8_t* x = a.data();
  const volatile uint8_t* y = b.data();
  uint8_t difference = 0;
  for (size_t i = 0; i < a.size(); ++i) difference |= x[i] ^ y[i];
  return difference == 0;
}

std::string EncodeGrants(const Grants& grants) {
  std::string out;
  for (const SecretHash* hash : {&grants.read, &grants.edit, &grants.owner}) {
    for (uint8_t b : *hash)
      absl::StrAppend(&out, absl::Hex(b, absl::kZeroPad2));
  }
  return out;
}

absl::StatusOr<Grants> DecodeGrants(absl::string_view record) {
  Grants grants;
  SecretHash* hashes[] = {&grants.read, &grants.edit, &grants.owner};
  if (record.size() != sizeof hashes / sizeof hashes[0] * 64) {
    return absl::InvalidArgumentError("an access record is 192 hex digits");
  }
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  size_t at = 0;
  for (SecretHash* hash : hashes) {
    for (uint8_t& b : *hash) {
      int hi = digit(record[at]), lo = digit(record[at + 1]);
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError(
            "an access record holds lowercase hex digits only");
      }
      b = static_cast<uint8_t>(hi * 16 + lo);
      at += 2;
    }
  }
  return grants;
}

Capability Prove(const Grants& grants, const SecretHash& proof) {
  // Every comparison runs, so the time does not tell which one matched.
  const bool owner = SameHash(proof, grants.owner);
  const bool edit = SameHash(proof, grants.edit);
  const bool read = SameHash(proof, grants.read);
  if (owner) return Capability::kOwner;
  if (edit) return Capability::kEdit;
  if (read) return Capability::kRead;
  return Capability::kNone;
}

NewAccess AccessAt(absl::string_view owner_secret, uint32_t epoch) {
  NewAccess access;
  access.epoch = epoch;
  access.owner_secret = std::string(owner_secret);
  access.edit_secret = Derive(owner_secret, "edit", epoch);
  access.read_secret = ReadOf(access.edit_secret);
  access.grants.read = HashSecret(access.read_secret);
  access.grants.edit = HashSecret(access.edit_secret);
  access.grants.owner = HashSecret(access.owner_secret);
  return access;
}

absl::StatusOr<NewAccess> MakeAccess() {
  absl::StatusOr<std::string> owner = NewSecret();
  if (!owner.ok()) return owner.status();
  return AccessAt(*owner, 1);
}

absl::StatusOr<std::string> SecretFor(const Grants& grants,
                                      absl::string_view held,
                                      Capability wanted) {
  const Capability proven = Prove(grants, HashSecret(held));
  if (proven == Capability::kNone || wanted > proven) {
    return absl::PermissionDeniedError(
        absl::StrCat("a ", CapabilityName(proven), " link cannot give ",
                     CapabilityName(wanted), " links"));
  }
  if (wanted == proven) return std::string(held);
  if (proven == Capability::kEdit) return ReadOf(held);  // wanted is read
  absl::StatusOr<uint32_t> epoch = EpochOf(grants, held);
  if (!epoch.ok()) return epoch.status();
  NewAccess access = AccessAt(held, *epoch);
  return wanted == Capability::kEdit ? access.edit_secret : access.read_secret;
}

absl::StatusOr<NewAccess> Revoke(const Grants& grants,
                                 absl::string_view owner_secret) {
  if (Prove(grants, HashSecret(owner_secret)) != Capability::kOwner) {
    return absl::PermissionDeniedError(
        "revoking this list's links needs its owner link");
  }
  absl::StatusOr<uint32_t> epoch = EpochOf(grants, owner_secret);
  if (!epoch.ok()) return epoch.status();
  if (*epoch >= kMaxEpoch) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "this list was revoked ", kMaxEpoch, " times; make a new list"));
  }
  return AccessAt(owner_secret, *epoch + 1);
}

}  // namespace shoplist::access
