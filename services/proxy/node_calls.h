// A proxy's calls to one node, over one long-lived ListService.Calls stream
// (list_service.proto): every call submitted while the previous batch is on
// the wire goes in the next batch, and the node answers each by id as it
// finishes. One message per batch in each direction replaces an RPC per
// call, which is most of what the proxy hop cost.
//
// Failures keep the unary semantics. When the stream breaks, every call
// not yet answered fails with UNAVAILABLE (or the stream's own error, such
// as UNIMPLEMENTED from a node without Calls), marked as a stream failure
// so the gateway can tell it from a call's own error. A call still waiting
// at its deadline (checked by Expire) fails with DEADLINE_EXCEEDED alone,
// and its late answer is dropped. The next Submit opens a new stream.
//
// Thread-safe. Callbacks run on gRPC threads or the caller of Expire,
// never under the lock, so they may submit again.
#ifndef SHOPLIST_SERVICES_PROXY_NODE_CALLS_H_
#define SHOPLIST_SERVICES_PROXY_NODE_CALLS_H_

#include <cstdint>
#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "services/common/client_stream.h"
#include "shoplist/v1/list_service.grpc.pb.h"

namespace shoplist::proxy {

class NodeCalls {
 public:
  // `reply` is the node's answer, whose code is `status`; null when the
  // call got no answer (the stream failed, or the deadline passed).
  using Done =
      std::function<void(const grpc::Status& status, v1::Reply* reply)>;

  // `stub` must outlive this object.
  explicit NodeCalls(v1::ListService::Stub* stub) : stub_(stub) {}
  // Close()s.
  ~NodeCalls();

  NodeCalls(const NodeCalls&) = delete;
  NodeCalls& operator=(const NodeCalls&) = delete;

  // Sends `call` (its id is chosen here) and runs `done` once.
  void Submit(v1::Call call, absl::Time deadline, Done done);
  // Fails the calls whose deadline is at or before `now`, and drops their
  // requests if not yet sent.
  void Expire(absl::Time now);
  // Calls submitted and not yet handed to the stream.
  size_t queued() {
    absl::MutexLock lock(&mu_);
    return queued_.size();
  }
  // Cancels the stream and waits until its callbacks are over; calls not
  // answered fail with UNAVAILABLE, and so does every later Submit.
  void Close();

 private:
  struct Waiting {
    absl::Time deadline;
    Done done;
  };
  using Stream = ClientStream<NodeCalls, v1::CallBatch, v1::ReplyBatch>;
  friend Stream;

  void SubmitLocked(v1::Call call, absl::Time deadline, Done done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The stream's callbacks (client_stream.h).
  void OnStreamWriteDone(bool ok);
  void OnStreamRead(v1::ReplyBatch& batch);
  void OnStreamReadsEnded();
  void OnStreamDone(const grpc::Status& status);
  void OnStreamGone();

  v1::ListService::Stub* const stub_;
  absl::Mutex mu_;
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  // Whether `stream_` may be written to: its reads have not ended.
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  // Calls not yet sent, in order; those no longer in waiting_ are skipped
  // (Expire drops its own).
  std::deque<v1::Call> queued_ ABSL_GUARDED_BY(mu_);
  // Every call not yet answered, sent or not, by id.
  absl::flat_hash_map<uint64_t, Waiting> waiting_ ABSL_GUARDED_BY(mu_);
  // Ended streams whose reactor is not yet deleted (Close waits for them).
  int draining_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shoplist::proxy

#endif  // SHOPLIST_SERVICES_PROXY_NODE_CALLS_H_
