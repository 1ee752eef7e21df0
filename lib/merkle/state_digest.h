// The digest of a list replica by what it reflects, not by its bytes:
// SHA-256 over a canonical encoding of its causal context (the version
// vector and the dot cloud, compacted, in order) and its tombstone flag.
//
// Why that is enough (docs/architecture.md, "Digests of the causal
// context"): every change to a list carries a dot, and a replica's state is
// the join of the deltas it merged, whose dots its context records; a dot
// names one change, made once, with one payload. Two replicas whose
// contexts hold the same dots have merged the same changes, so they hold
// the same state (deletion is the lattice's top: both flags must agree).
// A digest costs O(writers + gaps), not O(items), and needs no encoding of
// the state: a write to a long list no longer hashes the whole list.
//
// Replicas compare digests for anti-entropy (StateHash: the digest's first
// 8 bytes) and for digest reads, where two owners whose digests match count
// as holding the same state and only one sends it. SHA-256 keeps two
// different contexts from matching. What it cannot see is a dot reused
// with another payload: no client made by this project does that, but a
// writer with an edit link that forges one leaves copies that digest alike
// and differ; damage to a stored list outside its context is invisible
// too (both are in the issue-31 notes).
//
// Thread-safe: pure functions.
#ifndef SHOPLIST_MERKLE_STATE_DIGEST_H_
#define SHOPLIST_MERKLE_STATE_DIGEST_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "crdt/causal_context.h"

namespace shoplist::merkle {

// 32 bytes.
std::string StateDigest(const crdt::CausalContext& context, bool deleted);

// The first 8 bytes of a digest, little-endian: the anti-entropy index's
// hash of a list. REQUIRES: digest.size() >= 8.
uint64_t StateHash(absl::string_view digest);

}  // namespace shoplist::merkle

#endif  // SHOPLIST_MERKLE_STATE_DIGEST_H_
