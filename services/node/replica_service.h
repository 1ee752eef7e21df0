// ReplicaService: what other nodes call on this node. Handlers decode and
// validate, then merge into the local store; every reply means "durable".
#ifndef SHOPLIST_SERVICES_NODE_REPLICA_SERVICE_H_
#define SHOPLIST_SERVICES_NODE_REPLICA_SERVICE_H_

#include <functional>
#include <string>

#include "shoplist/v1/replica_service.grpc.pb.h"
#include "storage/replica_store.h"

namespace shoplist::node {

class ReplicaServiceImpl final : public v1::ReplicaService::CallbackService {
 public:
  // Called after a merge changed a stored list (for watchers).
  using OnChange = std::function<void(const std::string& list_id,
                                      const crdt::ListState& merged)>;

  ReplicaServiceImpl(std::string self_id, storage::ReplicaStore* store,
                     OnChange on_change)
      : self_id_(std::move(self_id)),
        store_(store),
        on_change_(std::move(on_change)) {}

  grpc::ServerUnaryReactor* Store(grpc::CallbackServerContext* context,
                                  const v1::StoreRequest* request,
                                  v1::StoreResponse* response) override;
  grpc::ServerUnaryReactor* Fetch(grpc::CallbackServerContext* context,
                                  const v1::FetchRequest* request,
                                  v1::FetchResponse* response) override;
  grpc::ServerUnaryReactor* HandOff(grpc::CallbackServerContext* context,
                                    const v1::HandOffRequest* request,
                                    v1::HandOffResponse* response) override;

 private:
  grpc::Status StoreOne(const v1::StoreRequest& request);

  const std::string self_id_;
  storage::ReplicaStore* const store_;
  const OnChange on_change_;
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_REPLICA_SERVICE_H_
