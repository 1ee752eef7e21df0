// The smoke entry of the WebAssembly module: a few functions of lib/ for
// tests/wasm/smoke.mjs. Each export reads `size` bytes at `input` (memory
// the caller got from _malloc) and returns 0 with its result in
// shoplist_result_data()/shoplist_result_size(), or 1 with the error
// message there. The result stays valid until the next call.
#include <emscripten/emscripten.h>

#include <cstddef>
#include <string>

#include "smoke.h"

namespace {

std::string& Result() {
  static std::string* result = new std::string;
  return *result;
}

int Run(absl::StatusOr<std::string> (*function)(absl::string_view),
        const char* input, size_t size) {
  absl::StatusOr<std::string> out = function(absl::string_view(input, size));
  Result() = out.ok() ? *std::move(out) : out.status().ToString();
  return out.ok() ? 0 : 1;
}

}  // namespace

extern "C" {

EMSCRIPTEN_KEEPALIVE const char* shoplist_result_data() {
  return Result().data();
}
EMSCRIPTEN_KEEPALIVE size_t shoplist_result_size() { return Result().size(); }

EMSCRIPTEN_KEEPALIVE int shoplist_item_key(const char* input, size_t size) {
  return Run(shoplist::wasm_smoke::ItemKey, input, size);
}
EMSCRIPTEN_KEEPALIVE int shoplist_state_after_add(const char* input,
                                                  size_t size) {
  return Run(shoplist::wasm_smoke::StateAfterAdd, input, size);
}
EMSCRIPTEN_KEEPALIVE int shoplist_view_order(const char* input, size_t size) {
  return Run(shoplist::wasm_smoke::ViewOrder, input, size);
}
EMSCRIPTEN_KEEPALIVE int shoplist_hash_secret(const char* input, size_t size) {
  return Run(shoplist::wasm_smoke::HashSecret, input, size);
}

}  // extern "C"
