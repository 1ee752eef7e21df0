// The smoke functions of the test module (core_driver_wasm.cc), also compiled
// natively by tests/wasm/wasm_smoke_native.cc, so that tests/wasm/smoke.mjs can
// require the module and the native build to give the same bytes. Each takes
// bytes and returns bytes; header-only, so that an entry file that does not
// include it builds nothing of it.
#ifndef SHOPLIST_TESTS_WASM_SMOKE_H_
#define SHOPLIST_TESTS_WASM_SMOKE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "access/capability.h"
#include "codec/list_codec.h"
#include "codec/operation.h"
#include "crdt/list_state.h"
#include "shoplist/v1/types.pb.h"
#include "text/text.h"

namespace shoplist::wasm_smoke {

// A writer and a clock that every run shares, so the bytes are the same.
inline constexpr crdt::ReplicaId kReplica = 0xA11CE;
inline constexpr uint64_t kNowMicros = 1'700'000'000'000'000;

// text::ItemKey.
inline absl::StatusOr<std::string> ItemKey(absl::string_view name) {
  return text::ItemKey(name);
}

// The encoded v1::ListState after one Add of `item` (count 2) to an empty
// list: ApplyOperation, EncodeState, SerializeAsString.
inline absl::StatusOr<std::string> StateAfterAdd(absl::string_view item) {
  crdt::ListState state;
  v1::Operation add;
  add.mutable_add()->set_item(std::string(item));
  add.mutable_add()->set_count(2);
  crdt::Writer writer(kReplica);
  absl::StatusOr<crdt::ListState> delta =
      codec::ApplyOperation(add, writer, kNowMicros, state);
  if (!delta.ok()) return delta.status();
  v1::ListState encoded;
  codec::EncodeState(state, &encoded);
  return encoded.SerializeAsString();
}

// The display order of a list: `lines` holds "name\tcategory" lines, each
// added once; the result is "category\tname" lines in ListState::View()
// order (the collation of names and categories).
inline absl::StatusOr<std::string> ViewOrder(absl::string_view lines) {
  crdt::ListState state;
  for (absl::string_view line :
       absl::StrSplit(lines, '\n', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(line, absl::MaxSplits('\t', 1));
    v1::Operation add;
    add.mutable_add()->set_item(std::string(parts.first));
    add.mutable_add()->set_count(1);
    add.mutable_add()->set_category(std::string(parts.second));
    crdt::Writer writer(kReplica);
    absl::StatusOr<crdt::ListState> delta =
        codec::ApplyOperation(add, writer, kNowMicros, state);
    if (!delta.ok()) return delta.status();
  }
  std::string out;
  for (const crdt::ItemView& item : state.View().items) {
    absl::StrAppend(&out, item.category, "\t", item.name, "\n");
  }
  return out;
}

// access::HashSecret in lowercase hex (libmd's SHA-256).
inline absl::StatusOr<std::string> HashSecret(absl::string_view secret) {
  std::string hex;
  for (uint8_t b : access::HashSecret(secret)) {
    absl::StrAppend(&hex, absl::Hex(b, absl::kZeroPad2));
  }
  return hex;
}

}  // namespace shoplist::wasm_smoke

#endif  // SHOPLIST_TESTS_WASM_SMOKE_H_
