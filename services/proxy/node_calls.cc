#include "services/proxy/node_calls.h"

#include <deque>
#include <utility>
#include <vector>

namespace shoplist::proxy {
namespace {

// A batch stays well under the message limit; a single call may be as
// large as its unary method allows.
constexpr size_t kMaxBatchBytes = 1 << 20;

}  // namespace

NodeCalls::~NodeCalls() { Close(); }

void NodeCalls::Submit(v1::Call call, absl::Time deadline, Done done) {
  {
    absl::MutexLock lock(&mu_);
    if (!closed_) {
      SubmitLocked(std::move(call), deadline, std::move(done));
      return;
    }
  }
  done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the proxy is closing"),
       nullptr);
}

void NodeCalls::SubmitLocked(v1::Call call, absl::Time deadline, Done done) {
  const uint64_t id = ++next_id_;
  call.set_id(id);
  queued_.push_back(std::move(call));
  waiting_.emplace(id, Waiting{deadline, std::move(done)});
  if (stream_ == nullptr) {
    stream_ = Stream::Start(
        this, [this](grpc::ClientContext* context, Stream* stream) {
          stub_->async()->Calls(context, stream);
        });
    open_ = true;
  }
  SendLocked();
}

void NodeCalls::SendLocked() {
  if (writing_ || stream_ == nullptr || !open_) return;
  v1::CallBatch& batch = stream_->out;
  batch.Clear();
  size_t bytes = 0;
  while (!queued_.empty()) {
    v1::Call& next = queued_.front();
    if (!waiting_.contains(next.id())) {  // expired before it was sent
      queued_.pop_front();
      continue;
    }
    const size_t size = next.ByteSizeLong();
    if (batch.calls_size() > 0 && bytes + size >= kMaxBatchBytes) break;
    bytes += size;
    *batch.add_calls() = std::move(next);
    queued_.pop_front();
  }
  if (batch.calls_size() == 0) return;
  writing_ = true;
  stream_->StartWrite(&batch);
}

void NodeCalls::OnStreamWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (ok) SendLocked();  // else the stream is broken: OnStreamDone follows
}

void NodeCalls::OnStreamRead(v1::ReplyBatch& batch) {
  std::vector<std::pair<Done, v1::Reply*>> answered;
  {
    absl::MutexLock lock(&mu_);
    for (v1::Reply& reply : *batch.mutable_replies()) {
      auto it = waiting_.find(reply.id());
      if (it == waiting_.end()) continue;  // expired meanwhile
      answered.emplace_back(std::move(it->second.done), &reply);
      waiting_.erase(it);
    }
  }
  for (auto& [done, reply] : answered) {
    done(grpc::Status(static_cast<grpc::StatusCode>(reply->code()),
                      reply->message()),
         reply);
  }
  batch.Clear();
}

void NodeCalls::OnStreamReadsEnded() {
  // Calls submitted from now on wait for OnStreamDone, which fails them
  // with the stream's status; the next Submit after it opens a new stream.
  absl::MutexLock lock(&mu_);
  open_ = false;
}

void NodeCalls::OnStreamDone(const grpc::Status& status) {
  std::vector<Done> failed;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, waiting] : waiting_) {
      failed.push_back(std::move(waiting.done));
    }
    waiting_.clear();
    queued_.clear();
    stream_ = nullptr;
    open_ = false;
    writing_ = false;
    ++draining_;
  }
  // As a broken unary call: UNAVAILABLE, so reads go to the next replica;
  // UNIMPLEMENTED tells the caller to use unary calls instead.
  grpc::Status why = status;
  if (status.error_code() != grpc::StatusCode::UNIMPLEMENTED) {
    why = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                       status.ok() ? "the node closed the stream"
                                   : "the stream to the node broke: " +
                                         status.error_message());
  }
  for (Done& done : failed) done(why, nullptr);
}

void NodeCalls::OnStreamGone() {
  absl::MutexLock lock(&mu_);
  --draining_;
}

void NodeCalls::Expire(absl::Time now) {
  std::vector<Done> late;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->second.deadline <= now) {
        late.push_back(std::move(it->second.done));
        waiting_.erase(it++);
      } else {
        ++it;
      }
    }
    // Their requests too: a node that stopped reading holds the write in
    // flight, and nothing else would drop what queues behind it.
    if (!late.empty()) {
      const auto& waiting = waiting_;
      std::erase_if(queued_, [&waiting](const v1::Call& call) {
        return !waiting.contains(call.id());
      });
    }
  }
  const grpc::Status why(grpc::StatusCode::DEADLINE_EXCEEDED,
                         "the node did not answer in time");
  for (Done& done : late) done(why, nullptr);
}

void NodeCalls::Close() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    if (stream_ != nullptr) stream_->context.TryCancel();
  }
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](NodeCalls* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return s->stream_ == nullptr && s->draining_ == 0;
      },
      this));
}

}  // namespace shoplist::proxy
