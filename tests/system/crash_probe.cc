// A program that crashes on purpose, for crash_stacks_test: it installs
// the servers' crash handler (services/common/crash_stacks.h), then
//   crash_probe null   writes through a null pointer in WriteThroughNull
//   crash_probe jump   calls from JumpToData to an address that holds no
//                      code, as a call through a freed object's vtable does
#include <cstdlib>
#include <cstring>

#include "services/common/crash_stacks.h"

namespace {

__attribute__((noinline)) void WriteThroughNull(volatile int* p) { *p = 1; }

__attribute__((noinline)) void JumpToData() {
  void* data = std::malloc(64);
  std::memset(data, 0, 64);
  reinterpret_cast<void (*)()>(data)();
  std::free(data);  // after the call, so that it is no tail jump
}

}  // namespace

int main(int argc, char** argv) {
  shoplist::InstallCrashStacks(argv[0]);
  if (argc > 1 && std::strcmp(argv[1], "jump") == 0) {
    JumpToData();
  } else {
    WriteThroughNull(nullptr);
  }
  return 0;
}
