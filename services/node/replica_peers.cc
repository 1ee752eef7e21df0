#include "services/node/replica_peers.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "crdt/limits.h"
#include "services/common/channels.h"
#include "services/node/peer_stream.h"

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
  GrpcReplicaPeers() : sweeper_([this] { Sweep(); }) {}

  ~GrpcReplicaPeers() override {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    sweeper_.join();
    // Closing runs callbacks that may submit again: not under mu_.
    std::vector<PeerStream*> streams;
    std::vector<FetchPeerStream*> fetch_streams;
    {
      absl::MutexLock lock(&mu_);
      for (auto& [address, stream] : streams_) streams.push_back(stream.get());
      for (auto& [address, stream] : fetch_streams_) {
        fetch_streams.push_back(stream.get());
      }
    }
    for (PeerStream* stream : streams) stream->Close();
    for (FetchPeerStream* stream : fetch_streams) stream->Close();
  }

  // Stores go over one stream per peer, batched (see PeerStream).
  void Store(const std::string& address, const v1::StoreRequest& request,
             absl::Duration timeout, StoreDone done) override {
    StreamFor(address)->Submit(request, absl::Now() + timeout, std::move(done));
  }

  // Fetches go over one stream per peer too. A peer of an older version
  // has no FetchStream: it is then asked with unary Fetch from then on.
  void Fetch(const std::string& address, const v1::FetchRequest& request,
             absl::Duration timeout, FetchDone done) override {
    const absl::Time deadline = absl::Now() + timeout;
    if (Streams(address)) {
      FetchStreamFor(address)->Submit(
          request, deadline,
          [this, address, request, deadline, done = std::move(done)](
              const grpc::Status& status, const v1::FetchResponse& response) {
            if (status.error_code() != grpc::StatusCode::UNIMPLEMENTED) {
              done(status, response);
              return;
            }
            {
              absl::MutexLock lock(&mu_);
              unary_fetch_.insert(address);
            }
            FetchUnary(address, request, deadline, done);
          });
      return;
    }
    FetchUnary(address, request, deadline, std::move(done));
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
  void FetchUnary(const std::string& address, const v1::FetchRequest& request,
                  absl::Time deadline, FetchDone done) {
    auto* call = new Call<v1::FetchRequest, v1::FetchResponse, FetchDone>{
        {}, request, {}, std::move(done)};
    call->context.set_deadline(absl::ToChronoTime(deadline));
    StubFor(address)->async()->Fetch(&call->context, &call->request,
                                     &call->response,
                                     [call](grpc::Status status) {
                                       call->done(status, call->response);
                                       delete call;
                                     });
  }

  bool Streams(const std::string& address) {
    absl::MutexLock lock(&mu_);
    return !unary_fetch_.contains(address);
  }

  FetchPeerStream* FetchStreamFor(const std::string& address) {
    v1::ReplicaService::Stub* stub = StubFor(address);
    absl::MutexLock lock(&mu_);
    auto& stream = fetch_streams_[address];
    if (stream == nullptr) stream = std::make_unique<FetchPeerStream>(stub);
    return stream.get();
  }

  PeerStream* StreamFor(const std::string& address) {
    v1::ReplicaService::Stub* stub = StubFor(address);
    absl::MutexLock lock(&mu_);
    auto& stream = streams_[address];
    if (stream == nullptr) stream = std::make_unique<PeerStream>(stub);
    return stream.get();
  }

  // Fails streams whose requests wait past their deadlines.
  void Sweep() {
    absl::MutexLock lock(&mu_);
    while (!stop_) {
      mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Milliseconds(50));
      absl::Time now = absl::Now();
      for (auto& [address, stream] : streams_) stream->Expire(now);
      for (auto& [address, stream] : fetch_streams_) stream->Expire(now);
    }
  }

  v1::ReplicaService::Stub* StubFor(const std::string& address) {
    absl::MutexLock lock(&mu_);
    auto& stub = stubs_[address];
    if (stub == nullptr) {
      stub = v1::ReplicaService::NewStub(NewChannel(address));
    }
    return stub.get();
  }

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<v1::ReplicaService::Stub>>
      stubs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<PeerStream>> streams_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<FetchPeerStream>>
      fetch_streams_ ABSL_GUARDED_BY(mu_);
  // Peers that answered FetchStream with UNIMPLEMENTED.
  absl::flat_hash_set<std::string> unary_fetch_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread sweeper_;
};

}  // namespace

std::unique_ptr<ReplicaPeers> NewGrpcReplicaPeers() {
  return std::make_unique<GrpcReplicaPeers>();
}

}  // namespace shoplist::node
