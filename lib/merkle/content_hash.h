// Hashes of a list's stored bytes: equal bytes hash equally on every node
// and build, so replicas compare hashes instead of states.
//
// ContentHash: 64 bits, for anti-entropy digests. It reads eight bytes per
// step (every commit hashes the whole stored state, so byte-at-a-time FNV
// cost ~3% of a node's CPU); it is not cryptographic and not a ring
// position (that is ring::StableHash).
//
// ContentDigest: SHA-256, for digest reads, where two replicas whose
// digests match count as holding the same state and only one sends it. A
// collision there would answer a read without a write, so it must not be
// craftable by someone who writes item names.
//
// Thread-safe: pure functions.
#ifndef SHOPLIST_MERKLE_CONTENT_HASH_H_
#define SHOPLIST_MERKLE_CONTENT_HASH_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace shoplist::merkle {

uint64_t ContentHash(absl::string_view bytes);

// 32 bytes.
std::string ContentDigest(absl::string_view bytes);

}  // namespace shoplist::merkle

#endif  // SHOPLIST_MERKLE_CONTENT_HASH_H_
