// Transport security and the cluster token, loaded once per process from
// flags.
//
// TLS: a server with a certificate and key serves TLS; with a CA as well it
// verifies client certificates (mutual TLS between proxies and nodes). A
// client with a CA opens TLS channels that trust that CA, presenting its own
// certificate and key when it has them.
//
// Cluster token: membership and replication are for the cluster's own
// processes. When a token is configured, every call to those services must
// carry it in metadata `kClusterTokenKey`; other calls get UNAUTHENTICATED
// before the request is looked at. Without a token (a development cluster)
// those services are open. The client-facing ListService never needs it.
#ifndef SHOPLIST_SERVICES_COMMON_SECURITY_H_
#define SHOPLIST_SERVICES_COMMON_SECURITY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "services/common/unary.h"

namespace shoplist {

inline constexpr char kClusterTokenKey[] = "shoplist-cluster-token";
inline constexpr char kClusterTokenEnv[] = "SHOPLIST_CLUSTER_TOKEN";

struct SecurityOptions {
  std::string cert_pem;  // with key_pem: serve TLS, and present as a client
  std::string key_pem;
  std::string ca_pem;  // trust for channels; verify client certificates
  std::string cluster_token;

  bool serves_tls() const { return !cert_pem.empty(); }
  bool dials_tls() const { return !ca_pem.empty(); }
};

struct SecurityFiles {
  std::string cert_file, key_file, ca_file;
  std::string token_file;  // else $SHOPLIST_CLUSTER_TOKEN, else no token
};

// Reads every file named; a missing or unreadable file, a certificate
// without its key (or the reverse), or an empty token file is an error.
absl::StatusOr<SecurityOptions> LoadSecurityOptions(const SecurityFiles& files);

enum class ClientCertificates {
  kRequire,       // nodes: only cluster members call them directly
  kVerifyIfSent,  // proxies: clients need no certificate, members send one
};

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(
    const SecurityOptions& options, ClientCertificates policy);

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
    const SecurityOptions& options);

// Whether `listen` (HOST:PORT, [HOST]:PORT or unix:PATH) can be reached
// only from this machine: 127.0.0.0/8, ::1, localhost, or a Unix socket.
bool IsLoopbackAddress(absl::string_view listen);

// Secure by default: a server that others can reach must authenticate its
// cluster's calls. FAILED_PRECONDITION, saying why and what to do, when
// `listen` is not loopback and `options` has neither a cluster token nor
// TLS, unless `insecure` (the operator's explicit --insecure).
absl::Status CheckExposure(absl::string_view listen,
                           const SecurityOptions& options, bool insecure);

// The one check of the cluster token, which every handler of an internal
// service (replication, membership) passes first:
//
//   if (auto* refused = gate_.RefuseUnary(context)) return refused;
//
// gRPC's C++ server interceptors cannot refuse a call (grpc/grpc#24017) and
// an AuthMetadataProcessor needs TLS, so the gate is a member of each
// internal service rather than of the server; security_test walks the
// services' descriptors so that a method without it fails.
//
// Thread-safe (immutable).
class ClusterGate {
 public:
  // An empty token admits every call (a development cluster).
  explicit ClusterGate(std::string token) : token_(std::move(token)) {}

  // OK when no token is configured or the call carries the right one, else
  // UNAUTHENTICATED (missing or wrong token).
  grpc::Status Check(const grpc::ServerContextBase& context) const;

  // nullptr when Check passes; else a reactor already finished with its
  // error, for the handler to return.
  grpc::ServerUnaryReactor* RefuseUnary(
      grpc::CallbackServerContext* context) const;
  template <typename Response>
  grpc::ServerWriteReactor<Response>* RefuseStream(
      grpc::CallbackServerContext* context) const {
    grpc::Status s = Check(*context);
    return s.ok() ? nullptr : new RefusedStream<Response>(s);
  }
  template <typename Request, typename Response>
  grpc::ServerBidiReactor<Request, Response>* RefuseBidi(
      grpc::CallbackServerContext* context) const {
    grpc::Status s = Check(*context);
    return s.ok() ? nullptr : new RefusedBidiStream<Request, Response>(s);
  }

 private:
  const std::string token_;
};

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_SECURITY_H_
