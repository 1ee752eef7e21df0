// Child processes for system tests: started with fork/exec, output to a
// log file, and always stopped by PID (SIGKILL) when the object goes away,
// so no test leaves a server behind.
#ifndef SHOPLIST_TESTS_SUPPORT_PROCESS_H_
#define SHOPLIST_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace shoplist::testing {

class ChildProcess {
 public:
  // Starts `argv[0]` with `argv`; stdout and stderr go to `log_path`. With
  // `uid` >= 0 (the test runs as root), the child runs as that user and
  // group, so iptables can tell its packets apart (tests/support/partition.h).
  ChildProcess(std::vector<std::string> argv, std::string log_path,
               int uid = -1);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void Signal(int signal);
  // Waits up to `timeout` for exit; returns the exit code, 128+signal when
  // killed, or -1 when still running.
  int Wait(absl::Duration timeout);
  // SIGKILL and reap.
  void Kill();
  const std::string& log_path() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string log_path_;
};

struct CommandResult {
  int exit_code = -1;  // 128+signal when killed; -1 on time-out (killed)
  std::string out;
  std::string err;
};

// Runs `argv` to completion (killed after `timeout`), with `input` on its
// standard input, and returns its exit code and output.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         absl::Duration timeout, const std::string& input = "");

// A TCP port on 127.0.0.1 that was free a moment ago, outside the range
// the kernel gives outgoing connections. Thread-safe.
int FreePort();

// Polls `condition` every 20 ms until it is true or `timeout` passes.
bool WaitFor(absl::Duration timeout, const std::function<bool()>& condition);

// What the file at `path` holds now ("" when it does not exist): the log
// of a ChildProcess, read while it runs.
std::string ReadFile(const std::string& path);

}  // namespace shoplist::testing

#endif  // SHOPLIST_TESTS_SUPPORT_PROCESS_H_
