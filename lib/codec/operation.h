// Applies a protobuf Operation (the server-side Apply RPC) to a list state.
#ifndef SHOPLIST_CODEC_OPERATION_H_
#define SHOPLIST_CODEC_OPERATION_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "crdt/list_state.h"
#include "shoplist/v1/list_service.pb.h"

namespace shoplist::codec {

// Applies `operation` to `state` as `writer` and returns the delta. The
// errors are ListState's; an operation with no kind is INVALID_ARGUMENT.
absl::StatusOr<crdt::ListState> ApplyOperation(const v1::Operation& operation,
                                               crdt::Writer writer,
                                               uint64_t now_micros,
                                               crdt::ListState& state);

}  // namespace shoplist::codec

#endif  // SHOPLIST_CODEC_OPERATION_H_
