// The proxy's web front door: the phone app's files and the browser API,
// over HTTP/1.1 (Boost.Beast: asynchronous, a few I/O threads however many
// connections are open, none waiting for a node).
//
// The API carries the list service's own protobuf messages, forwarded
// through the gateway (a CallHandler) as a Calls batch would be:
//   POST /api/v1/sync   body v1::SyncRequest  ->  200, body v1::SyncResponse
//   POST /api/v1/get    body v1::GetRequest   ->  200, body v1::GetResponse
//   POST /api/v1/watch  body v1::WatchRequest ->  200, a chunked stream of
//                       frames (4 bytes of length, big-endian, then a
//                       v1::WatchEvent) until the list's watch ends
// Both with Content-Type application/x-protobuf, which a cross-origin page
// cannot send without a preflight this server never answers; a request
// whose Origin is not this server's own is refused (403) as well. The
// list's link secret travels in the message, as over gRPC, so it proves
// access the same way and never appears in a URL.
//
// An error's status (the call's code: 400 INVALID_ARGUMENT, 403
// PERMISSION_DENIED, 404 NOT_FOUND, 409 FAILED_PRECONDITION, 413 a body
// over the limit, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED, 500 otherwise)
// comes with a text/plain message and the gRPC code's name in the header
// Shoplist-Code. A watch past the limits (WebOptions) is 429. Requests
// that are not HTTP, headers over 8 KiB (431), and
// clients slower than `read_timeout` to send a request (slowloris) are cut
// off without touching anything else.
//
// HTTPS with the proxy's own certificate; plain HTTP on loopback only,
// where browsers treat it as secure.
//
// Every other GET serves a file of `root` (the app): "/" is index.html,
// no path leaves the folder, every answer carries a content security
// policy that allows only this origin (and WebAssembly).
//
// Thread-safe. Stop() (and the destructor) stops accepting, closes every
// connection and waits for the calls in flight to come back.
#ifndef SHOPLIST_SERVICES_PROXY_WEB_SERVER_H_
#define SHOPLIST_SERVICES_PROXY_WEB_SERVER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crdt/limits.h"
#include "services/common/call_batches.h"
#include "shoplist/v1/list_service.grpc.pb.h"

namespace shoplist::proxy {

struct WebOptions {
  std::string listen = "127.0.0.1:0";  // HOST:PORT
  std::string root;                    // the app's files; empty: the API alone
  // HTTPS with this certificate (chain) and key, PEM; empty: plain HTTP,
  // on loopback only.
  std::string cert_pem;
  std::string key_pem;
  size_t max_body = crdt::kMaxMessageBytes;
  // From a connection's first byte (or the end of its last answer) to the
  // end of a request's body.
  absl::Duration read_timeout = absl::Seconds(10);
  // A call forwarded to the nodes.
  absl::Duration call_timeout = absl::Seconds(10);
  int threads = 1;
  // Watches open at once from one client address, and in all: a watch
  // past either is refused with 429 (RESOURCE_EXHAUSTED). A household's
  // phones watch a list each; one address opening hundreds is a client
  // gone wrong or an attack on the proxy's memory (~80 KiB a watch).
  // Each at least 1 (Start refuses less with INVALID_ARGUMENT).
  int max_watches_per_client = 256;
  int max_watches = 20'000;
};

class WebServer {
 public:
  // Serves until Stop(). `calls` (the gateway) must outlive the server.
  // UNAVAILABLE when `listen` cannot be bound; INVALID_ARGUMENT for a bad
  // address, certificate or a `root` that is not a folder;
  // FAILED_PRECONDITION for plain HTTP beyond loopback.
  // `watches` (optional: without it no watch API) is a ListService whose
  // Watch the browsers' watches relay: the proxy's own, over loopback.
  static absl::StatusOr<std::unique_ptr<WebServer>> Start(
      WebOptions options, CallHandler* calls,
      v1::ListService::StubInterface* watches = nullptr);
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  int port() const;
  void Stop();

  struct Impl;

 private:
  explicit WebServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoplist::proxy

#endif  // SHOPLIST_SERVICES_PROXY_WEB_SERVER_H_
