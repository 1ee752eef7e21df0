#include "services/common/server_process.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "services/common/crash_stacks.h"
#include "services/common/flag_names.h"
#include "services/common/logging.h"
#include "services/common/security_flags.h"
#include "services/common/signals.h"

ABSL_FLAG(std::string, health_listen, "",
          "Also serve grpc.health.v1 alone, in plaintext, on this address "
          "(for probes that do not speak TLS)");
ABSL_FLAG(std::string, metrics_listen, "",
          "Serve Prometheus metrics as text at http://ADDRESS/metrics");
ABSL_FLAG(bool, insecure, false,
          "Serve a non-loopback --listen with neither a cluster token nor "
          "TLS (anyone who reaches it can join the cluster)");
ABSL_FLAG(std::string, log_level, "info",
          "trace, debug, info, warn, error or off");
ABSL_FLAG(std::string, log_format, "text",
          "text, or json: one object per line for log collectors");

namespace shoplist {

absl::StatusOr<ServingOptions> StartServerProcess(int argc, char** argv) {
  NormalizeFlagNames(argc, argv);
  absl::ParseCommandLine(argc, argv);
  if (absl::Status s = ConfigureLogging(absl::GetFlag(FLAGS_log_level),
                                        absl::GetFlag(FLAGS_log_format));
      !s.ok()) {
    return s;
  }
  BlockTerminationSignals();
  // A crash (SIGSEGV, SIGABRT, ...) writes its stack to the log before the
  // process dies with the signal, so a fault test's logs say where. SIGTERM
  // and SIGINT stay blocked for the shutdown thread's sigwait.
  InstallCrashStacks(argv[0]);
  // Debian's Abseil checks lock order on every Mutex acquisition (it is
  // built without NDEBUG); that costs the servers ~2% CPU. Tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Calls to other servers go with the same certificate and token.
  absl::StatusOr<SecurityOptions> security = UseSecurityFlags();
  if (!security.ok()) return security.status();
  ServingOptions serving;
  serving.security = *security;
  serving.health_listen = absl::GetFlag(FLAGS_health_listen);
  serving.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  serving.insecure = absl::GetFlag(FLAGS_insecure);
  return serving;
}

}  // namespace shoplist
