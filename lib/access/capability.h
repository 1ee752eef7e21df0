// Capabilities of a list: what knowing a secret lets its holder do.
//
// Model. A list has three secrets, one per capability, each ordered above
// the one before it:
//   - read:  see the list and watch it;
//   - edit:  read, and change the items and the title;
//   - owner: edit, and change who may do what (new links, revocation).
// A secret is 128 bits, written like a list id (26 base32 characters). A
// link is the one string a person shares: "<list id>_<r|e|o>_<secret>", so
// that a double tap selects all of it. Servers keep only Grants, the
// SHA-256 hashes of the secrets (domain-separated), and compare them in
// constant time, so a copy of a node's disk does not hand out access.
//
// Epochs. The owner secret is random (the kernel's source); the others are
// derived from it, so that every owner can hand out the current links:
//   edit(e) = Derive(owner, "edit", e),  read(e) = Derive(edit(e), "read").
// Revoking moves to epoch e + 1: new read and edit secrets, the same owner.
// An edit holder can thus give read links, and nobody can climb up the
// chain. Two owners who revoke at once write the same grants.
//
// Pure: no I/O beyond the kernel's random source, no gRPC, no disk.
// Thread-safe (free functions over values).
#ifndef SHOPLIST_ACCESS_CAPABILITY_H_
#define SHOPLIST_ACCESS_CAPABILITY_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shoplist::access {

// Ordered: each includes the ones below it.
enum class Capability { kNone = 0, kRead = 1, kEdit = 2, kOwner = 3 };

// "none", "read", "edit" or "owner": the words of the CLI and --json.
absl::string_view CapabilityName(Capability capability);

struct Link {
  std::string list_id;
  Capability capability = Capability::kNone;
  std::string secret;
};

// "<list id>_<r|e|o>_<secret>". REQUIRES: a valid list id and secret, and a
// capability other than kNone.
std::string FormatLink(const Link& link);

// The link `text` spells (surrounding blanks ignored). INVALID_ARGUMENT,
// naming the part that is wrong, for anything FormatLink cannot produce.
absl::StatusOr<Link> ParseLink(absl::string_view text);

// A fresh secret. Fails only if the kernel's random source does.
absl::StatusOr<std::string> NewSecret();

using SecretHash = std::array<uint8_t, 32>;

// SHA-256 of a fixed domain label and `secret`: what servers store.
SecretHash HashSecret(absl::string_view secret);

// A hash as it travels in StoreRequest.proof (32 bytes), and back:
// INVALID_ARGUMENT for anything of another size.
std::string ProofBytes(const SecretHash& hash);
absl::StatusOr<SecretHash> ProofFromBytes(absl::string_view bytes);

// Whether `a` and `b` are equal, in time independent of where they differ.
bool SameHash(const SecretHash& a, const SecretHash& b);

// The hashes a list's access record holds.
struct Grants {
  SecretHash read{};
  SecretHash edit{};
  SecretHash owner{};
};

// Grants as a list state's access record holds them (crdt::kAccessChars
// lowercase hex digits: read, edit, owner), and back. DecodeGrants is
// INVALID_ARGUMENT for anything EncodeGrants cannot produce.
std::string EncodeGrants(const Grants& grants);
absl::StatusOr<Grants> DecodeGrants(absl::string_view record);

// The strongest capability the secret whose hash is `proof` proves under
// `grants`; kNone when it matches none. Compares against every hash,
// whatever matches.
Capability Prove(const Grants& grants, const SecretHash& proof);

// The secrets of one epoch of a list's access.
struct NewAccess {
  Grants grants;
  uint32_t epoch = 1;
  std::string read_secret;
  std::string edit_secret;
  std::string owner_secret;
};
// A new list's access: a fresh owner secret, epoch 1. Fails only if the
// kernel's random source does.
absl::StatusOr<NewAccess> MakeAccess();
// The access of `owner_secret` at `epoch` (>= 1).
NewAccess AccessAt(absl::string_view owner_secret, uint32_t epoch);

// Revocations a list can go through: finding the epoch is a search.
inline constexpr uint32_t kMaxEpoch = 10000;

// The secret of capability `wanted` that `held` (a secret `grants` proves
// something for) may hand out at the grants' epoch. Errors:
// PERMISSION_DENIED when `wanted` is above what `held` proves, or `held`
// proves nothing; FAILED_PRECONDITION when the grants were not derived
// from their owner secret (no epoch up to kMaxEpoch matches).
absl::StatusOr<std::string> SecretFor(const Grants& grants,
                                      absl::string_view held,
                                      Capability wanted);

// The access after revoking `grants`: the next epoch of `owner_secret`.
// Errors: PERMISSION_DENIED unless `owner_secret` proves kOwner; those of
// SecretFor; RESOURCE_EXHAUSTED past kMaxEpoch.
absl::StatusOr<NewAccess> Revoke(const Grants& grants,
                                 absl::string_view owner_secret);

}  // namespace shoplist::access

#endif  // SHOPLIST_ACCESS_CAPABILITY_H_
