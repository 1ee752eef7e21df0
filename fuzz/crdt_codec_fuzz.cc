// crdt_codec_fuzz: list states from bytes. The input holds two records
// (fuzz_support.h), each a serialized v1::ListState. A state that decodes
// must validate and survive the codec's round trip, and merge must be a
// join: idempotent, commutative and associative (with a second decoded
// state and a fixed one); DeltaSince must give a part of the state that
// carries its whole context.
#include <optional>
#include <string_view>

#include "codec/list_codec.h"
#include "crdt/list_state.h"
#include "fuzz/fuzz_support.h"
#include "shoplist/v1/types.pb.h"

namespace shoplist::fuzz {
namespace {

std::optional<crdt::ListState> Decode(std::string_view bytes) {
  v1::ListState message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return std::nullopt;
  }
  absl::StatusOr<crdt::ListState> state = codec::DecodeState(message);
  if (!state.ok()) return std::nullopt;
  return *std::move(state);
}

void CheckDelta(const crdt::ListState& state,
                const crdt::CausalContext& known) {
  const crdt::ListState delta = state.DeltaSince(known);
  FUZZ_CHECK_OK(delta.Validate());
  FUZZ_CHECK(Merged(state, delta) == state);
  if (!state.deleted()) FUZZ_CHECK(delta.context() == state.context());
  CheckRoundTrip(delta);
}

void CheckState(const crdt::ListState& state) {
  FUZZ_CHECK_OK(state.Validate());
  CheckRoundTrip(state);
  CheckView(state);
  FUZZ_CHECK(Merged(state, state) == state);
  // A peer that knows nothing gets everything; one that has seen the whole
  // context gets no item and no title.
  FUZZ_CHECK(state.DeltaSince(crdt::CausalContext()) == state);
  const crdt::ListState nothing = state.DeltaSince(state.context());
  FUZZ_CHECK(nothing.items().empty() && !nothing.title());
  CheckDelta(state, crdt::CausalContext());
  static const crdt::CausalContext* const kKnown =
      new crdt::CausalContext(SampleList().context());
  CheckDelta(state, *kKnown);
}

void CheckPair(const crdt::ListState& a, const crdt::ListState& b) {
  const crdt::ListState ab = Merged(a, b);
  FUZZ_CHECK(ab == Merged(b, a));
  FUZZ_CHECK_OK(ab.Validate());
  CheckRoundTrip(ab);
  // The join is an upper bound of both.
  FUZZ_CHECK(Merged(ab, a) == ab && Merged(ab, b) == ab);
  CheckDelta(a, b.context());
  CheckDelta(ab, a.context());
}

}  // namespace
}  // namespace shoplist::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoplist::fuzz;  // NOLINT: a fuzz entry point
  static const shoplist::crdt::ListState* const kFixed =
      new shoplist::crdt::ListState(ConcurrentList());
  RecordReader records(data, size);
  uint8_t tag;
  std::string_view bytes;
  if (!records.Next(tag, bytes)) return 0;
  std::optional<shoplist::crdt::ListState> a = Decode(bytes);
  if (!a) return 0;
  CheckState(*a);
  CheckPair(*a, *kFixed);
  if (!records.Next(tag, bytes)) return 0;
  std::optional<shoplist::crdt::ListState> b = Decode(bytes);
  if (!b) return 0;
  CheckState(*b);
  CheckPair(*a, *b);
  // Associativity, with the fixed state as the third.
  FUZZ_CHECK(Merged(Merged(*a, *b), *kFixed) ==
             Merged(*a, Merged(*b, *kFixed)));
  return 0;
}
