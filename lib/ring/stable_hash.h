// A hash that is a fixed function of its input bytes: identical on every
// machine, process and build, so that every node and proxy places a key on
// the same point of the ring. Do not replace it with absl::Hash or
// std::hash, which are salted per process or differ between libraries.
//
// The function is 64-bit FNV-1a over the bytes of `key`, followed by the
// MurmurHash3 fmix64 finalizer so that every input bit affects every output
// bit (FNV-1a alone clusters similar strings such as "node-1#0", "node-1#1").
// Changing it moves every key: treat it as part of the on-disk format.
#ifndef SHOPLIST_RING_STABLE_HASH_H_
#define SHOPLIST_RING_STABLE_HASH_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace shoplist::ring {

uint64_t StableHash(absl::string_view key);

// MurmurHash3's 64-bit finalizer: a bijection in which every input bit
// reaches every output bit. StableHash ends with it; the anti-entropy
// digests (merkle/) use it to spread their inputs. Fixed for the same
// reason as StableHash.
uint64_t Fmix64(uint64_t k);

}  // namespace shoplist::ring

#endif  // SHOPLIST_RING_STABLE_HASH_H_
