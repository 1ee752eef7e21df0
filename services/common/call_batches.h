// The server side of ListService.Calls (list_service.proto): Get, Sync and
// Apply calls that arrive in batches on one stream and are answered by id,
// in the order they finish. A node serves each call as its unary method
// does; a proxy forwards each one. Both plug in a CallHandler.
//
// Model. The calls of a batch start as soon as it is read, and the next
// batch is read once they all have, while a stream holds fewer than
// kMaxCallsInFlight calls running or answered but not yet written (and
// under 16 MiB of such answers); past that, calls wait to start and
// reading waits (the caller's flow control then holds its writes). So a
// caller that sends a huge batch, or reads no replies, holds a bounded
// amount of the server. Answers that finish while a reply batch is on
// the wire go together in the next one. The stream ends OK once the caller
// has closed its side and every call is answered; a write that fails or a
// cancellation ends it at once, and calls still running are answered into
// nothing.
//
// Thread-safe: the reactor is driven by gRPC threads and by whatever
// thread a handler's `done` runs on.
#ifndef SHOPLIST_SERVICES_COMMON_CALL_BATCHES_H_
#define SHOPLIST_SERVICES_COMMON_CALL_BATCHES_H_

#include <cstddef>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "crdt/limits.h"
#include "grpcpp/grpcpp.h"
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

inline constexpr size_t kMaxCallsInFlight = 4096;

// The largest call or answer a batch carries: the message limit less what
// a batch wraps around it (tags, lengths, the id). A larger call goes
// unary; a larger answer is RESOURCE_EXHAUSTED, as its unary send would
// be, instead of breaking the stream for every call on it.
inline constexpr size_t kMaxBatchedBytes = crdt::kMaxMessageBytes - 64;

// Counts each call of a batch as its unary method's would be counted
// (metrics): `method` is the unary method's full name, as in
// "/shoplist.v1.ListService/Get", and `seconds` the time from reading the
// call to its answer.
using CallRecorder = std::function<void(const std::string& method,
                                        grpc::StatusCode code, double seconds)>;

class CallsReactor;

// The Calls streams one service serves, so that the server's shutdown can
// drain them. Drain stops every stream, and every one opened later, from
// starting calls: those read but not started are refused with UNAVAILABLE
// (nothing of them ran, so the caller may send them elsewhere), those
// running are answered, and then each stream ends OK. Call it before the
// server's Shutdown, which would otherwise wait its whole grace for a
// caller that never closes its side (a proxy's stream to a node) and then
// cancel calls whose answers were on their way.
//
// Thread-safe. It must outlive the streams.
class CallStreams {
 public:
  void Drain();

 private:
  friend class CallsReactor;
  void Add(CallsReactor* reactor);
  void Remove(CallsReactor* reactor);

  absl::Mutex mu_;
  absl::flat_hash_set<CallsReactor*> live_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

// The reactor of one Calls stream; it deletes itself once gRPC is done with
// it and every call it started has finished. `handler` must outlive that.
// `recorder` may be empty; `streams`, when set, tracks the stream for Drain.
grpc::ServerBidiReactor<v1::CallBatch, v1::ReplyBatch>* NewCallsReactor(
    CallHandler* handler, const CallRecorder& recorder,
    CallStreams* streams = nullptr);

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_CALL_BATCHES_H_
