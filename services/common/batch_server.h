// The server side of every batched stream: a caller sends batches of calls
// on one long-lived bidirectional stream and the server answers them on
// it. ListService.Calls (call_batches.h) and ReplicaService.StoreStream
// and FetchStream (replica_service.cc) are this one mechanism with their
// own BatchProtocol: what a call is and how answers go on the wire.
//
// Model. A batch's calls start as soon as it is read (the protocol's Open
// turns the batch into calls), and the next batch is read once they all
// have, while a stream holds fewer than kMaxCallsInFlight calls running or
// answered but not yet written (and under kMaxUnwrittenBytes of such
// answers); past that, calls wait to start and reading waits (the caller's
// flow control then holds its writes). So a caller that sends a huge
// batch, or reads no replies, holds a bounded amount of the server. Every
// answer goes to the protocol, which says what message is ready to write
// next; answers that come while one is on the wire go together in the
// next. The stream ends OK once the caller has closed its side and every
// call is answered and written; a write that fails, an Open that refuses
// its batch, or a cancellation ends it at once, and calls still running
// are answered into nothing.
//
// Drain (BatchStreams) is the server's shutdown: calls read but not started
// are answered UNAVAILABLE without running (so the caller may send them
// elsewhere), running ones are answered and written, and the stream ends
// OK, instead of gRPC's Shutdown waiting its whole grace for a caller that
// never closes its side (a proxy's or a peer's stream) and then cancelling
// calls whose answers were on their way.
//
// Thread-safe: a reactor is driven by gRPC threads and by whatever thread
// a call's `done` runs on. See BatchProtocol for what runs under its lock.
#ifndef SHOPLIST_SERVICES_COMMON_BATCH_SERVER_H_
#define SHOPLIST_SERVICES_COMMON_BATCH_SERVER_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"

namespace shoplist {

// Calls a stream may hold running or answered and not yet written.
inline constexpr size_t kMaxCallsInFlight = 4096;
// Answers not yet written past which no call starts and nothing is read.
inline constexpr size_t kMaxUnwrittenBytes = 16 << 20;

inline constexpr const char* kShuttingDown = "the server is shutting down";

// One call of a batch.
class BatchCall {
 public:
  using Done = std::function<void(const grpc::Status&)>;
  virtual ~BatchCall() = default;
  // Serves the call and runs `done` once, on this thread or another; `done`
  // does not block. The call stays alive until its answer is given to the
  // protocol.
  virtual void Serve(Done done) = 0;
};

// What one kind of batched stream reads and writes. A protocol object
// belongs to one stream.
template <typename In, typename Out>
class BatchProtocol {
 public:
  using Calls = std::vector<std::unique_ptr<BatchCall>>;
  virtual ~BatchProtocol() = default;

  // Turns the batch just read into its calls, in order (moving out of
  // `batch`). A non-OK status ends the stream with it, and none of the
  // batch's calls runs. Runs outside the stream's lock, one batch at a
  // time, in the order batches are read.
  virtual grpc::Status Open(In& batch, Calls& calls) = 0;
  // `call` of an opened batch was served with `status`, or refused
  // unserved (UNAVAILABLE while draining). Under the stream's lock, once
  // per call, and only until the stream has finished.
  virtual void Answer(std::unique_ptr<BatchCall> call,
                      const grpc::Status& status) = 0;
  // Moves the next message to write into `out`; false when none is ready.
  // Under the stream's lock.
  virtual bool Take(Out& out) = 0;
  // Answers Take would write (how many, and their encoded bytes). Under the
  // stream's lock.
  virtual size_t unwritten() const = 0;
  virtual size_t unwritten_bytes() const = 0;
};

// The streams one service serves, so that the server's shutdown can drain
// them (see the top). Drain also drains every stream opened later.
//
// Thread-safe. It must outlive the streams.
class BatchStreams {
 public:
  // One stream as BatchStreams sees it.
  class Stream {
   public:
    virtual void Drain() = 0;

   protected:
    ~Stream() = default;
  };

  void Drain() {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    // Under mu_, so that no stream is deleted meanwhile (its destructor
    // waits in Remove).
    for (Stream* stream : live_) stream->Drain();
  }

  void Add(Stream* stream) {
    bool drain;
    {
      absl::MutexLock lock(&mu_);
      live_.insert(stream);
      drain = draining_;
    }
    if (drain) stream->Drain();
  }

  void Remove(Stream* stream) {
    absl::MutexLock lock(&mu_);
    live_.erase(stream);
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_set<Stream*> live_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

// The reactor of one batched stream; it deletes itself once gRPC is done
// with it and every call it started has been answered. `streams`, when
// set, tracks it for Drain.
template <typename In, typename Out>
class BatchReactor final : public grpc::ServerBidiReactor<In, Out>,
                           private BatchStreams::Stream {
 public:
  using Protocol = BatchProtocol<In, Out>;

  BatchReactor(std::unique_ptr<Protocol> protocol, BatchStreams* streams)
      : streams_(streams), protocol_(std::move(protocol)) {
    {
      absl::MutexLock lock(&mu_);
      this->StartRead(&in_);
    }
    if (streams_ != nullptr) streams_->Add(this);
  }

  ~BatchReactor() {
    if (streams_ != nullptr) streams_->Remove(this);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      reading_done_ = true;
      MaybeFinishLocked();
      return;
    }
    // `in_` is ours until reading_ is cleared: no other read starts.
    typename Protocol::Calls calls;
    grpc::Status opened = protocol_->Open(in_, calls);
    in_.Clear();
    bool pump = false;
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      if (!opened.ok()) {
        FinishLocked(opened);
        return;
      }
      for (std::unique_ptr<BatchCall>& call : calls) {
        if (finished_) break;
        if (draining_) {
          protocol_->Answer(
              std::move(call),
              grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown));
        } else {
          pending_.push_back(std::move(call));
        }
      }
      WriteLocked();
      MaybeFinishLocked();
      pump = PumpOrReadLocked();
    }
    if (pump) PumpLoop();
  }

  void OnWriteDone(bool ok) override {
    bool pump = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                  "writing the answers failed"));
        return;
      }
      WriteLocked();
      MaybeFinishLocked();
      // Written answers make room for calls waiting to start.
      pump = PumpOrReadLocked();
    }
    if (pump) PumpLoop();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    bool last;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      last = LastLocked();
    }
    if (last) delete this;
  }

 private:
  // BatchStreams::Drain.
  void Drain() override {
    absl::MutexLock lock(&mu_);
    if (finished_ || draining_) return;
    draining_ = true;
    const grpc::Status refused(grpc::StatusCode::UNAVAILABLE, kShuttingDown);
    for (std::unique_ptr<BatchCall>& call : pending_) {
      protocol_->Answer(std::move(call), refused);
    }
    pending_.clear();
    WriteLocked();
    MaybeFinishLocked();
    ReadLocked();
  }

  // Room for one more call: answers not yet written count, so a caller
  // that reads no replies stops the stream's reading instead of filling
  // memory with them.
  bool RoomLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return running_ + protocol_->unwritten() < kMaxCallsInFlight &&
           protocol_->unwritten_bytes() < kMaxUnwrittenBytes;
  }

  // One thread at a time starts calls (the pump), so a call that answers
  // on the calling thread does not recurse into starting the next one.
  // True when calls wait to start and the caller has become the pump, so
  // it must run PumpLoop; otherwise the pump running is told to look
  // again, or, with no call waiting, the next batch is read if it may be.
  bool PumpOrReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || pending_.empty()) {
      ReadLocked();
      return false;
    }
    if (pumping_) {
      pump_again_ = true;
      return false;
    }
    pumping_ = true;
    return true;
  }

  // Starts waiting calls while there is room, outside the lock; then reads
  // the next batch if every call of this one has started. The reactor
  // stays alive while it runs.
  void PumpLoop() {
    bool last;
    while (true) {
      std::vector<BatchCall*> start;
      {
        absl::MutexLock lock(&mu_);
        while (!finished_ && !pending_.empty() && RoomLocked()) {
          start.push_back(pending_.front().release());
          pending_.pop_front();
          ++running_;
        }
        if (start.empty() && !pump_again_) {
          pumping_ = false;
          ReadLocked();
          last = LastLocked();
          break;
        }
        pump_again_ = false;
      }
      for (BatchCall* call : start) {
        call->Serve([this, call](const grpc::Status& status) {
          Answered(call, status);
        });
      }
    }
    if (last) delete this;
  }

  void Answered(BatchCall* call, const grpc::Status& status) {
    std::unique_ptr<BatchCall> owned(call);
    bool pump = false;
    bool last;
    {
      absl::MutexLock lock(&mu_);
      --running_;
      if (!finished_) {
        protocol_->Answer(std::move(owned), status);
        WriteLocked();
        MaybeFinishLocked();
        pump = PumpOrReadLocked();
      }
      last = LastLocked();
    }
    if (last) {
      delete this;
    } else if (pump) {
      PumpLoop();
    }
  }

  // Reads the next batch unless one is being read, the caller is done,
  // calls of the last batch wait to start, or there is no room. A draining
  // stream reads on, to refuse at once what arrives until it ends.
  void ReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reading_ || reading_done_ || finished_ || !pending_.empty() ||
        !RoomLocked()) {
      return;
    }
    reading_ = true;
    this->StartRead(&in_);
  }

  void WriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_) return;
    out_.Clear();
    if (!protocol_->Take(out_)) return;
    writing_ = true;
    this->StartWrite(&out_);
  }

  // Ends the stream OK once the caller has closed its side (or the server
  // drains) and every call is answered and written.
  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if ((reading_done_ || draining_) && running_ == 0 && pending_.empty() &&
        protocol_->unwritten() == 0 && !writing_) {
      FinishLocked(grpc::Status::OK);
    }
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    pending_.clear();
    this->Finish(status);
  }

  // Whether nothing will use this reactor again: gRPC is done with it, no
  // call runs and no thread is starting calls.
  bool LastLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return done_ && running_ == 0 && !pumping_;
  }

  BatchStreams* const streams_;
  absl::Mutex mu_;
  const std::unique_ptr<Protocol> protocol_ ABSL_PT_GUARDED_BY(mu_);
  // Read into while reading_; Open's alone until reading_ is cleared.
  In in_;
  Out out_ ABSL_GUARDED_BY(mu_);
  // Calls read and not yet started, in order.
  std::deque<std::unique_ptr<BatchCall>> pending_ ABSL_GUARDED_BY(mu_);
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = true;  // the constructor's read
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool pumping_ ABSL_GUARDED_BY(mu_) = false;
  bool pump_again_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

// A new stream's reactor, serving `protocol`.
template <typename In, typename Out>
grpc::ServerBidiReactor<In, Out>* NewBatchReactor(
    std::unique_ptr<BatchProtocol<In, Out>> protocol, BatchStreams* streams) {
  return new BatchReactor<In, Out>(std::move(protocol), streams);
}

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_BATCH_SERVER_H_
