// What the golden and randomized tests drive in both builds (natively in
// core_driver_main.cc, in WebAssembly through core_driver_wasm.cc): several
// homes, each a CoreSession with its own store of records, and a cloud
// that stands for the list service. One JSON command per call:
//   {"home": h, "cmd": ...}      a CoreSession command on home h; the
//                                answer's writes are committed to h's store
//   {"home": h, "do": "reload"}  h's core reloaded from its store alone
//   {"home": h, "do": "dump"}    h's records: {"records": {key: base64}}
//   {"cloud": "sync", "request": base64}
//                                the cloud's answer to a sync request,
//                                {"answer": {"kind", "reply"?}}: the delta
//                                merged, what the home lacks sent back
//                                (NOT_FOUND for an id never created)
// The cloud checks no access: the tests are about the client.
// Not thread-safe.
#ifndef SHOPLIST_TESTS_WASM_CORE_DRIVER_H_
#define SHOPLIST_TESTS_WASM_CORE_DRIVER_H_

#include <map>
#include <memory>
#include <string>

#include "clients/core/core_session.h"
#include "crdt/list_state.h"

namespace shoplist::testing {

class CoreDriver {
 public:
  std::string Call(const std::string& line);

 private:
  struct Home {
    std::unique_ptr<client::CoreSession> session =
        std::make_unique<client::CoreSession>();
    std::map<std::string, std::string> records;
  };
  client::Json CallHome(Home& home, const client::Json& command);
  client::Json CloudSync(const std::string& request);
  void Commit(Home& home, const client::Json& writes);

  std::map<std::string, Home> homes_;
  std::map<std::string, crdt::ListState> cloud_;
};

}  // namespace shoplist::testing

#endif  // SHOPLIST_TESTS_WASM_CORE_DRIVER_H_
