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

// One call and the reply the handler writes into.
class OneCall final : public BatchCall {
 public:
  // `refusal`, when not OK, answers the call without serving it.
  OneCall(v1::Call call, CallHandler* handler, const CallRecorder* recorder,
          grpc::Status refusal)
      : call_(std::move(call)),
        handler_(handler),
        recorder_(recorder),
        refusal_(std::move(refusal)) {
    reply_.set_id(call_.id());
  }

  void Serve(Done done) override {
    if (!refusal_.ok()) {
      done(refusal_);
      return;
    }
    if (!*recorder_) {
      handler_->Serve(call_, &reply_, std::move(done));
      return;
    }
    const absl::Time start = absl::Now();
    handler_->Serve(
        call_, &reply_,
        [this, start, done = std::move(done)](const grpc::Status& s) {
          (*recorder_)(MethodName(call_.method_case()), s.error_code(),
                       absl::ToDoubleSeconds(absl::Now() - start));
          done(s);
        });
  }

  uint64_t id() const { return call_.id(); }
  // Whether the call holds its id on the stream (it was not refused at
  // once).
  bool holds_id() const { return refusal_.ok(); }
  v1::Reply& reply() { return reply_; }

 private:
  const v1::Call call_;
  CallHandler* const handler_;
  const CallRecorder* const recorder_;
  const grpc::Status refusal_;
  v1::Reply reply_;
};

class CallsProtocol final
    : public BatchProtocol<v1::CallBatch, v1::ReplyBatch> {
 public:
  CallsProtocol(CallHandler* handler, const CallRecorder& recorder)
      : handler_(handler), recorder_(recorder) {}

  grpc::Status Open(v1::CallBatch& batch, Calls& calls) override {
    absl::MutexLock lock(&ids_mu_);
    for (v1::Call& call : *batch.mutable_calls()) {
      grpc::Status refusal;
      if (call.method_case() == v1::Call::METHOD_NOT_SET) {
        refusal = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                               "a call names no method");
      } else if (!ids_.insert(call.id()).second) {
        refusal = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                               "a call's id is already in flight");
      }
      calls.push_back(std::make_unique<OneCall>(std::move(call), handler_,
                                                &recorder_, refusal));
    }
    return grpc::Status::OK;
  }

  void Answer(std::unique_ptr<BatchCall> answered,
              const grpc::Status& status) override {
    auto& call = static_cast<OneCall&>(*answered);
    if (call.holds_id()) {
      absl::MutexLock lock(&ids_mu_);
      ids_.erase(call.id());
    }
    v1::Reply& reply = call.reply();
    reply.set_code(status.error_code());
    if (!status.ok()) {
      reply.set_message(status.error_message());
      reply.clear_method();
    } else if (reply.ByteSizeLong() > kMaxBatchedBytes) {
      reply.clear_method();
      reply.set_code(grpc::StatusCode::RESOURCE_EXHAUSTED);
      reply.set_message("the answer is larger than a message may be");
    }
    ready_bytes_ += reply.ByteSizeLong();
    ready_.push_back(std::move(reply));
  }

  bool Take(v1::ReplyBatch& out) override {
    if (ready_.empty()) return false;
    size_t bytes = 0;
    size_t taken = 0;
    while (taken < ready_.size() &&
           (taken == 0 ||
            bytes + ready_[taken].ByteSizeLong() < kMaxReplyBatchBytes)) {
      bytes += ready_[taken].ByteSizeLong();
      *out.add_replies() = std::move(ready_[taken]);
      ++taken;
    }
    ready_.erase(ready_.begin(), ready_.begin() + taken);
    ready_bytes_ -= bytes;
    return true;
  }

  size_t unwritten() const override { return ready_.size(); }
  size_t unwritten_bytes() const override { return ready_bytes_; }

 private:
  CallHandler* const handler_;
  const CallRecorder recorder_;
  // Ids of the calls read and not yet answered. Open runs outside the
  // stream's lock, so they have their own.
  absl::Mutex ids_mu_;
  absl::flat_hash_set<uint64_t> ids_ ABSL_GUARDED_BY(ids_mu_);
  // Answers not yet on the wire, and their encoded size (under the
  // stream's lock).
  std::vector<v1::Reply> ready_;
  size_t ready_bytes_ = 0;
};

}  // namespace

grpc::ServerBidiReactor<v1::CallBatch, v1::ReplyBatch>* NewCallsReactor(
    CallHandler* handler, const CallRecorder& recorder, BatchStreams* streams) {
  return NewBatchReactor<v1::CallBatch, v1::ReplyBatch>(
      std::make_unique<CallsProtocol>(handler, recorder), streams);
}

}  // namespace shoplist
