// ReplicaService: what other nodes call on this node. Handlers pass the
// cluster-token gate, decode and validate (request_decoding.h), then make
// one call into the local store; every OK means "durable". Watchers and
// digests learn of changes from the store's merge listener.
//
// Errors of every method: UNAUTHENTICATED without the cluster token;
// INVALID_ARGUMENT for a bad list id, node id or state (nothing is
// stored); UNAVAILABLE while the disk refuses writes; DATA_LOSS for a
// damaged stored list.
//
// Thread-safe: gRPC calls the handlers concurrently; the store serialises.
#ifndef SHOPLIST_SERVICES_NODE_REPLICA_SERVICE_H_
#define SHOPLIST_SERVICES_NODE_REPLICA_SERVICE_H_

#include <functional>
#include <string>

#include "services/common/batch_server.h"
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
                     SharedDigests& digests, std::string cluster_token = "")
      : self_id_(std::move(self_id)),
        store_(store),
        digests_(digests),
        gate_(std::move(cluster_token)) {}

  // Merges the delta durably, or keeps it as a hint for `intended_owner`.
  grpc::ServerUnaryReactor* Store(grpc::CallbackServerContext* context,
                                  const v1::StoreRequest* request,
                                  v1::StoreResponse* response) override;
  // Batches of writes from one coordinator; each batch is acknowledged, in
  // order, once every write in it and before it is durable (or failed: the
  // ack lists those by index). A batch with a write that does not decode
  // ends the stream, and nothing of it is stored.
  grpc::ServerBidiReactor<v1::StoreBatch, v1::StoreBatchAck>* StoreStream(
      grpc::CallbackServerContext* context) override;
  // This replica's copy: its stored state joined with the hints it holds
  // for the list (storage::ReadReplica); found=false when neither exists.
  // Asked as an owner: its stored state alone, as stored, with its digest;
  // with `digest` too, the digest alone.
  grpc::ServerUnaryReactor* Fetch(grpc::CallbackServerContext* context,
                                  const v1::FetchRequest* request,
                                  v1::FetchResponse* response) override;
  // Batches of fetches from one coordinator, each answered in order by
  // one reply with a result per fetch, as Fetch would answer it.
  grpc::ServerBidiReactor<v1::FetchBatch, v1::FetchBatchReply>* FetchStream(
      grpc::CallbackServerContext* context) override;
  // Hints delivered to their owner: all merged, or none when one is bad.
  grpc::ServerUnaryReactor* HandOff(grpc::CallbackServerContext* context,
                                    const v1::HandOffRequest* request,
                                    v1::HandOffResponse* response) override;
  // Anti-entropy digests of a ring range (depth at most 16, else
  // INVALID_ARGUMENT), and the list hashes inside it when asked.
  grpc::ServerUnaryReactor* GetDigests(grpc::CallbackServerContext* context,
                                       const v1::DigestRequest* request,
                                       v1::DigestResponse* response) override;

  // Ends the StoreStream and FetchStream streams as the server shuts down
  // (BatchStreams::Drain): calls read but not started fail with
  // UNAVAILABLE, so their coordinator keeps hints instead.
  void DrainStreams() { streams_.Drain(); }

 private:
  const std::string self_id_;
  storage::ReplicaStore* const store_;
  SharedDigests& digests_;
  const ClusterGate gate_;
  BatchStreams streams_;
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_REPLICA_SERVICE_H_
