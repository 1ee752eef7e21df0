// Operations on a list as people ask for them: the server-side Apply RPC
// and every change the client makes go through ApplyOperation, so names
// are cleaned and checked the same way everywhere.
#ifndef SHOPLIST_CODEC_OPERATION_H_
#define SHOPLIST_CODEC_OPERATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crdt/list_diff.h"
#include "crdt/list_state.h"
#include "shoplist/v1/list_service.pb.h"

namespace shoplist::codec {

// An item name, title or category as typed, cleaned (text::CleanSpace:
// NFC, trimmed, inner blanks collapsed). INVALID_ARGUMENT for bytes that
// are not UTF-8, and when nothing is left ("<what> is empty",
// or "<what> is only blanks"), or when the result breaks ValidateName
// (too long, not UTF-8). `what` names the field in the message.
absl::StatusOr<std::string> CleanName(absl::string_view typed,
                                      absl::string_view what);
// A note as typed: trimmed (inner line breaks kept); INVALID_ARGUMENT past
// kMaxNoteBytes or for bytes that are not UTF-8.
absl::StatusOr<std::string> CleanNote(absl::string_view typed);

// Applies `operation` to `state` as `writer` at `now_micros` (the
// writer's clock, which times the change) and returns the delta. Names,
// titles and categories are cleaned first (CleanName), so "  milk " is
// milk and a blank name is refused; a blank category means the default. Other
// errors are ListState's; an operation with no kind is INVALID_ARGUMENT.
// Thread-compatible, like ListState.
absl::StatusOr<crdt::ListState> ApplyOperation(const v1::Operation& operation,
                                               crdt::Writer writer,
                                               uint64_t now_micros,
                                               crdt::ListState& state);

// How many dots ApplyOperation(operation, ..., state) makes: what a writer
// that reserves counters durably must reserve (one, or the number of items
// a clear takes off). Never 0.
uint64_t DotsNeeded(const v1::Operation& operation,
                    const crdt::ListState& state);

// The operations that take back what `diff` (one change of one writer,
// crdt::Diff) did, applied as one new change: fewer or more wanted or
// bought by the amounts it changed, an item it added taken off when
// nothing else is wanted of it, an item it took off back with the
// quantities, note and category it had, a note, category, aisle order or
// title back to its earlier value. Relative amounts are what let an undo
// merge like any change: if A adds 2 and B concurrently adds 1, A's undo
// leaves 1. Empty when there is nothing to take back (creating a list).
std::vector<v1::Operation> UndoOperations(const crdt::ListDiff& diff);

}  // namespace shoplist::codec

#endif  // SHOPLIST_CODEC_OPERATION_H_
