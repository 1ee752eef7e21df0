// The one place that says how shoplist opens client channels: message size
// limits, keep-alive and reconnect back-off. Every client (nodes, proxies,
// the CLI, the load generator) uses it, one channel per server.
#ifndef SHOPLIST_SERVICES_COMMON_CHANNELS_H_
#define SHOPLIST_SERVICES_COMMON_CHANNELS_H_

#include <memory>
#include <string>

#include "crdt/limits.h"
#include "grpcpp/grpcpp.h"

namespace shoplist {

inline grpc::ChannelArguments DefaultChannelArguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(crdt::kMaxMessageBytes);
  args.SetMaxSendMessageSize(crdt::kMaxMessageBytes);
  // Find a dead peer quickly and come back soon after it returns.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  return args;
}

inline std::shared_ptr<grpc::Channel> NewChannel(const std::string& address) {
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   DefaultChannelArguments());
}

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_CHANNELS_H_
