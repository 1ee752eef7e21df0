// The test module's entry (tests/wasm/): the CoreDriver of the golden and
// randomized tests, and the smoke functions (smoke.h), over the same
// result buffer as the core's module (clients/wasm/module.cc).
#include <emscripten/emscripten.h>

#include <cstddef>
#include <string>

#include "tests/wasm/core_driver.h"
#include "tests/wasm/smoke.h"

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

// One CoreDriver command (a NUL-terminated JSON line); the answer stays
// valid until the next call.
EMSCRIPTEN_KEEPALIVE const char* driver_call(const char* line) {
  static shoplist::testing::CoreDriver* driver =
      new shoplist::testing::CoreDriver;
  Result() = driver->Call(line);
  return Result().c_str();
}

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
