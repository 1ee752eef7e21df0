// The one translation between absl::Status (the core's errors) and
// grpc::Status (the wire's). The codes are the same numbers by design.
#ifndef SHOPLIST_SERVICES_COMMON_STATUS_UTIL_H_
#define SHOPLIST_SERVICES_COMMON_STATUS_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace shoplist {

inline grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

inline absl::Status ToAbsl(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_STATUS_UTIL_H_
