#include "services/common/security.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace shoplist {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the ", what, " file ", path));
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// Compares in time independent of where the strings differ, so response
// timing does not reveal how much of a guessed token was right.
bool SameToken(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

}  // namespace

absl::StatusOr<SecurityOptions> LoadSecurityOptions(
    const SecurityFiles& files) {
  SecurityOptions options;
  if (files.cert_file.empty() != files.key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  struct {
    const std::string& path;
    std::string* out;
    const char* what;
  } pems[] = {{files.cert_file, &options.cert_pem, "certificate"},
              {files.key_file, &options.key_pem, "key"},
              {files.ca_file, &options.ca_pem, "CA"}};
  for (auto& pem : pems) {
    if (pem.path.empty()) continue;
    absl::StatusOr<std::string> bytes = ReadFile(pem.path, pem.what);
    if (!bytes.ok()) return bytes.status();
    *pem.out = *std::move(bytes);
  }
  if (!files.token_file.empty()) {
    absl::StatusOr<std::string> token =
        ReadFile(files.token_file, "cluster token");
    if (!token.ok()) return token.status();
    options.cluster_token = std::string(absl::StripAsciiWhitespace(*token));
    if (options.cluster_token.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the cluster token file ", files.token_file, " is empty"));
    }
  } else if (const char* env = std::getenv(kClusterTokenEnv)) {
    options.cluster_token = std::string(absl::StripAsciiWhitespace(env));
  }
  return options;
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(
    const SecurityOptions& options, ClientCertificates policy) {
  if (!options.serves_tls()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({options.key_pem, options.cert_pem});
  if (!options.ca_pem.empty()) {
    ssl.pem_root_certs = options.ca_pem;
    ssl.client_certificate_request =
        policy == ClientCertificates::kRequire
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
    const SecurityOptions& options) {
  if (!options.dials_tls()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = options.ca_pem;
  ssl.pem_private_key = options.key_pem;
  ssl.pem_cert_chain = options.cert_pem;
  return grpc::SslCredentials(ssl);
}

bool IsLoopbackAddress(absl::string_view listen) {
  if (absl::StartsWith(listen, "unix:")) return true;
  absl::string_view host = listen;
  if (absl::StartsWith(host, "[")) {
    size_t close = host.find(']');
    if (close == absl::string_view::npos) return false;
    host = host.substr(1, close - 1);
  } else if (size_t colon = host.rfind(':'); colon != absl::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8, in dotted form.
  std::vector<absl::string_view> parts = absl::StrSplit(host, '.');
  if (parts.size() != 4 || parts[0] != "127") return false;
  for (absl::string_view part : parts) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n) || n < 0 || n > 255) return false;
  }
  return true;
}

absl::Status CheckExposure(absl::string_view listen,
                           const SecurityOptions& options, bool insecure) {
  if (insecure || IsLoopbackAddress(listen) || !options.cluster_token.empty() ||
      options.serves_tls()) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "refusing to serve ", listen,
      " with neither a cluster token nor TLS: anyone who reaches it could "
      "join the cluster or write replicas. Give --cluster-token-file (or "
      "$SHOPLIST_CLUSTER_TOKEN) and the --tls-* flags, listen on 127.0.0.1, "
      "or pass --insecure to accept the risk"));
}

grpc::ServerUnaryReactor* ClusterGate::RefuseUnary(
    grpc::CallbackServerContext* context) const {
  grpc::Status s = Check(*context);
  return s.ok() ? nullptr : FinishUnary(context, s);
}

grpc::Status ClusterGate::Check(const grpc::ServerContextBase& context) const {
  const std::string& expected = token_;
  if (expected.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kClusterTokenKey);
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "this service needs the cluster token");
  }
  if (!SameToken(absl::string_view(it->second.data(), it->second.size()),
                 expected)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "wrong cluster token");
  }
  return grpc::Status::OK;
}

}  // namespace shoplist
