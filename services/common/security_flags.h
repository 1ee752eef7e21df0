// The command-line flags every shoplist server (and the load generator)
// takes for TLS and the cluster token: --tls-cert, --tls-key, --tls-ca,
// --cluster-token-file (else $SHOPLIST_CLUSTER_TOKEN).
#ifndef SHOPLIST_SERVICES_COMMON_SECURITY_FLAGS_H_
#define SHOPLIST_SERVICES_COMMON_SECURITY_FLAGS_H_

#include "absl/status/statusor.h"
#include "services/common/security.h"

namespace shoplist {

// Reads the files the flags name. Call after absl::ParseCommandLine.
absl::StatusOr<SecurityOptions> SecurityOptionsFromFlags();

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_SECURITY_FLAGS_H_
