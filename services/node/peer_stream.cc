#include "services/node/peer_stream.h"

#include <utility>

namespace shoplist::node {
namespace {

// A batch stays well under the message limit.
constexpr size_t kMaxBatchBytes = 1 << 20;

}  // namespace

std::vector<StoreStreamTraits::Result> StoreStreamTraits::Take(
    Reply& reply, uint64_t sequence, size_t count) {
  std::vector<Result> results(count, grpc::Status::OK);
  for (const v1::StoreBatchAck::Refusal& r : reply.refused()) {
    if (r.sequence() == sequence && r.index() < count) {
      results[r.index()] =
          grpc::Status(static_cast<grpc::StatusCode>(r.code()), r.message());
    }
  }
  return results;
}

std::vector<FetchStreamTraits::Result> FetchStreamTraits::Take(
    Reply& reply, uint64_t sequence, size_t count) {
  std::vector<Result> results;
  results.reserve(count);
  if (reply.sequence() != sequence ||
      static_cast<size_t>(reply.results_size()) != count) {
    // Batches are answered one by one: a reply that skips one, or does not
    // answer each fetch, comes from a broken peer.
    results.assign(count, Failed(grpc::Status(
                              grpc::StatusCode::INTERNAL,
                              "the replica's reply does not match its batch")));
    return results;
  }
  for (v1::FetchBatchReply::Result& r : *reply.mutable_results()) {
    results.emplace_back(
        grpc::Status(static_cast<grpc::StatusCode>(r.code()), r.message()),
        std::move(*r.mutable_response()));
  }
  return results;
}

template <typename Traits>
BatchStream<Traits>::~BatchStream() {
  Close();
}

template <typename Traits>
void BatchStream<Traits>::Submit(const Request& request, absl::Time deadline,
                                 Done done) {
  {
    absl::MutexLock lock(&mu_);
    if (!closed_) {
      SubmitLocked(request, deadline, std::move(done));
      return;
    }
  }
  // A stream opened now would outlive Close, which waits for it.
  Result result = Traits::Failed(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "the node is shutting down"));
  Traits::Deliver(done, result);
}

template <typename Traits>
void BatchStream<Traits>::SubmitLocked(const Request& request,
                                       absl::Time deadline, Done done) {
  queued_.push_back({request, deadline, std::move(done)});
  if (stream_ == nullptr) {
    stream_ = Stream::Start(
        this, [this](grpc::ClientContext* context, Stream* stream) {
          Traits::Open(stub_, context, stream);
        });
    open_ = true;
  }
  SendLocked();
}

template <typename Traits>
void BatchStream<Traits>::SendLocked() {
  if (writing_ || stream_ == nullptr || !open_ || queued_.empty()) return;
  Batch& batch = stream_->out;
  batch.Clear();
  batch.set_sequence(++sequence_);
  std::vector<Entry>& sent = in_flight_[sequence_];
  size_t bytes = 0;
  while (!queued_.empty() &&
         (sent.empty() ||
          bytes + queued_.front().request.ByteSizeLong() < kMaxBatchBytes)) {
    bytes += queued_.front().request.ByteSizeLong();
    *Traits::Add(batch) = queued_.front().request;
    sent.push_back(std::move(queued_.front()));
    queued_.pop_front();
  }
  writing_ = true;
  stream_->StartWrite(&batch);
}

template <typename Traits>
void BatchStream<Traits>::OnStreamWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (ok) SendLocked();  // else the stream is broken: OnStreamDone follows
}

template <typename Traits>
void BatchStream<Traits>::OnStreamRead(Reply& reply) {
  std::vector<std::pair<Entry, Result>> answered;
  {
    absl::MutexLock lock(&mu_);
    const uint64_t newest = Traits::Newest(reply);
    while (!in_flight_.empty() && in_flight_.begin()->first <= newest) {
      std::vector<Entry>& entries = in_flight_.begin()->second;
      std::vector<Result> results =
          Traits::Take(reply, in_flight_.begin()->first, entries.size());
      for (size_t i = 0; i < entries.size(); ++i) {
        answered.emplace_back(std::move(entries[i]), std::move(results[i]));
      }
      in_flight_.erase(in_flight_.begin());
    }
  }
  for (auto& [entry, result] : answered) Traits::Deliver(entry.done, result);
}

template <typename Traits>
void BatchStream<Traits>::OnStreamReadsEnded() {
  // Requests submitted from now on wait for OnStreamDone, which fails them
  // with the stream's status; the next Submit after it opens a new stream.
  absl::MutexLock lock(&mu_);
  open_ = false;
}

template <typename Traits>
void BatchStream<Traits>::OnStreamDone(const grpc::Status& status) {
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
                         "the replica did not answer in time");
    } else if (status.ok()) {
      why = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream closed");
    }
    expired_ = false;
    stream_ = nullptr;
    open_ = false;
    writing_ = false;
    ++draining_;
  }
  Result result = Traits::Failed(why);
  for (Entry& e : failed) Traits::Deliver(e.done, result);
}

template <typename Traits>
void BatchStream<Traits>::OnStreamGone() {
  absl::MutexLock lock(&mu_);
  --draining_;
}

template <typename Traits>
void BatchStream<Traits>::Expire(absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (stream_ == nullptr) return;
  bool late = !queued_.empty() && queued_.front().deadline <= now;
  for (const auto& [sequence, entries] : in_flight_) {
    for (const Entry& e : entries) late |= e.deadline <= now;
  }
  // Cancelling ends the stream; OnStreamDone fails what was waiting.
  if (late) {
    expired_ = true;
    stream_->context.TryCancel();
  }
}

template <typename Traits>
void BatchStream<Traits>::Close() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    if (stream_ != nullptr) stream_->context.TryCancel();
  }
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](BatchStream* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return s->stream_ == nullptr && s->draining_ == 0;
      },
      this));
}

template class BatchStream<StoreStreamTraits>;
template class BatchStream<FetchStreamTraits>;

}  // namespace shoplist::node
