// The client side of every batched stream (batch_server.h is the server's):
// requests to one server over one long-lived bidirectional stream, every
// request submitted while the previous batch is on the wire going in the
// next batch. This turns one RPC per call into one message per round trip:
// a proxy's calls to a node (NodeCalls, node_calls.h), a node's writes and
// fetches to a peer (PeerStream and FetchPeerStream, peer_stream.h). A
// Protocol says what a batch and its answers look like.
//
// Failures keep the unary semantics. When the stream ends, every request
// not yet answered fails with UNAVAILABLE, or UNIMPLEMENTED when the server
// has no such method (an older version: the owner falls back to unary
// calls). Expire checks deadlines: with answers in any order, a late
// request fails alone with DEADLINE_EXCEEDED and its late answer is
// dropped; with answers in batch order, a late request means the ones
// behind it wait too, so the stream is cancelled and every request not yet
// answered fails with DEADLINE_EXCEEDED. Either way, a request not yet sent
// is dropped with it. The next Submit opens a new stream.
//
// A Protocol provides:
//   Stub, Request, Batch, Reply, Done,
//   Answer                               types (Answer: what a request's
//                                        answer is; may be void);
//   kInOrder                             whether the server answers batches
//                                        in order, by sequence;
//   kPeer                                what the server is, for messages;
//   Open(stub, context, stream)          binds the stream to its method;
//   Add(batch, request, key)             puts a request into a batch (key
//                                        is the client's id for it);
//   Seal(batch, sequence)                numbers a batch (kInOrder);
//   Failed(done, status)                 runs `done` for a request with no
//                                        answer;
//   with kInOrder, Newest(reply), the newest batch it answers, and
//   Answers(reply, sequence, count, f), which calls f(index, status,
//                                        answer) for each request of that
//                                        batch;
//   else Answers(reply, f), which calls f(key, status, answer) for each
//                                        answer in `reply`;
//   Deliver(done, status, answer)        runs `done` with an answer (null
//                                        for a reply that does not fit).
//
// Thread-safe. Callbacks run on gRPC threads or the caller of Expire or
// Close, never under the lock, so they may submit again.
#ifndef SHOPLIST_SERVICES_COMMON_BATCH_CLIENT_H_
#define SHOPLIST_SERVICES_COMMON_BATCH_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "services/common/client_stream.h"

namespace shoplist {

// A batch stays well under the message limit; a single request may be as
// large as its unary method allows.
inline constexpr size_t kMaxRequestBatchBytes = 1 << 20;

template <typename Protocol>
class BatchClient {
 public:
  using Stub = typename Protocol::Stub;
  using Request = typename Protocol::Request;
  using Done = typename Protocol::Done;

  // `stub` must outlive this object.
  explicit BatchClient(Stub* stub) : stub_(stub) {}
  // Close()s.
  ~BatchClient() { Close(); }

  BatchClient(const BatchClient&) = delete;
  BatchClient& operator=(const BatchClient&) = delete;

  // Sends `request` and runs `done` once. After Close, fails at once with
  // UNAVAILABLE: a stream opened now would outlive Close, which waits for
  // it.
  void Submit(Request request, absl::Time deadline, Done done) {
    {
      absl::MutexLock lock(&mu_);
      if (!closed_) {
        const uint64_t key = ++next_key_;
        queued_.emplace_back(key, std::move(request));
        waiting_.emplace(key, Waiting{deadline, std::move(done)});
        if (stream_ == nullptr) {
          stream_ = Stream::Start(
              this, [this](grpc::ClientContext* context, Stream* stream) {
                Protocol::Open(stub_, context, stream);
              });
          open_ = true;
        }
        SendLocked();
        return;
      }
    }
    Protocol::Failed(
        done, grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
  }

  // Fails what waits past its deadline (see the top).
  void Expire(absl::Time now) {
    std::vector<Done> late;
    {
      absl::MutexLock lock(&mu_);
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (it->second.deadline > now) {
          ++it;
        } else if constexpr (Protocol::kInOrder) {
          // Cancelling ends the stream; OnStreamDone fails what waited.
          if (stream_ != nullptr) {
            expired_ = true;
            stream_->context.TryCancel();
          }
          break;
        } else {
          late.push_back(std::move(it->second.done));
          waiting_.erase(it++);
        }
      }
      // Their requests too: a server that stopped reading holds the write
      // in flight, and nothing else would drop what queues behind it.
      if (!late.empty()) {
        std::erase_if(queued_, [this](const auto& queued) {
          return !waiting_.contains(queued.first);
        });
      }
    }
    const grpc::Status why(
        grpc::StatusCode::DEADLINE_EXCEEDED,
        absl::StrCat(Protocol::kPeer, " did not answer in time"));
    for (Done& done : late) Protocol::Failed(done, why);
  }

  // Requests submitted and not yet handed to the stream.
  size_t queued() {
    absl::MutexLock lock(&mu_);
    return queued_.size();
  }

  // Cancels the stream and waits until its callbacks are over; requests
  // not answered fail, and so does every later Submit.
  void Close() {
    {
      absl::MutexLock lock(&mu_);
      closed_ = true;
      if (stream_ != nullptr) stream_->context.TryCancel();
    }
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](BatchClient* c) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return c->stream_ == nullptr && c->draining_ == 0;
        },
        this));
  }

 private:
  using Batch = typename Protocol::Batch;
  using Reply = typename Protocol::Reply;
  using Stream = ClientStream<BatchClient, Batch, Reply>;
  friend Stream;

  struct Waiting {
    absl::Time deadline;
    Done done;
  };
  // The keys of a batch sent (kInOrder): first, first + 1, ...
  struct Sent {
    uint64_t first;
    size_t count;
  };

  void SendLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || stream_ == nullptr || !open_) return;
    Batch& batch = stream_->out;
    batch.Clear();
    size_t bytes = 0;
    size_t count = 0;
    uint64_t first = 0;
    while (!queued_.empty()) {
      auto& [key, request] = queued_.front();
      if (!waiting_.contains(key)) {  // expired before it was sent
        queued_.pop_front();
        continue;
      }
      const size_t size = request.ByteSizeLong();
      if (count > 0 && bytes + size >= kMaxRequestBatchBytes) break;
      // Keys of a batch are consecutive: only expiry skips keys, and an
      // ordered stream expires as a whole.
      if (count == 0) first = key;
      bytes += size;
      Protocol::Add(batch, std::move(request), key);
      ++count;
      queued_.pop_front();
    }
    if (count == 0) return;
    if constexpr (Protocol::kInOrder) {
      Protocol::Seal(batch, ++sequence_);
      sent_[sequence_] = Sent{first, count};
    }
    writing_ = true;
    stream_->StartWrite(&batch);
  }

  // The stream's callbacks (client_stream.h).
  void OnStreamWriteDone(bool ok) {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (ok) SendLocked();  // else the stream is broken: OnStreamDone follows
  }

  void OnStreamRead(Reply& reply) {
    using Answer = typename Protocol::Answer;
    std::vector<std::tuple<Done, grpc::Status, Answer*>> answered;
    {
      absl::MutexLock lock(&mu_);
      auto take = [&](uint64_t key, grpc::Status status, Answer* answer) {
        auto it = waiting_.find(key);
        if (it == waiting_.end()) return;  // expired
        answered.emplace_back(std::move(it->second.done), std::move(status),
                              answer);
        waiting_.erase(it);
      };
      if constexpr (Protocol::kInOrder) {
        const uint64_t newest = Protocol::Newest(reply);
        while (!sent_.empty() && sent_.begin()->first <= newest) {
          const uint64_t sequence = sent_.begin()->first;
          const Sent sent = sent_.begin()->second;
          sent_.erase(sent_.begin());
          Protocol::Answers(
              reply, sequence, sent.count,
              [&](size_t index, grpc::Status status, Answer* answer) {
                take(sent.first + index, std::move(status), answer);
              });
        }
      } else {
        Protocol::Answers(reply, take);
      }
    }
    // The answers point into `reply`, which stays until the next read.
    for (auto& [done, status, answer] : answered) {
      Protocol::Deliver(done, status, answer);
    }
  }

  void OnStreamReadsEnded() {
    // Requests submitted from now on wait for OnStreamDone, which fails
    // them with the stream's status; the next Submit after it opens a new
    // stream.
    absl::MutexLock lock(&mu_);
    open_ = false;
  }

  void OnStreamDone(const grpc::Status& status) {
    std::vector<Done> failed;
    grpc::Status why;
    {
      absl::MutexLock lock(&mu_);
      for (auto& [key, waiting] : waiting_) {
        failed.push_back(std::move(waiting.done));
      }
      waiting_.clear();
      queued_.clear();
      sent_.clear();
      // As a broken unary call: UNAVAILABLE, so the caller goes to the
      // next replica; UNIMPLEMENTED tells it to use unary calls instead.
      if (expired_) {
        why = grpc::Status(
            grpc::StatusCode::DEADLINE_EXCEEDED,
            absl::StrCat(Protocol::kPeer, " did not answer in time"));
      } else if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
        why = status;
      } else {
        why = grpc::Status(
            grpc::StatusCode::UNAVAILABLE,
            status.ok() ? absl::StrCat(Protocol::kPeer, " closed the stream")
                        : absl::StrCat("the stream to ", Protocol::kPeer,
                                       " broke: ", status.error_message()));
      }
      expired_ = false;
      stream_ = nullptr;
      open_ = false;
      writing_ = false;
      ++draining_;
    }
    for (Done& done : failed) Protocol::Failed(done, why);
  }

  void OnStreamGone() {
    absl::MutexLock lock(&mu_);
    --draining_;
  }

  Stub* const stub_;
  absl::Mutex mu_;
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  // Whether `stream_` may be written to: its reads have not ended.
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_key_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;
  // Requests not yet sent, in order; those no longer waiting are skipped.
  std::deque<std::pair<uint64_t, Request>> queued_ ABSL_GUARDED_BY(mu_);
  // Every request not yet answered, sent or not, by key.
  absl::flat_hash_map<uint64_t, Waiting> waiting_ ABSL_GUARDED_BY(mu_);
  // Batches sent and not yet answered, by sequence (kInOrder).
  std::map<uint64_t, Sent> sent_ ABSL_GUARDED_BY(mu_);
  // The open stream was cancelled by Expire.
  bool expired_ ABSL_GUARDED_BY(mu_) = false;
  // Ended streams whose reactor is not yet deleted (Close waits for them).
  int draining_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_BATCH_CLIENT_H_
