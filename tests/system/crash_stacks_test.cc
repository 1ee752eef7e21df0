// A server that dies of a signal writes a stack that says where: the probe
// (crash_probe.cc) crashes with the servers' handler installed, and its
// stderr must name the function that crashed and the frames above it.
#include <string>

#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace shoplist {
namespace {

testing::CommandResult Crash(const std::string& how) {
  return testing::RunCommand({SHOPLIST_CRASH_PROBE, how}, absl::Seconds(30));
}

TEST(CrashStacksTest, ASegfaultPrintsTheStackThroughMain) {
  testing::CommandResult result = Crash("null");
  EXPECT_EQ(result.exit_code, 128 + 11);  // dies of the signal, after
  EXPECT_NE(result.err.find("SIGSEGV"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("WriteThroughNull"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find(" main\n"), std::string::npos) << result.err;
}

TEST(CrashStacksTest, AJumpToNoCodeIsUnwoundFromItsCaller) {
  // The PC itself names nothing; the caller and main must show.
  testing::CommandResult result = Crash("jump");
  EXPECT_EQ(result.exit_code, 128 + 11);
  EXPECT_NE(result.err.find("JumpToData"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(" main\n"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace shoplist
