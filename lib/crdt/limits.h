// The limits of shoplist's data, in one place. Every boundary that takes
// input (CLI arguments, RPC handlers, decoders) checks against these.
#ifndef SHOPLIST_CRDT_LIMITS_H_
#define SHOPLIST_CRDT_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace shoplist::crdt {

// Item names and list titles: bytes of valid UTF-8.
inline constexpr size_t kMaxNameBytes = 256;
// A note on an item: bytes of valid UTF-8.
inline constexpr size_t kMaxNoteBytes = 1024;
// Categories in a list's aisle order.
inline constexpr size_t kMaxAisles = 64;
// An access record: three SHA-256 hashes in lowercase hex (a proto3 string
// must be UTF-8), read, edit, owner (access/capability.h).
inline constexpr size_t kAccessChars = 192;
// Items currently on a list.
inline constexpr size_t kMaxItems = 10'000;
// Items a stored state may hold, removed ones included (a removed item
// keeps a small record so concurrent additions keep their meaning).
inline constexpr size_t kMaxStoredItems = 2 * kMaxItems;
// Writers (replica ids) one list state may reference.
inline constexpr size_t kMaxReplicas = 100'000;
// The count of one operation (add, remove, buy).
inline constexpr int64_t kMaxOperationCount = 1'000'000;
// Bound on any cumulative quantity in a state; far above what operations
// can reach, low enough that sums over kMaxReplicas cannot overflow.
inline constexpr int64_t kMaxAbsQuantity = int64_t{1} << 40;
// Largest message a server accepts or sends.
inline constexpr int kMaxMessageBytes = 4 << 20;

}  // namespace shoplist::crdt

#endif  // SHOPLIST_CRDT_LIMITS_H_
