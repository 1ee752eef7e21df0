// A consistent-hashing ring with virtual nodes, as in Dynamo (DeCandia et
// al., SOSP 2007). Each member owns `vnodes` tokens on a 64-bit ring; a key
// sits at StableHash(key) and its owners are the first n distinct members
// met walking clockwise from there. The ring is a pure, deterministic
// function of (membership, vnodes): every process that holds the same
// members computes the same owners, whatever order it learned them in.
//
// Members carry an `up` flag. Owners() ignores it; PreferenceList() uses it
// for a sloppy quorum, in which an up member past the owners stands in for
// each down owner and keeps the write as a hint for it.
//
// Lookups cost O(log tokens) plus the clockwise walk. A Ring is immutable
// once built, so concurrent const use is safe; build a new one when the
// membership changes. Pointers it returns live as long as the Ring.
#ifndef SHOPLIST_RING_RING_H_
#define SHOPLIST_RING_RING_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shoplist::ring {

struct Member {
  std::string id;
  std::string address;
  bool up = true;

  friend bool operator==(const Member&, const Member&) = default;
};

// One replica placement for a key. `intended_owner` is empty when `node_id`
// is one of the key's n owners; otherwise it is the id of the down owner
// this node stands in for (sloppy quorum, hinted hand-off).
struct Placement {
  std::string node_id;
  std::string address;
  std::string intended_owner;

  friend bool operator==(const Placement&, const Placement&) = default;
};

// A range of ring positions (start, end], wrapping past 2^64 - 1 to 0 when
// start > end. start == end denotes the whole ring.
using TokenRange = std::pair<uint64_t, uint64_t>;

// True when `position` lies in `range` (see TokenRange).
bool RangeContains(const TokenRange& range, uint64_t position);

class Ring;

// How much of the ring one member holds: the fraction of all ring
// positions (so of keys, hashed evenly) for which it is the first owner,
// and for which it is among the n owners.
struct Share {
  std::string id;
  double primary = 0;
  double replica = 0;
};

// Every member's share, in member order. The primary shares sum to 1 and
// the replica shares to min(n, members); empty for an empty ring. Down
// members count: they keep their positions until they are removed.
std::vector<Share> Shares(const Ring& ring, size_t n);

class Ring {
 public:
  // The empty ring: no owners for any key.
  Ring() = default;

  // Members may come in any order; they are kept sorted by id. When ids
  // repeat, the last occurrence in `members` wins. `vnodes` is the number
  // of tokens per member; 0 is treated as 1. Token i of member m is
  // StableHash(m.id + "#" + std::to_string(i)); equal tokens are ordered by
  // member id.
  Ring(std::vector<Member> members, uint32_t vnodes);

  // Like the constructor, but strict: INVALID_ARGUMENT on vnodes == 0, an
  // empty member id, or a repeated id.
  static absl::StatusOr<Ring> Create(std::vector<Member> members,
                                     uint32_t vnodes);

  // Position of a key on the ring: StableHash(key).
  static uint64_t KeyPosition(absl::string_view key);

  // The key's n owners: the first n distinct members clockwise from its
  // position (the first token >= position, wrapping), up or down. Fewer
  // than n when the ring has fewer members.
  std::vector<const Member*> Owners(absl::string_view key, size_t n) const;

  // The sloppy-quorum preference list for the key; its first element is the
  // coordinator. Walking as Owners() does, the first n distinct members are
  // the owners. An owner that is up appears as itself. Each owner that is
  // down is replaced, in its own position, by the next up member past the
  // first n distinct members (continuing clockwise, each used once), with
  // intended_owner set to the down owner's id; when up members run out the
  // down owner is dropped. So the list has at most n entries, all up and
  // distinct.
  std::vector<Placement> PreferenceList(absl::string_view key, size_t n) const;

  // The ranges of the ring for whose keys member `id` is among the n owners,
  // in ring order; adjacent ranges are merged. Empty when `id` is not a
  // member or n == 0. Used by anti-entropy to pick the keys to compare.
  std::vector<TokenRange> RangesOf(absl::string_view id, size_t n) const;

  // All members, sorted by id.
  const std::vector<Member>& members() const { return members_; }
  // The member with this id, or nullptr.
  const Member* Find(absl::string_view id) const;
  uint32_t vnodes() const { return vnodes_; }
  bool empty() const { return members_.empty(); }

 private:
  // Indices into members_, in clockwise order.
  using MemberIndices = absl::InlinedVector<uint32_t, 8>;

  struct Token {
    uint64_t value;
    uint32_t member;  // index into members_
  };

  // Index into tokens_ of the first token >= position, wrapping to 0.
  size_t FirstTokenAt(uint64_t position) const;
  // Walks clockwise from tokens_[start], appending distinct members to
  // `out` until it holds `count` of them or the walk has gone all round.
  void CollectDistinct(size_t start, size_t count, MemberIndices* out) const;

  std::vector<Member> members_;  // sorted by id, ids unique
  std::vector<Token> tokens_;    // sorted by (value, member)
  uint32_t vnodes_ = 0;
};

}  // namespace shoplist::ring

#endif  // SHOPLIST_RING_RING_H_
