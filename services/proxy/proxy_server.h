// A running proxy: membership state, MembershipService, the ListService
// gateway, health and reflection, on one port. Used by main() and by tests.
#ifndef SHOPLIST_SERVICES_PROXY_PROXY_SERVER_H_
#define SHOPLIST_SERVICES_PROXY_PROXY_SERVER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/serving.h"
#include "services/proxy/proxy_state.h"
#include "services/proxy/web_server.h"

namespace shoplist::proxy {

class ProxyServer {
 public:
  // `serving.client_certificates` is ignored: a proxy verifies client
  // certificates that are sent (nodes) and needs none (users' clients).
  // `web`, when set, also serves the web app and the browser API there
  // (web_server.h).
  static absl::StatusOr<std::unique_ptr<ProxyServer>> Start(
      ServingOptions serving, ProxyOptions options,
      std::optional<WebOptions> web = std::nullopt);
  // Plaintext, no cluster token, no health port.
  static absl::StatusOr<std::unique_ptr<ProxyServer>> Start(
      const std::string& listen, ProxyOptions options);
  ~ProxyServer();

  // Ends subscription streams, lets unary calls finish (up to `grace`).
  void Shutdown(absl::Duration grace);
  int port() const;
  // The web front door's port; 0 without one.
  int web_port() const;
  ProxyState* state();

 private:
  struct Parts;
  explicit ProxyServer(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace shoplist::proxy

#endif  // SHOPLIST_SERVICES_PROXY_PROXY_SERVER_H_
