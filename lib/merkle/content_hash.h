// A 64-bit hash of a list's stored bytes, for anti-entropy digests: equal
// bytes hash equally on every node and build, so replicas can compare
// digests. It reads eight bytes per step (every commit hashes the whole
// stored state, so byte-at-a-time FNV cost ~3% of a node's CPU); it is not
// cryptographic and not a ring position (that is ring::StableHash).
#ifndef SHOPLIST_MERKLE_CONTENT_HASH_H_
#define SHOPLIST_MERKLE_CONTENT_HASH_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace shoplist::merkle {

uint64_t ContentHash(absl::string_view bytes);

}  // namespace shoplist::merkle

#endif  // SHOPLIST_MERKLE_CONTENT_HASH_H_
