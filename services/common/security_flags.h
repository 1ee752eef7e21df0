// The command-line flags every shoplist server (and the load generator)
// takes for TLS and the cluster token: --tls-cert, --tls-key, --tls-ca,
// --cluster-token-file (else $SHOPLIST_CLUSTER_TOKEN).
#ifndef SHOPLIST_SERVICES_COMMON_SECURITY_FLAGS_H_
#define SHOPLIST_SERVICES_COMMON_SECURITY_FLAGS_H_

#include "absl/status/statusor.h"
#include "services/common/security.h"

namespace shoplist {

// Reads the files the flags name and makes them how every channel of this
// process authenticates (SetChannelSecurity). Call after
// absl::ParseCommandLine, before any channel opens.
absl::StatusOr<SecurityOptions> UseSecurityFlags();

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_SECURITY_FLAGS_H_
