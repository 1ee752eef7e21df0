// Operations on a list as people ask for them: the server-side Apply RPC
// and every change the client makes go through ApplyOperation, so names
// are cleaned and checked the same way everywhere.
#ifndef SHOPLIST_CODEC_OPERATION_H_
#define SHOPLIST_CODEC_OPERATION_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crdt/list_state.h"
#include "shoplist/v1/list_service.pb.h"

namespace shoplist::codec {

// An item name or title as typed, cleaned: leading and trailing Unicode
// blanks trimmed. INVALID_ARGUMENT when nothing is left ("<what> is empty",
// or "<what> is only blanks"), or when the result breaks ValidateName
// (too long, not UTF-8). `what` names the field in the message.
absl::StatusOr<std::string> CleanName(absl::string_view typed,
                                      absl::string_view what);

// Applies `operation` to `state` as `writer` and returns the delta. The
// item name or title is cleaned first (CleanName), so "  milk " is milk
// and a blank name is refused. Other errors are ListState's; an operation
// with no kind is INVALID_ARGUMENT. Thread-compatible, like ListState.
absl::StatusOr<crdt::ListState> ApplyOperation(const v1::Operation& operation,
                                               crdt::Writer writer,
                                               uint64_t now_micros,
                                               crdt::ListState& state);

}  // namespace shoplist::codec

#endif  // SHOPLIST_CODEC_OPERATION_H_
