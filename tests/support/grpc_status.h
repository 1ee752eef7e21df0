// gRPC statuses that test doubles answer with.
//
// Thread-safe: they keep no state.
#ifndef SHOPLIST_TESTS_SUPPORT_GRPC_STATUS_H_
#define SHOPLIST_TESTS_SUPPORT_GRPC_STATUS_H_

#include "grpcpp/support/status.h"

namespace shoplist::testing {

// What a stub of a proxy answers when the proxy cannot be reached.
inline grpc::Status Unavailable() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "proxy unreachable");
}

}  // namespace shoplist::testing

#endif  // SHOPLIST_TESTS_SUPPORT_GRPC_STATUS_H_
