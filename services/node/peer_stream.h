// A node's writes and fetches to one peer, each over one long-lived
// bidirectional stream (a BatchClient, services/common/batch_client.h):
// every request queued while the previous batch is on the wire goes in the
// next batch, and the peer answers batches in order.
//
//  - PeerStream (writes, StoreStream): the peer acknowledges batches
//    cumulatively once they are durable. A write the peer failed (its
//    access check refused it: PERMISSION_DENIED or NOT_FOUND; or its store
//    failed) gets that status while the rest of its batch succeeds.
//  - FetchPeerStream (reads, FetchStream): one reply per batch, a result
//    per fetch.
//
// A broken stream or a late request fails what waits (batch_client.h), so
// the coordinator falls back to a stand-in; UNIMPLEMENTED comes from a
// peer without the method.
//
// Thread-safe. Callbacks run on gRPC threads or the caller of Expire.
#ifndef SHOPLIST_SERVICES_NODE_PEER_STREAM_H_
#define SHOPLIST_SERVICES_NODE_PEER_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "services/common/batch_client.h"
#include "shoplist/v1/replica_service.grpc.pb.h"

namespace shoplist::node {

struct StoreStreamProtocol {
  using Stub = v1::ReplicaService::Stub;
  using Request = v1::StoreRequest;
  using Batch = v1::StoreBatch;
  using Reply = v1::StoreBatchAck;
  using Answer = void;
  using Done = std::function<void(const grpc::Status&)>;
  static constexpr bool kInOrder = true;
  static constexpr const char* kPeer = "the replica";

  static void Open(Stub* stub, grpc::ClientContext* context,
                   grpc::ClientBidiReactor<Batch, Reply>* stream) {
    stub->async()->StoreStream(context, stream);
  }
  static void Add(Batch& batch, Request&& request, uint64_t /*key*/) {
    *batch.add_writes() = std::move(request);
  }
  static void Seal(Batch& batch, uint64_t sequence) {
    batch.set_sequence(sequence);
  }
  // Every batch up to this one is acknowledged.
  static uint64_t Newest(const Reply& reply) { return reply.sequence(); }
  template <typename F>
  static void Answers(Reply& reply, uint64_t sequence, size_t count, F&& f) {
    std::vector<grpc::Status> results(count, grpc::Status::OK);
    for (const v1::StoreBatchAck::Refusal& r : reply.refused()) {
      if (r.sequence() == sequence && r.index() < count) {
        results[r.index()] =
            grpc::Status(static_cast<grpc::StatusCode>(r.code()), r.message());
      }
    }
    for (size_t i = 0; i < count; ++i) f(i, std::move(results[i]), nullptr);
  }
  static void Failed(Done& done, const grpc::Status& status) { done(status); }
  static void Deliver(Done& done, const grpc::Status& status, void*) {
    done(status);
  }
};

struct FetchStreamProtocol {
  using Stub = v1::ReplicaService::Stub;
  using Request = v1::FetchRequest;
  using Batch = v1::FetchBatch;
  using Reply = v1::FetchBatchReply;
  using Answer = v1::FetchResponse;
  using Done =
      std::function<void(const grpc::Status&, const v1::FetchResponse&)>;
  static constexpr bool kInOrder = true;
  static constexpr const char* kPeer = "the replica";

  static void Open(Stub* stub, grpc::ClientContext* context,
                   grpc::ClientBidiReactor<Batch, Reply>* stream) {
    stub->async()->FetchStream(context, stream);
  }
  static void Add(Batch& batch, Request&& request, uint64_t /*key*/) {
    *batch.add_fetches() = std::move(request);
  }
  static void Seal(Batch& batch, uint64_t sequence) {
    batch.set_sequence(sequence);
  }
  static uint64_t Newest(const Reply& reply) { return reply.sequence(); }
  template <typename F>
  static void Answers(Reply& reply, uint64_t sequence, size_t count, F&& f) {
    if (reply.sequence() != sequence ||
        static_cast<size_t>(reply.results_size()) != count) {
      // Batches are answered one by one: a reply that skips one, or does
      // not answer each fetch, comes from a broken peer.
      const grpc::Status broken(grpc::StatusCode::INTERNAL,
                                "the replica's reply does not match its batch");
      for (size_t i = 0; i < count; ++i) f(i, broken, nullptr);
      return;
    }
    for (size_t i = 0; i < count; ++i) {
      v1::FetchBatchReply::Result& r =
          *reply.mutable_results(static_cast<int>(i));
      f(i, grpc::Status(static_cast<grpc::StatusCode>(r.code()), r.message()),
        r.mutable_response());
    }
  }
  static void Failed(Done& done, const grpc::Status& status) {
    done(status, v1::FetchResponse::default_instance());
  }
  static void Deliver(Done& done, const grpc::Status& status,
                      v1::FetchResponse* answer) {
    done(status,
         answer != nullptr ? *answer : v1::FetchResponse::default_instance());
  }
};

using PeerStream = BatchClient<StoreStreamProtocol>;
using FetchPeerStream = BatchClient<FetchStreamProtocol>;

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_PEER_STREAM_H_
