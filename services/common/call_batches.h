// The server side of ListService.Calls (list_service.proto): Get, Sync and
// Apply calls that arrive in batches on one stream and are answered by id,
// in the order they finish. A node serves each call as its unary method
// does; a proxy forwards each one. Both plug in a CallHandler.
//
// Model. A batched stream (batch_server.h: the cap on calls in flight, the
// drain on shutdown): each call is answered by a Reply with its id, and
// the answers that finish while a reply batch is on the wire go together
// in the next one. A call without a method, or whose id is already in
// flight on the stream, is refused with INVALID_ARGUMENT; a draining
// server refuses calls not started with UNAVAILABLE.
//
// Thread-safe: the reactor is driven by gRPC threads and by whatever
// thread a handler's `done` runs on.
#ifndef SHOPLIST_SERVICES_COMMON_CALL_BATCHES_H_
#define SHOPLIST_SERVICES_COMMON_CALL_BATCHES_H_

#include <cstddef>
#include <functional>
#include <string>

#include "crdt/limits.h"
#include "grpcpp/grpcpp.h"
#include "services/common/batch_server.h"
#include "shoplist/v1/list_service.pb.h"

namespace shoplist {

class CallHandler {
 public:
  using Done = std::function<void(const grpc::Status&)>;
  virtual ~CallHandler() = default;

  // Serves `call`, which has a method set, writing its answer into the
  // matching field of `reply` (the caller sets the id and status), then
  // runs `done` once with the call's status. `call` and `reply` stay alive
  // until `done` has run. `done` may run on the calling thread; it does not
  // block.
  virtual void Serve(const v1::Call& call, v1::Reply* reply, Done done) = 0;
};

// The largest call or answer a batch carries: the message limit less what
// a batch wraps around it (tags, lengths, the id). A larger call goes
// unary; a larger answer is RESOURCE_EXHAUSTED, as its unary send would
// be, instead of breaking the stream for every call on it.
inline constexpr size_t kMaxBatchedBytes = crdt::kMaxMessageBytes - 64;

// Counts each call of a batch as its unary method's would be counted
// (metrics): `method` is the unary method's full name, as in
// "/shoplist.v1.ListService/Get", and `seconds` the time from starting the
// call to its answer.
using CallRecorder = std::function<void(const std::string& method,
                                        grpc::StatusCode code, double seconds)>;

// The reactor of one Calls stream; it deletes itself once gRPC is done with
// it and every call it started has finished. `handler` must outlive that.
// `recorder` may be empty; `streams`, when set, tracks the stream for
// Drain.
grpc::ServerBidiReactor<v1::CallBatch, v1::ReplyBatch>* NewCallsReactor(
    CallHandler* handler, const CallRecorder& recorder,
    BatchStreams* streams = nullptr);

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_CALL_BATCHES_H_
