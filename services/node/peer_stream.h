// Calls to one peer over one long-lived bidirectional stream: every
// request queued while the previous batch is on the wire goes in the next
// batch, and the peer answers batches in order. This turns one RPC per
// call into one message per round trip per peer, for writes (StoreStream)
// and reads (FetchStream) alike.
//
// Failures keep the unary semantics: a broken stream, or a request past
// its deadline (checked by Expire), fails every request not yet answered
// with UNAVAILABLE or DEADLINE_EXCEEDED (or the stream's own error, such as
// UNIMPLEMENTED from a peer without the method), so the coordinator falls
// back to a stand-in. The next Submit opens a new stream.
//
//  - PeerStream (writes): the peer acknowledges batches cumulatively once
//    they are durable. A write the peer's access check refused gets that
//    refusal (PERMISSION_DENIED or NOT_FOUND) while the rest of its batch
//    succeeds.
//  - FetchPeerStream (reads): one reply per batch, a result per fetch.
//
// Thread-safe. Callbacks run on gRPC threads or the caller of Expire.
#ifndef SHOPLIST_SERVICES_NODE_PEER_STREAM_H_
#define SHOPLIST_SERVICES_NODE_PEER_STREAM_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "services/common/client_stream.h"
#include "shoplist/v1/replica_service.grpc.pb.h"

namespace shoplist::node {

// What a BatchStream needs to know of its method. `Result` is what one
// request's callback gets.
struct StoreStreamTraits {
  using Request = v1::StoreRequest;
  using Batch = v1::StoreBatch;
  using Reply = v1::StoreBatchAck;
  using Result = grpc::Status;
  using Done = std::function<void(const grpc::Status&)>;
  static void Open(v1::ReplicaService::Stub* stub, grpc::ClientContext* context,
                   grpc::ClientBidiReactor<Batch, Reply>* stream) {
    stub->async()->StoreStream(context, stream);
  }
  static Request* Add(Batch& batch) { return batch.add_writes(); }
  // Every batch up to this one is answered by `reply`.
  static uint64_t Newest(const Reply& reply) { return reply.sequence(); }
  // The answers to the `count` requests of batch `sequence`, which `reply`
  // covers; moved out of `reply`.
  static std::vector<Result> Take(Reply& reply, uint64_t sequence,
                                  size_t count);
  static Result Failed(const grpc::Status& status) { return status; }
  static void Deliver(Done& done, Result& result) { done(result); }
};

struct FetchStreamTraits {
  using Request = v1::FetchRequest;
  using Batch = v1::FetchBatch;
  using Reply = v1::FetchBatchReply;
  using Result = std::pair<grpc::Status, v1::FetchResponse>;
  using Done =
      std::function<void(const grpc::Status&, const v1::FetchResponse&)>;
  static void Open(v1::ReplicaService::Stub* stub, grpc::ClientContext* context,
                   grpc::ClientBidiReactor<Batch, Reply>* stream) {
    stub->async()->FetchStream(context, stream);
  }
  static Request* Add(Batch& batch) { return batch.add_fetches(); }
  static uint64_t Newest(const Reply& reply) { return reply.sequence(); }
  static std::vector<Result> Take(Reply& reply, uint64_t sequence,
                                  size_t count);
  static Result Failed(const grpc::Status& status) { return {status, {}}; }
  static void Deliver(Done& done, Result& result) {
    done(result.first, result.second);
  }
};

template <typename Traits>
class BatchStream {
 public:
  using Request = typename Traits::Request;
  using Done = typename Traits::Done;

  explicit BatchStream(v1::ReplicaService::Stub* stub) : stub_(stub) {}
  // REQUIRES: no stream open (Close() was called and drained).
  ~BatchStream();

  void Submit(const Request& request, absl::Time deadline, Done done);
  // Fails the stream if a request waits past its deadline.
  void Expire(absl::Time now);
  // Cancels the stream and waits until its callbacks are over; requests
  // not answered fail, and so does every later Submit (UNAVAILABLE), so
  // that a callback cannot open a stream Close would wait for.
  void Close();

 private:
  using Batch = typename Traits::Batch;
  using Reply = typename Traits::Reply;
  using Result = typename Traits::Result;
  struct Entry {
    Request request;
    absl::Time deadline;
    Done done;
  };
  using Stream = ClientStream<BatchStream, Batch, Reply>;
  friend Stream;

  void SubmitLocked(const Request& request, absl::Time deadline, Done done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The stream's callbacks (client_stream.h). OnStreamRead answers the
  // batches the reply covers.
  void OnStreamWriteDone(bool ok);
  void OnStreamRead(Reply& reply);
  void OnStreamReadsEnded();
  void OnStreamDone(const grpc::Status& status);
  void OnStreamGone();

  v1::ReplicaService::Stub* const stub_;
  absl::Mutex mu_;
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  // Whether `stream_` may be written to: its reads have not ended.
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Entry> queued_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::vector<Entry>> in_flight_ ABSL_GUARDED_BY(mu_);
  // The open stream was cancelled by Expire.
  bool expired_ ABSL_GUARDED_BY(mu_) = false;
  // Ended streams whose reactor is not yet deleted (Close waits for them).
  int draining_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

using PeerStream = BatchStream<StoreStreamTraits>;
using FetchPeerStream = BatchStream<FetchStreamTraits>;

extern template class BatchStream<StoreStreamTraits>;
extern template class BatchStream<FetchStreamTraits>;

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_PEER_STREAM_H_
