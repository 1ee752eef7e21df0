// The native side of the golden and randomized tests: CoreDriver commands
// on stdin, one JSON object a line; one answer a line on stdout.
#include <iostream>
#include <string>

#include "tests/wasm/core_driver.h"

int main() {
  shoplist::testing::CoreDriver driver;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    std::cout << driver.Call(line)
              << std::endl;  // flushed: answers are awaited
  }
  return 0;
}
