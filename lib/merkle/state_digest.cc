#include "merkle/state_digest.h"

#include <openssl/sha.h>

namespace shoplist::merkle {
namespace {

void Put64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

}  // namespace

std::string StateDigest(const crdt::CausalContext& context, bool deleted) {
  // A fixed layout: a version tag, the flag, then each part's length and
  // its entries in order (the maps are sorted, the context compacted).
  std::string canonical = "shoplist.context.v1";
  canonical.push_back(deleted ? 1 : 0);
  Put64(canonical, context.vector().size());
  for (const auto& [replica, counter] : context.vector()) {
    Put64(canonical, replica);
    Put64(canonical, counter);
  }
  Put64(canonical, context.cloud().size());
  for (const crdt::Dot& dot : context.cloud()) {
    Put64(canonical, dot.replica);
    Put64(canonical, dot.counter);
  }
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  // One-shot SHA256 cannot fail: it has no context to allocate.
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()),
         canonical.size(), reinterpret_cast<unsigned char*>(digest.data()));
  return digest;
}

uint64_t StateHash(absl::string_view digest) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(digest[i]);
  }
  return v;
}

}  // namespace shoplist::merkle
