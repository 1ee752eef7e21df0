#include "services/node/replica_service.h"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "ring/node_id.h"
#include "services/common/batch_server.h"
#include "services/common/security.h"
#include "services/common/status_util.h"
#include "services/common/unary.h"
#include "services/node/request_decoding.h"
#include "services/node/ring_source.h"

namespace shoplist::node {
namespace {

// One write of a StoreStream batch: a merge through the store's group
// commit, or a hint kept for another owner.
class StoreCall final : public BatchCall {
 public:
  StoreCall(storage::ReplicaStore* store, uint64_t sequence, uint32_t index,
            DecodedWrite write)
      : store_(store),
        sequence_(sequence),
        index_(index),
        write_(std::move(write)) {}

  void Serve(Done done) override {
    if (!write_.hint_owner.empty()) {
      done(ToGrpc(
          store_->AddHint(write_.hint_owner, write_.list_id, write_.delta)));
      return;
    }
    storage::ReplicaStore::MergeCheck check = CheckOf(write_);
    store_->MergeAsync(
        write_.list_id, std::move(write_.delta),
        [done = std::move(done)](const absl::StatusOr<crdt::ListState>& r) {
          done(ToGrpc(r.status()));
        },
        std::move(check));
  }

  uint64_t sequence() const { return sequence_; }
  uint32_t index() const { return index_; }

 private:
  storage::ReplicaStore* const store_;
  const uint64_t sequence_;
  const uint32_t index_;
  DecodedWrite write_;
};

// StoreStream: each write of a batch is merged durably (or kept as a hint);
// once every write of the oldest open batches is answered, the newest such
// sequence is acknowledged (cumulative), with the writes that failed
// (refused by the access check, or the store's error) listed by index. A
// batch with a write that does not decode ends the stream with
// INVALID_ARGUMENT, and nothing of it is stored.
class StoreProtocol final
    : public BatchProtocol<v1::StoreBatch, v1::StoreBatchAck> {
 public:
  StoreProtocol(const std::string& self_id, storage::ReplicaStore* store)
      : self_id_(self_id), store_(store) {}

  grpc::Status Open(v1::StoreBatch& batch, Calls& calls) override {
    std::vector<DecodedWrite> writes;
    for (const v1::StoreRequest& w : batch.writes()) {
      absl::StatusOr<DecodedWrite> write = DecodeWrite(
          self_id_, w.list_id(), w.delta(), w.intended_owner(), w.proof());
      if (!write.ok()) return ToGrpc(write.status());
      writes.push_back(*std::move(write));
    }
    for (uint32_t i = 0; i < writes.size(); ++i) {
      calls.push_back(std::make_unique<StoreCall>(store_, batch.sequence(), i,
                                                  std::move(writes[i])));
    }
    absl::MutexLock lock(&mu_);
    open_[batch.sequence()] = writes.size();
    CompleteLocked();  // a batch without writes is answered at once
    return grpc::Status::OK;
  }

  void Answer(std::unique_ptr<BatchCall> answered,
              const grpc::Status& status) override {
    const auto& call = static_cast<const StoreCall&>(*answered);
    absl::MutexLock lock(&mu_);
    if (!status.ok()) {
      v1::StoreBatchAck::Refusal& r = refusals_.emplace_back();
      r.set_sequence(call.sequence());
      r.set_index(call.index());
      r.set_code(static_cast<int32_t>(status.error_code()));
      r.set_message(status.error_message());
    }
    if (--open_[call.sequence()] == 0) CompleteLocked();
  }

  bool Take(v1::StoreBatchAck& ack) override {
    absl::MutexLock lock(&mu_);
    if (acked_ <= sent_) return false;
    ack.set_sequence(acked_);
    // Refusals of the batches this acknowledges go with it; a later batch's
    // wait for the ack that covers it.
    auto covered =
        std::stable_partition(refusals_.begin(), refusals_.end(),
                              [this](const v1::StoreBatchAck::Refusal& r) {
                                return r.sequence() <= acked_;
                              });
    for (auto it = refusals_.begin(); it != covered; ++it) {
      *ack.add_refused() = std::move(*it);
    }
    refusals_.erase(refusals_.begin(), covered);
    sent_ = acked_;
    return true;
  }

  size_t unwritten() const override {
    absl::MutexLock lock(&mu_);
    return acked_ > sent_ ? 1 : 0;
  }
  size_t unwritten_bytes() const override { return 0; }

 private:
  // Acknowledges the longest prefix of batches whose writes all finished.
  void CompleteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (!open_.empty() && open_.begin()->second == 0) {
      acked_ = open_.begin()->first;
      open_.erase(open_.begin());
    }
  }

  const std::string self_id_;
  storage::ReplicaStore* const store_;
  // Open runs outside the stream's lock, so the batches have their own.
  mutable absl::Mutex mu_;
  std::map<uint64_t, size_t> open_ ABSL_GUARDED_BY(mu_);  // writes left
  uint64_t acked_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  // Writes that failed, not yet sent in an ack.
  std::vector<v1::StoreBatchAck::Refusal> refusals_ ABSL_GUARDED_BY(mu_);
};

// What Fetch answers for `request` (see the header).
grpc::Status FetchOne(storage::ReplicaStore& store,
                      const v1::FetchRequest& request,
                      v1::FetchResponse* response) {
  if (absl::Status s = crdt::ValidateListId(request.list_id()); !s.ok()) {
    return ToGrpc(s);
  }
  if (request.owner()) {
    absl::StatusOr<storage::StoredList> stored =
        store.GetStored(request.list_id());
    if (absl::IsNotFound(stored.status())) {
      response->set_found(false);
      return grpc::Status::OK;
    }
    if (!stored.ok()) return ToGrpc(stored.status());
    absl::StatusOr<std::string> digest =
        storage::StoredDigest(*stored, request.list_id());
    if (!digest.ok()) return ToGrpc(digest.status());
    response->set_found(true);
    response->set_digest(*std::move(digest));
    if (request.digest()) return grpc::Status::OK;
    if (stored->log.empty()) {
      // As stored: the coordinator decodes and validates what it gets, and
      // counts a replica whose bytes do not decode as failed.
      if (!response->mutable_state()->ParseFromString(stored->base)) {
        return grpc::Status(grpc::StatusCode::DATA_LOSS,
                            "the stored list does not parse");
      }
      return grpc::Status::OK;
    }
    absl::StatusOr<crdt::ListState> state =
        storage::DecodeStored(*stored, request.list_id());
    if (!state.ok()) return ToGrpc(state.status());
    codec::EncodeState(*state, response->mutable_state());
    return grpc::Status::OK;
  }
  absl::StatusOr<std::optional<crdt::ListState>> answer =
      storage::ReadReplica(store, request.list_id());
  if (!answer.ok()) return ToGrpc(answer.status());
  response->set_found(answer->has_value());
  if (*answer) codec::EncodeState(**answer, response->mutable_state());
  return grpc::Status::OK;
}

// One fetch of a FetchStream batch, answered as the unary Fetch would.
class FetchCall final : public BatchCall {
 public:
  FetchCall(storage::ReplicaStore* store, uint64_t sequence, uint32_t index,
            v1::FetchRequest request)
      : store_(store),
        sequence_(sequence),
        index_(index),
        request_(std::move(request)) {}

  // A LevelDB read, on the thread that starts it, as in the unary Fetch.
  void Serve(Done done) override {
    done(FetchOne(*store_, request_, &response_));
  }

  uint64_t sequence() const { return sequence_; }
  uint32_t index() const { return index_; }
  v1::FetchResponse& response() { return response_; }

 private:
  storage::ReplicaStore* const store_;
  const uint64_t sequence_;
  const uint32_t index_;
  const v1::FetchRequest request_;
  v1::FetchResponse response_;
};

// FetchStream: each batch is answered by one reply, in order, with a
// result per fetch.
class FetchProtocol final
    : public BatchProtocol<v1::FetchBatch, v1::FetchBatchReply> {
 public:
  explicit FetchProtocol(storage::ReplicaStore* store) : store_(store) {}

  grpc::Status Open(v1::FetchBatch& batch, Calls& calls) override {
    const uint32_t n = static_cast<uint32_t>(batch.fetches_size());
    for (uint32_t i = 0; i < n; ++i) {
      calls.push_back(std::make_unique<FetchCall>(
          store_, batch.sequence(), i, std::move(*batch.mutable_fetches(i))));
    }
    absl::MutexLock lock(&mu_);
    Pending& reply = open_.emplace_back();
    reply.left = n;
    reply.reply.set_sequence(batch.sequence());
    for (uint32_t i = 0; i < n; ++i) reply.reply.add_results();
    CountReadyLocked();
    return grpc::Status::OK;
  }

  void Answer(std::unique_ptr<BatchCall> answered,
              const grpc::Status& status) override {
    auto& call = static_cast<FetchCall&>(*answered);
    absl::MutexLock lock(&mu_);
    // Batches are opened in order and each stays until written.
    Pending& open = open_[call.sequence() - open_.front().reply.sequence()];
    v1::FetchBatchReply::Result* result =
        open.reply.mutable_results(static_cast<int>(call.index()));
    result->set_code(static_cast<int32_t>(status.error_code()));
    if (status.ok()) {
      *result->mutable_response() = std::move(call.response());
    } else {
      result->set_message(status.error_message());
    }
    --open.left;
    CountReadyLocked();
  }

  bool Take(v1::FetchBatchReply& out) override {
    absl::MutexLock lock(&mu_);
    if (ready_ == 0) return false;
    out = std::move(open_.front().reply);
    open_.pop_front();
    --ready_;
    ready_calls_ -= static_cast<size_t>(out.results_size());
    ready_bytes_ -= out.ByteSizeLong();
    return true;
  }

  size_t unwritten() const override {
    absl::MutexLock lock(&mu_);
    return ready_calls_;
  }
  size_t unwritten_bytes() const override {
    absl::MutexLock lock(&mu_);
    return ready_bytes_;
  }

 private:
  struct Pending {
    v1::FetchBatchReply reply;
    uint32_t left = 0;  // fetches not yet answered
  };

  // Counts the replies at the front that are complete: only those may be
  // written, so only their answers count against the stream's cap (a
  // batch larger than the cap still gets every fetch answered).
  void CountReadyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (ready_ < open_.size() && open_[ready_].left == 0) {
      ready_calls_ += static_cast<size_t>(open_[ready_].reply.results_size());
      ready_bytes_ += open_[ready_].reply.ByteSizeLong();
      ++ready_;
    }
  }

  storage::ReplicaStore* const store_;
  mutable absl::Mutex mu_;
  // Replies of the batches read and not yet written, in order; the first
  // ready_ are complete.
  std::deque<Pending> open_ ABSL_GUARDED_BY(mu_);
  size_t ready_ ABSL_GUARDED_BY(mu_) = 0;
  size_t ready_calls_ ABSL_GUARDED_BY(mu_) = 0;
  size_t ready_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

grpc::ServerBidiReactor<v1::StoreBatch, v1::StoreBatchAck>*
ReplicaServiceImpl::StoreStream(grpc::CallbackServerContext* context) {
  if (auto* refused =
          gate_.RefuseBidi<v1::StoreBatch, v1::StoreBatchAck>(context)) {
    return refused;
  }
  return NewBatchReactor<v1::StoreBatch, v1::StoreBatchAck>(
      std::make_unique<StoreProtocol>(self_id_, store_), &streams_);
}

grpc::ServerUnaryReactor* ReplicaServiceImpl::Store(
    grpc::CallbackServerContext* context, const v1::StoreRequest* request,
    v1::StoreResponse* /*response*/) {
  if (auto* refused = gate_.RefuseUnary(context)) return refused;
  absl::StatusOr<DecodedWrite> write =
      DecodeWrite(self_id_, request->list_id(), request->delta(),
                  request->intended_owner(), request->proof());
  if (!write.ok()) return FinishUnary(context, ToGrpc(write.status()));
  if (!write->hint_owner.empty()) {
    return FinishUnary(context,
                       ToGrpc(store_->AddHint(write->hint_owner, write->list_id,
                                              write->delta)));
  }
  // The reply waits for the group commit that makes the delta durable,
  // without holding a thread.
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  storage::ReplicaStore::MergeCheck check = CheckOf(*write);
  store_->MergeAsync(
      write->list_id, std::move(write->delta),
      [reactor](const absl::StatusOr<crdt::ListState>& merged) {
        reactor->Finish(ToGrpc(merged.status()));
      },
      std::move(check));
  return reactor;
}

grpc::ServerUnaryReactor* ReplicaServiceImpl::Fetch(
    grpc::CallbackServerContext* context, const v1::FetchRequest* request,
    v1::FetchResponse* response) {
  if (auto* refused = gate_.RefuseUnary(context)) return refused;
  return FinishUnary(context, FetchOne(*store_, *request, response));
}

grpc::ServerBidiReactor<v1::FetchBatch, v1::FetchBatchReply>*
ReplicaServiceImpl::FetchStream(grpc::CallbackServerContext* context) {
  if (auto* refused =
          gate_.RefuseBidi<v1::FetchBatch, v1::FetchBatchReply>(context)) {
    return refused;
  }
  return NewBatchReactor<v1::FetchBatch, v1::FetchBatchReply>(
      std::make_unique<FetchProtocol>(store_), &streams_);
}

grpc::ServerUnaryReactor* ReplicaServiceImpl::HandOff(
    grpc::CallbackServerContext* context, const v1::HandOffRequest* request,
    v1::HandOffResponse* /*response*/) {
  if (auto* refused = gate_.RefuseUnary(context)) return refused;
  // All or nothing: a batch with one bad hint is refused before any merge.
  // The hints are this node's own writes now (no intended owner).
  std::vector<DecodedWrite> writes;
  for (const auto& hint : request->hints()) {
    absl::StatusOr<DecodedWrite> write =
        DecodeWrite(self_id_, hint.list_id(), hint.delta(), "", "");
    if (!write.ok()) return FinishUnary(context, ToGrpc(write.status()));
    writes.push_back(*std::move(write));
  }
  for (const DecodedWrite& w : writes) {
    absl::StatusOr<crdt::ListState> merged = store_->Merge(w.list_id, w.delta);
    if (!merged.ok()) return FinishUnary(context, ToGrpc(merged.status()));
  }
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ReplicaServiceImpl::GetDigests(
    grpc::CallbackServerContext* context, const v1::DigestRequest* request,
    v1::DigestResponse* response) {
  if (auto* refused = gate_.RefuseUnary(context)) return refused;
  if (request->depth() > 16) {
    return FinishUnary(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                             "depth must be at most 16"));
  }
  const ring::TokenRange range{request->range().start(),
                               request->range().end()};
  auto to_bytes = [](uint64_t hash) {
    return std::string(reinterpret_cast<const char*>(&hash), sizeof hash);
  };
  for (const merkle::Bucket& b : digests_.Digests(range, request->depth())) {
    auto* out = response->add_buckets();
    out->mutable_range()->set_start(b.range.first);
    out->mutable_range()->set_end(b.range.second);
    out->set_hash(to_bytes(b.hash));
    out->set_lists(b.lists);
  }
  if (request->with_lists()) {
    for (const auto& [id, hash] : digests_.ListsIn(range)) {
      auto* out = response->add_lists();
      out->set_list_id(id);
      out->set_hash(to_bytes(hash));
    }
  }
  return FinishUnary(context, grpc::Status::OK);
}

}  // namespace shoplist::node
