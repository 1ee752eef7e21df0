#include "services/common/security_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "services/common/channels.h"

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate: serve TLS, and present it to other servers");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA: dial other servers over TLS trusting it, and verify "
          "client certificates (mutual TLS between proxies and nodes)");
ABSL_FLAG(std::string, cluster_token_file, "",
          "File holding the cluster token that membership and replica "
          "calls must carry (default: $SHOPLIST_CLUSTER_TOKEN; none: open, "
          "allowed on a non-loopback --listen only with TLS or --insecure)");

namespace shoplist {

absl::StatusOr<SecurityOptions> UseSecurityFlags() {
  SecurityFiles files;
  files.cert_file = absl::GetFlag(FLAGS_tls_cert);
  files.key_file = absl::GetFlag(FLAGS_tls_key);
  files.ca_file = absl::GetFlag(FLAGS_tls_ca);
  files.token_file = absl::GetFlag(FLAGS_cluster_token_file);
  absl::StatusOr<SecurityOptions> options = LoadSecurityOptions(files);
  if (options.ok()) SetChannelSecurity(*options);
  return options;
}

}  // namespace shoplist
