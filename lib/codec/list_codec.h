// Conversion between the CRDT core's types and their protobuf messages:
// the one place that knows both. Decoding validates everything a peer or
// client could get wrong, so code past a successful decode can trust the
// data; failures are INVALID_ARGUMENT naming the problem.
#ifndef SHOPLIST_CODEC_LIST_CODEC_H_
#define SHOPLIST_CODEC_LIST_CODEC_H_

#include "absl/status/statusor.h"
#include "crdt/causal_context.h"
#include "crdt/list_state.h"
#include "shoplist/v1/types.pb.h"

namespace shoplist::codec {

// Writes `state` into `out` (cleared first). Equal states encode to equal
// bytes: replicas, items and entries are written in sorted order.
void EncodeState(const crdt::ListState& state, v1::ListState* out);
absl::StatusOr<crdt::ListState> DecodeState(const v1::ListState& in);
// The access record of a state (unset for an open list). Only the record
// itself is checked (its replica index and dot), not the rest of the
// state: for bytes this node stored, which were a valid state.
absl::StatusOr<crdt::Register> DecodeAccess(const v1::ListStateAccess& in);

void EncodeContext(const crdt::CausalContext& context, v1::CausalContext* out);
absl::StatusOr<crdt::CausalContext> DecodeContext(const v1::CausalContext& in);

void EncodeView(const crdt::ListView& view, v1::ListView* out);

}  // namespace shoplist::codec

#endif  // SHOPLIST_CODEC_LIST_CODEC_H_
