#include "services/node/peer_stream.h"

#include <utility>

namespace shoplist::node {
namespace {

// A batch stays well under the message limit.
constexpr size_t kMaxBatchBytes = 1 << 20;

}  // namespace

class PeerStream::Reactor final
    : public grpc::ClientBidiReactor<v1::StoreBatch, v1::StoreBatchAck> {
 public:
  explicit Reactor(PeerStream* owner) : owner_(owner) {}

  void OnWriteDone(bool ok) override { owner_->OnWriteDone(ok); }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    owner_->OnAck(ack_);
    StartRead(&ack_);
  }
  void OnDone(const grpc::Status& status) override {
    owner_->OnStreamDone(status);
    delete this;
  }

  grpc::ClientContext context;
  v1::StoreBatch batch;
  v1::StoreBatchAck ack_;

 private:
  PeerStream* const owner_;
};

PeerStream::~PeerStream() { Close(); }

void PeerStream::Submit(const v1::StoreRequest& request, absl::Time deadline,
                        Done done) {
  absl::MutexLock lock(&mu_);
  queued_.push_back({request, deadline, std::move(done)});
  if (reactor_ == nullptr) {
    reactor_ = new Reactor(this);
    stub_->async()->StoreStream(&reactor_->context, reactor_);
    reactor_->StartRead(&reactor_->ack_);
    reactor_->StartCall();
  }
  SendLocked();
}

void PeerStream::SendLocked() {
  if (writing_ || reactor_ == nullptr || queued_.empty()) return;
  v1::StoreBatch& batch = reactor_->batch;
  batch.Clear();
  batch.set_sequence(++sequence_);
  std::vector<Entry>& sent = in_flight_[sequence_];
  size_t bytes = 0;
  while (!queued_.empty() &&
         (sent.empty() ||
          bytes + queued_.front().request.ByteSizeLong() < kMaxBatchBytes)) {
    bytes += queued_.front().request.ByteSizeLong();
    *batch.add_writes() = queued_.front().request;
    sent.push_back(std::move(queued_.front()));
    queued_.pop_front();
  }
  writing_ = true;
  reactor_->StartWrite(&batch);
}

void PeerStream::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (ok) SendLocked();  // else the stream is broken: OnStreamDone follows
}

void PeerStream::OnAck(const v1::StoreBatchAck& ack) {
  std::vector<std::pair<Entry, grpc::Status>> answered;
  {
    absl::MutexLock lock(&mu_);
    while (!in_flight_.empty() && in_flight_.begin()->first <= ack.sequence()) {
      const uint64_t sequence = in_flight_.begin()->first;
      std::vector<Entry>& entries = in_flight_.begin()->second;
      std::vector<grpc::Status> status(entries.size(), grpc::Status::OK);
      for (const v1::StoreBatchAck::Refusal& r : ack.refused()) {
        if (r.sequence() == sequence && r.index() < entries.size()) {
          status[r.index()] = grpc::Status(
              static_cast<grpc::StatusCode>(r.code()), r.message());
        }
      }
      for (size_t i = 0; i < entries.size(); ++i) {
        answered.emplace_back(std::move(entries[i]), std::move(status[i]));
      }
      in_flight_.erase(in_flight_.begin());
    }
  }
  for (auto& [entry, status] : answered) entry.done(status);
}

void PeerStream::OnStreamDone(const grpc::Status& status) {
  std::vector<Entry> failed;
  grpc::Status why = status;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [sequence, entries] : in_flight_) {
      for (Entry& e : entries) failed.push_back(std::move(e));
    }
    in_flight_.clear();
    for (Entry& e : queued_) failed.push_back(std::move(e));
    queued_.clear();
    if (expired_) {
      why = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                         "the replica did not acknowledge in time");
    } else if (status.ok()) {
      why = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                         "replication stream closed");
    }
    expired_ = false;
    reactor_ = nullptr;
    writing_ = false;
    ++draining_;
  }
  for (Entry& e : failed) e.done(why);
  absl::MutexLock lock(&mu_);
  --draining_;
}

void PeerStream::Expire(absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (reactor_ == nullptr) return;
  bool late = !queued_.empty() && queued_.front().deadline <= now;
  for (const auto& [sequence, entries] : in_flight_) {
    for (const Entry& e : entries) late |= e.deadline <= now;
  }
  // Cancelling ends the stream; OnStreamDone fails what was waiting.
  if (late) {
    expired_ = true;
    reactor_->context.TryCancel();
  }
}

void PeerStream::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (reactor_ != nullptr) reactor_->context.TryCancel();
  }
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](PeerStream* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return s->reactor_ == nullptr && s->draining_ == 0;
      },
      this));
}

}  // namespace shoplist::node
