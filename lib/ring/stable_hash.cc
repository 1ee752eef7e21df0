#include "ring/stable_hash.h"

namespace shoplist::ring {
namespace {

constexpr uint64_t kFnvOffsetBasis = 14695981039346656037ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

}  // namespace

uint64_t Fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

uint64_t StableHash(absl::string_view key) {
  uint64_t h = kFnvOffsetBasis;
  for (char c : key) {
    h ^= static_cast<uint8_t>(c);
    h *= kFnvPrime;
  }
  return Fmix64(h);
}

}  // namespace shoplist::ring
