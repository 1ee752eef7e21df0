// Asynchronous calls from a node to other nodes' ReplicaService. The
// coordinator depends on this interface only, so unit tests replace the
// network with gMock. GrpcReplicaPeers is the real one: one long-lived
// channel per peer shared by all calls, and stores and fetches batched over
// one stream each per peer (peer_stream.h).
//
// Callbacks run on a gRPC thread, once per call, possibly before the call
// returns; they must not block.
#ifndef SHOPLIST_SERVICES_NODE_REPLICA_PEERS_H_
#define SHOPLIST_SERVICES_NODE_REPLICA_PEERS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "shoplist/v1/replica_service.grpc.pb.h"

namespace shoplist::node {

class ReplicaPeers {
 public:
  using StoreDone = std::function<void(const grpc::Status&)>;
  using FetchDone =
      std::function<void(const grpc::Status&, const v1::FetchResponse&)>;
  using DigestDone =
      std::function<void(const grpc::Status&, const v1::DigestResponse&)>;

  virtual ~ReplicaPeers() = default;

  virtual void Store(const std::string& address,
                     const v1::StoreRequest& request, absl::Duration timeout,
                     StoreDone done) = 0;
  virtual void Fetch(const std::string& address,
                     const v1::FetchRequest& request, absl::Duration timeout,
                     FetchDone done) = 0;
  virtual void HandOff(const std::string& address,
                       const v1::HandOffRequest& request,
                       absl::Duration timeout, StoreDone done) = 0;
  virtual void GetDigests(const std::string& address,
                          const v1::DigestRequest& request,
                          absl::Duration timeout, DigestDone done) = 0;
};

// ReplicaPeers over gRPC's callback API.
std::unique_ptr<ReplicaPeers> NewGrpcReplicaPeers();

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_REPLICA_PEERS_H_
