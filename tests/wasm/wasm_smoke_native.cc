// The native side of tests/wasm/smoke.mjs: the smoke entry's functions
// (clients/wasm/smoke.h) on the native build. Reads lines
// "<function> <input in hex>" on stdin and answers each with a line
// "ok <output in hex>" or "error <message>".
#include <iostream>
#include <string>

#include "absl/strings/escaping.h"
#include "tests/wasm/smoke.h"

namespace smoke = shoplist::wasm_smoke;

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    const size_t space = line.find(' ');
    const std::string name = line.substr(0, space);
    const std::string input = absl::HexStringToBytes(
        space == std::string::npos ? "" : line.substr(space + 1));
    absl::StatusOr<std::string> out =
        absl::InvalidArgumentError("no function " + name);
    if (name == "item_key") out = smoke::ItemKey(input);
    if (name == "state_after_add") out = smoke::StateAfterAdd(input);
    if (name == "view_order") out = smoke::ViewOrder(input);
    if (name == "hash_secret") out = smoke::HashSecret(input);
    if (out.ok()) {
      std::cout << "ok " << absl::BytesToHexString(*out) << "\n";
    } else {
      std::cout << "error " << out.status() << "\n";
    }
  }
  return 0;
}
