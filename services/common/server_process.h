// The start of every shoplist server's main(): flags parsed (dashes or
// underscores), logging set by --log-level and --log-format, SIGTERM and
// SIGINT blocked for WaitForTerminationSignal, TLS and the cluster token
// loaded (services/common/security_flags.h) and used for every channel the
// process opens, and the serving flags --health-listen and --metrics-listen.
#ifndef SHOPLIST_SERVICES_COMMON_SERVER_PROCESS_H_
#define SHOPLIST_SERVICES_COMMON_SERVER_PROCESS_H_

#include "absl/status/statusor.h"
#include "services/common/serving.h"

namespace shoplist {

// Parses argv and prepares the process. The ServingOptions carry security,
// health and metrics settings; `listen` is left to the caller. Errors are
// for the user (exit code 2).
absl::StatusOr<ServingOptions> StartServerProcess(int argc, char** argv);

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_SERVER_PROCESS_H_
