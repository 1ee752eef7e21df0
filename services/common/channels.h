// The one place that says how shoplist opens client channels: message size
// limits, keep-alive, reconnect back-off, TLS and the cluster token. Every
// client (nodes, proxies, the CLI, the load generator) uses it, one channel
// per server.
#ifndef SHOPLIST_SERVICES_COMMON_CHANNELS_H_
#define SHOPLIST_SERVICES_COMMON_CHANNELS_H_

#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "services/common/security.h"

namespace shoplist {

grpc::ChannelArguments DefaultChannelArguments();

// How every channel opened afterwards by this process authenticates: TLS
// when `options` has a CA, and the cluster token on every call when it has
// one. Called once by main before any channel opens; plaintext and no
// token until then.
void SetChannelSecurity(const SecurityOptions& options);

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address);

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_CHANNELS_H_
