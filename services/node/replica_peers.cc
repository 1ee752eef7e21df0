#include "services/node/replica_peers.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "crdt/limits.h"

namespace shoplist::node {
namespace {

// One in-flight call: owns what gRPC reads and writes until it completes.
template <typename Request, typename Response, typename Done>
struct Call {
  grpc::ClientContext context;
  Request request;
  Response response;
  Done done;
};

class GrpcReplicaPeers final : public ReplicaPeers {
 public:
  void Store(const std::string& address, const v1::StoreRequest& request,
             absl::Duration timeout, StoreDone done) override {
    auto* call = new Call<v1::StoreRequest, v1::StoreResponse, StoreDone>{
        {}, request, {}, std::move(done)};
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    StubFor(address)->async()->Store(&call->context, &call->request,
                                     &call->response,
                                     [call](grpc::Status status) {
                                       call->done(status);
                                       delete call;
                                     });
  }

  void Fetch(const std::string& address, const v1::FetchRequest& request,
             absl::Duration timeout, FetchDone done) override {
    auto* call = new Call<v1::FetchRequest, v1::FetchResponse, FetchDone>{
        {}, request, {}, std::move(done)};
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    StubFor(address)->async()->Fetch(&call->context, &call->request,
                                     &call->response,
                                     [call](grpc::Status status) {
                                       call->done(status, call->response);
                                       delete call;
                                     });
  }

  void HandOff(const std::string& address, const v1::HandOffRequest& request,
               absl::Duration timeout, StoreDone done) override {
    auto* call = new Call<v1::HandOffRequest, v1::HandOffResponse, StoreDone>{
        {}, request, {}, std::move(done)};
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    StubFor(address)->async()->HandOff(&call->context, &call->request,
                                       &call->response,
                                       [call](grpc::Status status) {
                                         call->done(status);
                                         delete call;
                                       });
  }

  void GetDigests(const std::string& address, const v1::DigestRequest& request,
                  absl::Duration timeout, DigestDone done) override {
    auto* call = new Call<v1::DigestRequest, v1::DigestResponse, DigestDone>{
        {}, request, {}, std::move(done)};
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    StubFor(address)->async()->GetDigests(&call->context, &call->request,
                                          &call->response,
                                          [call](grpc::Status status) {
                                            call->done(status, call->response);
                                            delete call;
                                          });
  }

 private:
  v1::ReplicaService::Stub* StubFor(const std::string& address) {
    absl::MutexLock lock(&mu_);
    auto& stub = stubs_[address];
    if (stub == nullptr) {
      stub = v1::ReplicaService::NewStub(
          grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                    DefaultChannelArguments()));
    }
    return stub.get();
  }

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<v1::ReplicaService::Stub>>
      stubs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::ChannelArguments DefaultChannelArguments() {
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

std::unique_ptr<ReplicaPeers> NewGrpcReplicaPeers() {
  return std::make_unique<GrpcReplicaPeers>();
}

}  // namespace shoplist::node
