// Node ids: stable names chosen by operators ("node-0"), used in ring
// tokens, hint keys and logs.
#ifndef SHOPLIST_RING_NODE_ID_H_
#define SHOPLIST_RING_NODE_ID_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace shoplist::ring {

// INVALID_ARGUMENT unless `id` is 1..64 characters of [A-Za-z0-9._-].
absl::Status ValidateNodeId(absl::string_view id);

}  // namespace shoplist::ring

#endif  // SHOPLIST_RING_NODE_ID_H_
