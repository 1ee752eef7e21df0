// Replication to one peer over one long-lived StoreStream: every Store
// queued while the previous batch is on the wire goes in the next batch,
// and the peer acknowledges batches cumulatively once they are durable.
// This turns one RPC per write per replica into one message per round trip
// per peer.
//
// Failures keep the unary semantics: a broken stream, or a request past
// its deadline (checked by Expire), fails every request not yet
// acknowledged with UNAVAILABLE or DEADLINE_EXCEEDED, so the coordinator
// falls back to a stand-in and a hint. The next Submit opens a new stream.
// A write the peer's access check refused gets that refusal
// (PERMISSION_DENIED or NOT_FOUND) while the rest of its batch succeeds.
//
// Thread-safe. Callbacks run on gRPC threads or the caller of Expire.
#ifndef SHOPLIST_SERVICES_NODE_PEER_STREAM_H_
#define SHOPLIST_SERVICES_NODE_PEER_STREAM_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "shoplist/v1/replica_service.grpc.pb.h"

namespace shoplist::node {

class PeerStream {
 public:
  using Done = std::function<void(const grpc::Status&)>;

  explicit PeerStream(v1::ReplicaService::Stub* stub) : stub_(stub) {}
  // REQUIRES: no stream open (Close() was called and drained).
  ~PeerStream();

  void Submit(const v1::StoreRequest& request, absl::Time deadline, Done done);
  // Fails the stream if a request waits past its deadline.
  void Expire(absl::Time now);
  // Cancels the stream and waits until its callbacks are over.
  void Close();

 private:
  struct Entry {
    v1::StoreRequest request;
    absl::Time deadline;
    Done done;
  };
  class Reactor;

  void SendLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnWriteDone(bool ok);
  // Answers the batches `ack` covers, each write OK unless it is refused.
  void OnAck(const v1::StoreBatchAck& ack);
  void OnStreamDone(const grpc::Status& status);

  v1::ReplicaService::Stub* const stub_;
  absl::Mutex mu_;
  Reactor* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Entry> queued_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::vector<Entry>> in_flight_ ABSL_GUARDED_BY(mu_);
  // The open stream was cancelled by Expire.
  bool expired_ ABSL_GUARDED_BY(mu_) = false;
  // Callbacks of a closed stream still running (Close waits for them).
  int draining_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_PEER_STREAM_H_
