// ReplicaService: what other nodes call on this node. Handlers decode and
// validate, then merge into the local store; every reply means "durable".
// Watchers and digests learn of changes from the store's merge listener.
#ifndef SHOPLIST_SERVICES_NODE_REPLICA_SERVICE_H_
#define SHOPLIST_SERVICES_NODE_REPLICA_SERVICE_H_

#include <functional>
#include <string>

#include "services/common/security.h"
#include "services/node/anti_entropy.h"
#include "shoplist/v1/replica_service.grpc.pb.h"
#include "storage/replica_store.h"

namespace shoplist::node {

class ReplicaServiceImpl final : public v1::ReplicaService::CallbackService {
 public:
  // With a non-empty `cluster_token`, every call must carry it (see
  // services/common/security.h).
  ReplicaServiceImpl(std::string self_id, storage::ReplicaStore* store,
                     const SharedDigests& digests,
                     std::string cluster_token = "")
      : self_id_(std::move(self_id)),
        store_(store),
        digests_(digests),
        gate_(std::move(cluster_token)) {}

  grpc::ServerUnaryReactor* Store(grpc::CallbackServerContext* context,
                                  const v1::StoreRequest* request,
                                  v1::StoreResponse* response) override;
  // Batches of writes from one coordinator; each batch is acknowledged, in
  // order, once every write in it and before it is durable.
  grpc::ServerBidiReactor<v1::StoreBatch, v1::StoreBatchAck>* StoreStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Fetch(grpc::CallbackServerContext* context,
                                  const v1::FetchRequest* request,
                                  v1::FetchResponse* response) override;
  grpc::ServerUnaryReactor* HandOff(grpc::CallbackServerContext* context,
                                    const v1::HandOffRequest* request,
                                    v1::HandOffResponse* response) override;
  grpc::ServerUnaryReactor* GetDigests(grpc::CallbackServerContext* context,
                                       const v1::DigestRequest* request,
                                       v1::DigestResponse* response) override;

 private:
  const std::string self_id_;
  storage::ReplicaStore* const store_;
  const SharedDigests& digests_;
  const ClusterGate gate_;
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_REPLICA_SERVICE_H_
