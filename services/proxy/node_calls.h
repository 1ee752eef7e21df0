// A proxy's calls to one node, over one long-lived ListService.Calls stream
// (list_service.proto), a BatchClient (services/common/batch_client.h):
// every call submitted while the previous batch is on the wire goes in the
// next batch, and the node answers each by id as it finishes. One message
// per batch in each direction replaces an RPC per call, which is most of
// what the proxy hop cost.
//
// A call's `done` gets the node's answer, whose code is its status, or
// null when the call got no answer: the stream failed (UNAVAILABLE, or
// UNIMPLEMENTED from a node without Calls), so the gateway can tell it from
// a call's own error, or its deadline passed (DEADLINE_EXCEEDED, for that
// call alone: its late answer is dropped).
//
// Thread-safe. Callbacks run on gRPC threads or the caller of Expire,
// never under the lock, so they may submit again.
#ifndef SHOPLIST_SERVICES_PROXY_NODE_CALLS_H_
#define SHOPLIST_SERVICES_PROXY_NODE_CALLS_H_

#include <cstdint>
#include <functional>
#include <utility>

#include "grpcpp/grpcpp.h"
#include "services/common/batch_client.h"
#include "shoplist/v1/list_service.grpc.pb.h"

namespace shoplist::proxy {

struct CallsProtocol {
  using Stub = v1::ListService::Stub;
  using Request = v1::Call;
  using Batch = v1::CallBatch;
  using Reply = v1::ReplyBatch;
  using Answer = v1::Reply;
  using Done = std::function<void(const grpc::Status& status, v1::Reply*)>;
  static constexpr bool kInOrder = false;
  static constexpr const char* kPeer = "the node";

  static void Open(Stub* stub, grpc::ClientContext* context,
                   grpc::ClientBidiReactor<Batch, Reply>* stream) {
    stub->async()->Calls(context, stream);
  }
  static void Add(Batch& batch, Request&& call, uint64_t key) {
    call.set_id(key);
    *batch.add_calls() = std::move(call);
  }
  template <typename F>
  static void Answers(Reply& batch, F&& f) {
    for (v1::Reply& reply : *batch.mutable_replies()) {
      f(reply.id(),
        grpc::Status(static_cast<grpc::StatusCode>(reply.code()),
                     reply.message()),
        &reply);
    }
  }
  static void Failed(Done& done, const grpc::Status& status) {
    done(status, nullptr);
  }
  static void Deliver(Done& done, const grpc::Status& status,
                      v1::Reply* reply) {
    done(status, reply);
  }
};

using NodeCalls = BatchClient<CallsProtocol>;

}  // namespace shoplist::proxy

#endif  // SHOPLIST_SERVICES_PROXY_NODE_CALLS_H_
