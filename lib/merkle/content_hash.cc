#include "merkle/content_hash.h"

#include <openssl/sha.h>

#include <cstring>

#include "ring/stable_hash.h"

namespace shoplist::merkle {
namespace {

// xxHash64's primes and round; one lane is enough for a few KiB.
constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t kPrime3 = 0x165667B19E3779F9ULL;

uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

uint64_t Round(uint64_t h, uint64_t word) {
  return Rotl(h ^ (word * kPrime2), 31) * kPrime1;
}

// Little-endian load, so the hash does not depend on the host's byte order.
uint64_t Load64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

uint64_t ContentHash(absl::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  uint64_t h = kPrime3 + n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) h = Round(h, Load64(p + i));
  if (i < n) {
    unsigned char tail[8] = {};
    std::memcpy(tail, p + i, n - i);
    h = Round(h, Load64(tail) ^ (uint64_t{n - i} << 59));
  }
  return ring::Fmix64(h);
}

std::string ContentDigest(absl::string_view bytes) {
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  // One-shot SHA256 cannot fail: it has no context to allocate.
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
         reinterpret_cast<unsigned char*>(digest.data()));
  return digest;
}

}  // namespace shoplist::merkle
