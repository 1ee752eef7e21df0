// The client core in WebAssembly: the exports behind shoplist_core.mjs.
// One CoreSession (clients/core/core_session.h) per home; JavaScript
// passes UTF-8 bytes it wrote into memory from _malloc, and reads each
// answer from shoplist_result_data()/shoplist_result_size(), valid until
// the next call. Single-threaded, as the JavaScript that calls it.
#include <emscripten/emscripten.h>

#include <cstddef>
#include <string>

#include "clients/core/core_session.h"

namespace {

std::string& Result() {
  static std::string* result = new std::string;
  return *result;
}

}  // namespace

extern "C" {

EMSCRIPTEN_KEEPALIVE const char* shoplist_result_data() {
  return Result().data();
}
EMSCRIPTEN_KEEPALIVE size_t shoplist_result_size() { return Result().size(); }

// A home's core; `name` is the person's name while none is set.
EMSCRIPTEN_KEEPALIVE shoplist::client::CoreSession* shoplist_session_new(
    const char* name, size_t size) {
  return new shoplist::client::CoreSession(absl::string_view(name, size));
}

EMSCRIPTEN_KEEPALIVE void shoplist_session_free(
    shoplist::client::CoreSession* session) {
  delete session;
}

// One command (JSON text); its answer is the result.
EMSCRIPTEN_KEEPALIVE void shoplist_session_call(
    shoplist::client::CoreSession* session, const char* command, size_t size) {
  Result() = session->Call(absl::string_view(command, size));
}

}  // extern "C"
