// operation_fuzz: a v1::Operation from bytes, applied as the Apply RPC
// does (codec::ApplyOperation) to three small states (new, in use,
// deleted) by a writer the state knows and by a node with a reserved
// counter. A refused operation leaves the state unchanged; an accepted one
// gives a valid state and a delta that replicas accept, that brings the old
// state to the new one and that converges with a concurrent replica.
#include <cstdint>

#include "codec/operation.h"
#include "crdt/list_state.h"
#include "fuzz/fuzz_support.h"
#include "shoplist/v1/list_service.pb.h"

namespace shoplist::fuzz {
namespace {

constexpr crdt::ReplicaId kNode = 0x90DE;

void CheckApply(const v1::Operation& operation, const crdt::ListState& before,
                crdt::Writer writer) {
  crdt::ListState state = before;
  absl::StatusOr<crdt::ListState> delta =
      codec::ApplyOperation(operation, writer, kNowMicros, state);
  if (!delta.ok()) {
    FUZZ_CHECK(state == before);
    return;
  }
  FUZZ_CHECK(!before.deleted() || operation.has_delete_());
  FUZZ_CHECK_OK(state.Validate());
  FUZZ_CHECK_OK(delta->Validate());
  CheckRoundTrip(state);
  CheckRoundTrip(*delta);
  CheckView(state);
  FUZZ_CHECK(Merged(before, *delta) == state);
  FUZZ_CHECK(Merged(state, *delta) == state);
  if (delta->title() || !delta->items().empty()) {
    FUZZ_CHECK(state.context().Max(writer.replica) >= writer.reserved_counter);
    FUZZ_CHECK(state.context().Max(writer.replica) >
               before.context().Max(writer.replica));
  }
  // A replica that changed the list concurrently converges with this one,
  // whatever order the delta and the old state reach it in.
  static const crdt::ListState* const kOther =
      new crdt::ListState(ConcurrentList());
  FUZZ_CHECK(Merged(Merged(*kOther, *delta), before) == Merged(*kOther, state));
}

}  // namespace
}  // namespace shoplist::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoplist::fuzz;  // NOLINT: a fuzz entry point
  shoplist::v1::Operation operation;
  if (!operation.ParseFromArray(data, static_cast<int>(size))) return 0;
  static const shoplist::crdt::ListState* const kStates[] = {
      new shoplist::crdt::ListState(),
      new shoplist::crdt::ListState(SampleList()),
      new shoplist::crdt::ListState(shoplist::crdt::ListState::Tombstone()),
  };
  for (const shoplist::crdt::ListState* state : kStates) {
    CheckApply(operation, *state, kAlice);
    CheckApply(operation, *state, shoplist::crdt::Writer(kNode, 7));
  }
  return 0;
}
