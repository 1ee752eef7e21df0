// Log set-up of the servers: spdlog to standard error, at a level and in a
// format chosen by flags. "text" is for people; "json" writes one object
// per line ({"ts","level","pid","thread","msg"}, the message escaped), for
// log collectors such as a Kubernetes node's.
#ifndef SHOPLIST_SERVICES_COMMON_LOGGING_H_
#define SHOPLIST_SERVICES_COMMON_LOGGING_H_

#include <string>

#include "absl/status/status.h"

namespace shoplist {

// `level`: trace, debug, info, warn, error or off; `format`: text or json.
absl::Status ConfigureLogging(const std::string& level,
                              const std::string& format);

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_LOGGING_H_
