// Linked into every fuzz target: protobuf logs each string field that is
// not valid UTF-8, which floods the output and slows the run.
#include "google/protobuf/stubs/logging.h"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}
