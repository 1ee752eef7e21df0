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

class NodeCalls::Reactor final
    : public grpc::ClientBidiReactor<v1::CallBatch, v1::ReplyBatch> {
 public:
  explicit Reactor(NodeCalls* owner) : owner_(owner) {}

  void OnWriteDone(bool ok) override { owner_->OnWriteDone(ok); }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    owner_->OnReplies(replies);
    replies.Clear();
    StartRead(&replies);
  }
  void OnDone(const grpc::Status& status) override {
    NodeCalls* owner = owner_;
    owner->OnStreamDone(status);
    delete this;  // and its ClientContext, before Close may return
    owner->OnReactorGone();
  }

  grpc::ClientContext context;
  v1::CallBatch batch;
  v1::ReplyBatch replies;

 private:
  NodeCalls* const owner_;
};

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
  if (reactor_ == nullptr) {
    reactor_ = new Reactor(this);
    stub_->async()->Calls(&reactor_->context, reactor_);
    reactor_->StartRead(&reactor_->replies);
    reactor_->StartCall();
  }
  SendLocked();
}

void NodeCalls::SendLocked() {
  if (writing_ || reactor_ == nullptr) return;
  v1::CallBatch& batch = reactor_->batch;
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
  reactor_->StartWrite(&batch);
}

void NodeCalls::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (ok) SendLocked();  // else the stream is broken: OnStreamDone follows
}

void NodeCalls::OnReplies(v1::ReplyBatch& batch) {
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
    reactor_ = nullptr;
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

void NodeCalls::OnReactorGone() {
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
    if (reactor_ != nullptr) reactor_->context.TryCancel();
  }
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](NodeCalls* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return s->reactor_ == nullptr && s->draining_ == 0;
      },
      this));
}

}  // namespace shoplist::proxy
