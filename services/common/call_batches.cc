#include "services/common/call_batches.h"

#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "shoplist/v1/list_service.grpc.pb.h"

namespace shoplist {
namespace {

// A reply batch stays well under the message limit; a single answer may
// be as large as its unary method allows.
constexpr size_t kMaxReplyBatchBytes = 1 << 20;
// Answers not yet written past which no call starts and nothing is read.
constexpr size_t kMaxReadyBytes = 16 << 20;

// One call being served: what the handler reads and writes until `done`.
struct Running {
  v1::Call call;
  v1::Reply reply;
  absl::Time start;
};

const std::string& MethodName(v1::Call::MethodCase method) {
  static const auto* names = [] {
    const std::string prefix =
        absl::StrCat("/", v1::ListService::service_full_name(), "/");
    return new absl::flat_hash_map<v1::Call::MethodCase, std::string>{
        {v1::Call::kGet, prefix + "Get"},
        {v1::Call::kSync, prefix + "Sync"},
        {v1::Call::kApply, prefix + "Apply"},
        {v1::Call::METHOD_NOT_SET, prefix + "Calls"}};
  }();
  return names->at(method);
}

}  // namespace

class CallsReactor final
    : public grpc::ServerBidiReactor<v1::CallBatch, v1::ReplyBatch> {
 public:
  CallsReactor(CallHandler* handler, const CallRecorder& recorder,
               CallStreams* streams)
      : handler_(handler), recorder_(recorder), streams_(streams) {
    {
      absl::MutexLock lock(&mu_);
      StartRead(&in_);
    }
    if (streams_ != nullptr) streams_->Add(this);
  }

  ~CallsReactor() override {
    if (streams_ != nullptr) streams_->Remove(this);
  }

  void OnReadDone(bool ok) override {
    bool pump = false;
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      if (!ok) {
        reading_done_ = true;
        MaybeFinishLocked();
        return;
      }
      for (v1::Call& call : *in_.mutable_calls()) {
        if (call.method_case() == v1::Call::METHOD_NOT_SET) {
          RefuseLocked(call.id(), grpc::StatusCode::INVALID_ARGUMENT,
                       "a call names no method");
        } else if (draining_) {
          RefuseLocked(call.id(), grpc::StatusCode::UNAVAILABLE, kShuttingDown);
        } else if (!ids_.insert(call.id()).second) {
          RefuseLocked(call.id(), grpc::StatusCode::INVALID_ARGUMENT,
                       "a call's id is already in flight");
        } else {
          auto running = std::make_unique<Running>();
          running->call = std::move(call);
          running->reply.set_id(running->call.id());
          pending_.push_back(std::move(running));
        }
      }
      in_.Clear();
      WriteLocked();
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
                                  "writing the replies failed"));
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

  // CallStreams::Drain: no more calls start; those read but not started
  // are refused, so the caller may send them elsewhere.
  void Drain() {
    absl::MutexLock lock(&mu_);
    if (finished_ || draining_) return;
    draining_ = true;
    for (const std::unique_ptr<Running>& running : pending_) {
      ids_.erase(running->call.id());
      RefuseLocked(running->call.id(), grpc::StatusCode::UNAVAILABLE,
                   kShuttingDown);
    }
    pending_.clear();
    WriteLocked();
    MaybeFinishLocked();
    ReadLocked();
  }

 private:
  static constexpr const char* kShuttingDown = "the server is shutting down";

  // Room for one more call: answers not yet written count, so a caller
  // that reads no replies stops the stream's reading instead of filling
  // memory with them.
  bool RoomLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return running_ + ready_.size() < kMaxCallsInFlight &&
           ready_bytes_ < kMaxReadyBytes;
  }

  // One thread at a time starts calls (the pump), so a handler that
  // answers on the calling thread does not recurse into starting the next
  // call. True when calls wait to start and the caller has become the pump,
  // so it must run PumpLoop; otherwise the pump running is told to look
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
      std::vector<Running*> start;
      {
        absl::MutexLock lock(&mu_);
        while (!finished_ && !pending_.empty() && RoomLocked()) {
          Running* running = pending_.front().release();
          pending_.pop_front();
          if (recorder_) running->start = absl::Now();
          start.push_back(running);
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
      for (Running* running : start) {
        handler_->Serve(running->call, &running->reply,
                        [this, running](const grpc::Status& status) {
                          Answered(running, status);
                        });
      }
    }
    if (last) delete this;
  }

  void Answered(Running* running, const grpc::Status& status) {
    std::unique_ptr<Running> owned(running);
    if (recorder_) {
      recorder_(MethodName(running->call.method_case()), status.error_code(),
                absl::ToDoubleSeconds(absl::Now() - running->start));
    }
    bool pump = false;
    bool last;
    {
      absl::MutexLock lock(&mu_);
      ids_.erase(running->call.id());
      --running_;
      if (!finished_) {
        v1::Reply& reply = running->reply;
        reply.set_code(status.error_code());
        if (!status.ok()) {
          reply.set_message(status.error_message());
          reply.clear_method();
        } else if (reply.ByteSizeLong() > kMaxBatchedBytes) {
          reply.clear_method();
          reply.set_code(grpc::StatusCode::RESOURCE_EXHAUSTED);
          reply.set_message("the answer is larger than a message may be");
        }
        PutReadyLocked(std::move(reply));
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

  void RefuseLocked(uint64_t id, grpc::StatusCode code, const char* why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    v1::Reply reply;
    reply.set_id(id);
    reply.set_code(code);
    reply.set_message(why);
    PutReadyLocked(std::move(reply));
  }

  void PutReadyLocked(v1::Reply reply) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ready_bytes_ += reply.ByteSizeLong();
    ready_.push_back(std::move(reply));
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
    StartRead(&in_);
  }

  void WriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || ready_.empty()) return;
    out_.Clear();
    size_t bytes = 0;
    size_t taken = 0;
    while (taken < ready_.size() &&
           (taken == 0 ||
            bytes + ready_[taken].ByteSizeLong() < kMaxReplyBatchBytes)) {
      bytes += ready_[taken].ByteSizeLong();
      *out_.add_replies() = std::move(ready_[taken]);
      ++taken;
    }
    ready_.erase(ready_.begin(), ready_.begin() + taken);
    ready_bytes_ -= bytes;
    writing_ = true;
    StartWrite(&out_);
  }

  // Ends the stream OK once the caller has closed its side (or the server
  // drains) and every call is answered and written.
  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if ((reading_done_ || draining_) && running_ == 0 && pending_.empty() &&
        ready_.empty() && !writing_) {
      FinishLocked(grpc::Status::OK);
    }
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    ready_.clear();
    ready_bytes_ = 0;
    pending_.clear();
    Finish(status);
  }

  // Whether nothing will use this reactor again: gRPC is done with it, no
  // call runs and no thread is starting calls.
  bool LastLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return done_ && running_ == 0 && !pumping_;
  }

  CallHandler* const handler_;
  const CallRecorder recorder_;
  CallStreams* const streams_;
  absl::Mutex mu_;
  v1::CallBatch in_ ABSL_GUARDED_BY(mu_);
  v1::ReplyBatch out_ ABSL_GUARDED_BY(mu_);
  // Ids of the calls read and not yet answered.
  absl::flat_hash_set<uint64_t> ids_ ABSL_GUARDED_BY(mu_);
  // Calls read and not yet started, in order.
  std::deque<std::unique_ptr<Running>> pending_ ABSL_GUARDED_BY(mu_);
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  // Answers not yet on the wire, and their encoded size.
  std::vector<v1::Reply> ready_ ABSL_GUARDED_BY(mu_);
  size_t ready_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = true;  // the constructor's read
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool pumping_ ABSL_GUARDED_BY(mu_) = false;
  bool pump_again_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

void CallStreams::Add(CallsReactor* reactor) {
  bool drain;
  {
    absl::MutexLock lock(&mu_);
    live_.insert(reactor);
    drain = draining_;
  }
  if (drain) reactor->Drain();
}

void CallStreams::Remove(CallsReactor* reactor) {
  absl::MutexLock lock(&mu_);
  live_.erase(reactor);
}

void CallStreams::Drain() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  // Under mu_, so that no reactor is deleted meanwhile (its destructor
  // waits in Remove).
  for (CallsReactor* reactor : live_) reactor->Drain();
}

grpc::ServerBidiReactor<v1::CallBatch, v1::ReplyBatch>* NewCallsReactor(
    CallHandler* handler, const CallRecorder& recorder, CallStreams* streams) {
  return new CallsReactor(handler, recorder, streams);
}

}  // namespace shoplist
