#include "tests/support/process.h"

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace shoplist::testing {

ChildProcess::ChildProcess(std::vector<std::string> argv, std::string log_path,
                           int uid)
    : log_path_(std::move(log_path)) {
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    // Children must not inherit blocked signals from the test runner.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (uid >= 0 &&
        (setgroups(0, nullptr) != 0 || setgid(uid) != 0 || setuid(uid) != 0)) {
      _exit(126);
    }
    execv(args[0], args.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() { Kill(); }

bool ChildProcess::running() { return Wait(absl::ZeroDuration()) == -1; }

void ChildProcess::Signal(int signal) {
  if (pid_ > 0 && exit_code_ == -1) kill(pid_, signal);
}

int ChildProcess::Wait(absl::Duration timeout) {
  if (pid_ <= 0 || exit_code_ != -1) return exit_code_;
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ =
          WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (absl::Now() >= deadline) return -1;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

void ChildProcess::Kill() {
  if (pid_ <= 0 || exit_code_ != -1) return;
  kill(pid_, SIGKILL);
  Wait(absl::Seconds(10));
}

std::string ReadFile(const std::string& path) {
  std::string data;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
      data.append(buffer, n);
    }
    std::fclose(f);
  }
  return data;
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         absl::Duration timeout, const std::string& input) {
  char dir_template[] = "/tmp/shoplist-cmd-XXXXXX";
  std::string dir = mkdtemp(dir_template);
  std::string in_path = dir + "/in", out_path = dir + "/out",
              err_path = dir + "/err";
  if (FILE* f = std::fopen(in_path.c_str(), "wb")) {
    std::fwrite(input.data(), 1, input.size(), f);
    std::fclose(f);
  }
  std::vector<std::string> args = argv;
  std::vector<char*> raw;
  for (std::string& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int in = open(in_path.c_str(), O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(raw[0], raw.data());
    _exit(127);
  }
  CommandResult result;
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      result.exit_code =
          WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (absl::Now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  std::remove(in_path.c_str());
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  rmdir(dir.c_str());
  return result;
}

int FreePort() {
  // Below the kernel's range for outgoing connections' local ports
  // (net.ipv4.ip_local_port_range, 32768 and up by default): a port the
  // kernel handed out by bind(0) could be taken by some test's client
  // socket before the server that was to listen on it started. Random, so
  // that tests running side by side rarely try the same one; never the
  // same one twice in a process.
  static absl::Mutex mu;
  static std::set<int>* given = new std::set<int>();
  static std::mt19937 pick(
      static_cast<uint32_t>(getpid()) * 2654435761u ^
      static_cast<uint32_t>(absl::ToUnixNanos(absl::Now())));
  absl::MutexLock lock(&mu);
  std::uniform_int_distribution<int> port_in(16384, 32767);
  for (;;) {
    const int port = port_in(pick);
    if (given->contains(port)) continue;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool free =
        bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (!free) continue;
    given->insert(port);
    return port;
  }
}

bool WaitFor(absl::Duration timeout, const std::function<bool()>& condition) {
  absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

}  // namespace shoplist::testing
