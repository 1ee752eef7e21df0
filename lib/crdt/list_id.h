// List ids: 128 bits from the operating system's cryptographic random
// source, written as 26 characters of lowercase RFC 4648 base32 without
// padding. Knowing the id is what grants access to a list, so ids must be
// unguessable.
#ifndef SHOPLIST_CRDT_LIST_ID_H_
#define SHOPLIST_CRDT_LIST_ID_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shoplist::crdt {

inline constexpr size_t kListIdLength = 26;

// A fresh random id. Fails only if the kernel's random source does.
absl::StatusOr<std::string> NewListId();
// 128 bits spelled as NewListId spells its random ones (26 characters).
std::string SpellId(const std::array<uint8_t, 16>& bits);
// INVALID_ARGUMENT unless `id` has the form NewListId() produces.
absl::Status ValidateListId(absl::string_view id);
// A random 64-bit replica id from the same source; never 0.
absl::StatusOr<uint64_t> NewReplicaId();
// Fills `size` bytes at `buffer` from the same source.
absl::Status FillRandom(void* buffer, size_t size);

}  // namespace shoplist::crdt

#endif  // SHOPLIST_CRDT_LIST_ID_H_
