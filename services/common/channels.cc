#include "services/common/channels.h"

#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "crdt/limits.h"
#include "grpcpp/support/client_interceptor.h"

namespace shoplist {
namespace {

absl::Mutex security_mu;
SecurityOptions* security ABSL_GUARDED_BY(security_mu) = nullptr;

SecurityOptions CurrentSecurity() {
  absl::MutexLock lock(&security_mu);
  return security == nullptr ? SecurityOptions() : *security;
}

// Adds the cluster token to the metadata of every call on a channel.
class ClusterTokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit ClusterTokenInterceptor(const std::string* token) : token_(token) {}
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace(kClusterTokenKey, *token_);
    }
    methods->Proceed();
  }

 private:
  const std::string* token_;
};

class ClusterTokenFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit ClusterTokenFactory(std::string token) : token_(std::move(token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new ClusterTokenInterceptor(&token_);
  }

 private:
  const std::string token_;
};

}  // namespace

grpc::ChannelArguments DefaultChannelArguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(crdt::kMaxMessageBytes);
  args.SetMaxSendMessageSize(crdt::kMaxMessageBytes);
  // Come back soon after a peer returns: a refused connection is retried
  // after 100 ms, backing off to 2 s. gRPC also takes the minimum back-off
  // as the time a connection attempt may take; it must fit a TLS handshake
  // on a busy machine, or every attempt is cut short and retried at once.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  return args;
}

void SetChannelSecurity(const SecurityOptions& options) {
  absl::MutexLock lock(&security_mu);
  delete security;
  security = new SecurityOptions(options);
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address) {
  SecurityOptions options = CurrentSecurity();
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      MakeChannelCredentials(options);
  if (options.cluster_token.empty()) {
    return grpc::CreateCustomChannel(address, credentials,
                                     DefaultChannelArguments());
  }
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(
      std::make_unique<ClusterTokenFactory>(options.cluster_token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      address, credentials, DefaultChannelArguments(), std::move(interceptors));
}

}  // namespace shoplist
