#include "services/common/call_batches.h"

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

class CallsReactor final
    : public grpc::ServerBidiReactor<v1::CallBatch, v1::ReplyBatch> {
 public:
  CallsReactor(CallHandler* handler, const CallRecorder& recorder)
      : handler_(handler), recorder_(recorder) {
    absl::MutexLock lock(&mu_);
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    std::vector<Running*> start;
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
          RefuseLocked(call.id(), "a call names no method");
        } else if (!ids_.insert(call.id()).second) {
          RefuseLocked(call.id(), "a call's id is already in flight");
        } else {
          auto* running = new Running;
          running->call = std::move(call);
          running->reply.set_id(running->call.id());
          if (recorder_) running->start = absl::Now();
          start.push_back(running);
        }
      }
      in_.Clear();
      running_ += start.size();
      ReadLocked();
      WriteLocked();
    }
    // Not under mu_: `done` may run on this thread.
    for (Running* running : start) {
      handler_->Serve(running->call, &running->reply,
                      [this, running](const grpc::Status& status) {
                        Answered(running, status);
                      });
    }
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                "writing the replies failed"));
      return;
    }
    WriteLocked();
    MaybeFinishLocked();
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
      last = running_ == 0;
    }
    if (last) delete this;
  }

 private:
  void Answered(Running* running, const grpc::Status& status) {
    std::unique_ptr<Running> owned(running);
    if (recorder_) {
      recorder_(MethodName(running->call.method_case()), status.error_code(),
                absl::ToDoubleSeconds(absl::Now() - running->start));
    }
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
        ready_.push_back(std::move(reply));
        ReadLocked();
        WriteLocked();
        MaybeFinishLocked();
      }
      last = done_ && running_ == 0;
    }
    if (last) delete this;
  }

  void RefuseLocked(uint64_t id, const char* why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    v1::Reply& reply = ready_.emplace_back();
    reply.set_id(id);
    reply.set_code(grpc::StatusCode::INVALID_ARGUMENT);
    reply.set_message(why);
  }

  // Reads the next batch unless one is being read, the caller is done, or
  // too many calls are running.
  void ReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reading_ || reading_done_ || finished_ ||
        running_ >= kMaxCallsInFlight) {
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
    writing_ = true;
    StartWrite(&out_);
  }

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reading_done_ && running_ == 0 && ready_.empty() && !writing_) {
      FinishLocked(grpc::Status::OK);
    }
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    ready_.clear();
    Finish(status);
  }

  CallHandler* const handler_;
  const CallRecorder recorder_;
  absl::Mutex mu_;
  v1::CallBatch in_ ABSL_GUARDED_BY(mu_);
  v1::ReplyBatch out_ ABSL_GUARDED_BY(mu_);
  // Ids of the calls running.
  absl::flat_hash_set<uint64_t> ids_ ABSL_GUARDED_BY(mu_);
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  // Answers not yet on the wire.
  std::vector<v1::Reply> ready_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = true;  // the constructor's read
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerBidiReactor<v1::CallBatch, v1::ReplyBatch>* NewCallsReactor(
    CallHandler* handler, const CallRecorder& recorder) {
  return new CallsReactor(handler, recorder);
}

}  // namespace shoplist
