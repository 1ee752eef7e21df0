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
#include "services/common/security.h"
#include "services/common/status_util.h"
#include "services/common/unary.h"
#include "services/node/request_decoding.h"
#include "services/node/ring_source.h"

namespace shoplist::node {
namespace {

// One StoreStream. Batches are read one after another; each write of a
// batch is merged through the store's group commit (or kept as a hint);
// when every write of the oldest open batches is durable, the newest such
// sequence is acknowledged (cumulative). Deletes itself when gRPC is done
// and no merge callback is outstanding.
class StoreStreamReactor final
    : public grpc::ServerBidiReactor<v1::StoreBatch, v1::StoreBatchAck> {
 public:
  StoreStreamReactor(const std::string& self_id, storage::ReplicaStore* store)
      : self_id_(self_id), store_(store) {
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      absl::MutexLock lock(&mu_);
      reading_done_ = true;
      MaybeFinishLocked();
      return;
    }
    const uint64_t sequence = in_.sequence();
    std::vector<DecodedWrite> merges, hints;
    std::vector<uint32_t> merge_index;  // each merge's place in the batch
    grpc::Status invalid = grpc::Status::OK;
    for (const v1::StoreRequest& w : in_.writes()) {
      absl::StatusOr<DecodedWrite> write = DecodeWrite(
          self_id_, w.list_id(), w.delta(), w.intended_owner(), w.proof());
      if (!write.ok()) {
        invalid = ToGrpc(write.status());
        break;
      }
      if (write->hint_owner.empty()) {
        merge_index.push_back(
            static_cast<uint32_t>(merges.size() + hints.size()));
        merges.push_back(*std::move(write));
      } else {
        hints.push_back(*std::move(write));
      }
    }
    // Hints are kept only once the whole batch is known to be valid: a
    // refused batch leaves nothing behind.
    for (size_t i = 0; invalid.ok() && i < hints.size(); ++i) {
      if (absl::Status s = store_->AddHint(hints[i].hint_owner,
                                           hints[i].list_id, hints[i].delta);
          !s.ok()) {
        invalid = ToGrpc(s);
      }
    }
    {
      absl::MutexLock lock(&mu_);
      if (!invalid.ok()) {
        // Nothing of this batch is acknowledged; the coordinator falls back.
        FinishLocked(invalid);
        return;
      }
      open_[sequence] = merges.size();
      outstanding_ += merges.size();
      if (merges.empty()) CompleteLocked();
    }
    for (size_t i = 0; i < merges.size(); ++i) {
      DecodedWrite& m = merges[i];
      storage::ReplicaStore::MergeCheck check = CheckOf(m);
      store_->MergeAsync(
          m.list_id, std::move(m.delta),
          [this, sequence,
           index = merge_index[i]](const absl::StatusOr<crdt::ListState>& r) {
            OnMerged(sequence, index, r.status());
          },
          std::move(check));
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "ack failed"));
      return;
    }
    WriteAckLocked();
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
      last = outstanding_ == 0;
    }
    if (last) delete this;
  }

 private:
  void OnMerged(uint64_t sequence, uint32_t index, const absl::Status& status) {
    bool last;
    {
      absl::MutexLock lock(&mu_);
      --outstanding_;
      const bool refused =
          absl::IsPermissionDenied(status) || absl::IsNotFound(status);
      if (refused) {
        // The access check refused this write alone; its batch goes on.
        v1::StoreBatchAck::Refusal& r = refusals_.emplace_back();
        r.set_sequence(sequence);
        r.set_index(index);
        r.set_code(static_cast<int32_t>(status.code()));
        r.set_message(std::string(status.message()));
      }
      if (!status.ok() && !refused) {
        FinishLocked(ToGrpc(status));
      } else if (--open_[sequence] == 0) {
        CompleteLocked();
      }
      MaybeFinishLocked();
      last = done_ && outstanding_ == 0;
    }
    if (last) delete this;
  }

  // Acknowledges the longest prefix of batches whose merges all finished.
  void CompleteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (!open_.empty() && open_.begin()->second == 0) {
      acked_ = open_.begin()->first;
      open_.erase(open_.begin());
    }
    WriteAckLocked();
  }

  void WriteAckLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || acked_ <= sent_) return;
    ack_.Clear();
    ack_.set_sequence(acked_);
    // Refusals of the batches this acknowledges go with it; a later batch's
    // wait for the ack that covers it.
    auto covered =
        std::stable_partition(refusals_.begin(), refusals_.end(),
                              [this](const v1::StoreBatchAck::Refusal& r) {
                                return r.sequence() <= acked_;
                              });
    for (auto it = refusals_.begin(); it != covered; ++it) {
      *ack_.add_refused() = std::move(*it);
    }
    refusals_.erase(refusals_.begin(), covered);
    sent_ = acked_;
    writing_ = true;
    StartWrite(&ack_);
  }

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reading_done_ && open_.empty() && !writing_ && sent_ == acked_) {
      FinishLocked(grpc::Status::OK);
    }
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  const std::string self_id_;
  storage::ReplicaStore* const store_;
  v1::StoreBatch in_;
  absl::Mutex mu_;
  std::map<uint64_t, size_t> open_ ABSL_GUARDED_BY(mu_);  // writes left
  size_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t acked_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  v1::StoreBatchAck ack_ ABSL_GUARDED_BY(mu_);
  // Writes the access check refused, not yet sent in an ack.
  std::vector<v1::StoreBatchAck::Refusal> refusals_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
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

// One FetchStream. Each batch is answered as it is read, on the thread
// that read it (a fetch is a LevelDB read, as in the unary Fetch); replies
// wait in order while one is on the wire. Reading goes on meanwhile, so a
// slow reader of replies cannot stall the next batch's reads.
class FetchStreamReactor final
    : public grpc::ServerBidiReactor<v1::FetchBatch, v1::FetchBatchReply> {
 public:
  explicit FetchStreamReactor(storage::ReplicaStore* store) : store_(store) {
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      absl::MutexLock lock(&mu_);
      reading_done_ = true;
      MaybeFinishLocked();
      return;
    }
    auto reply = std::make_unique<v1::FetchBatchReply>();
    reply->set_sequence(in_.sequence());
    for (const v1::FetchRequest& fetch : in_.fetches()) {
      v1::FetchBatchReply::Result* result = reply->add_results();
      grpc::Status status =
          FetchOne(*store_, fetch, result->mutable_response());
      result->set_code(static_cast<int32_t>(status.error_code()));
      if (!status.ok()) {
        result->set_message(status.error_message());
        result->clear_response();
      }
    }
    {
      absl::MutexLock lock(&mu_);
      replies_.push_back(std::move(reply));
      WriteLocked();
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    replies_.pop_front();
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "reply failed"));
      return;
    }
    WriteLocked();
    MaybeFinishLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override { delete this; }

 private:
  void WriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || replies_.empty()) return;
    writing_ = true;
    StartWrite(replies_.front().get());
  }

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reading_done_ && replies_.empty()) FinishLocked(grpc::Status::OK);
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  storage::ReplicaStore* const store_;
  v1::FetchBatch in_;
  absl::Mutex mu_;
  // Replies not yet written; the front one is on the wire while writing_.
  std::deque<std::unique_ptr<v1::FetchBatchReply>> replies_
      ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerBidiReactor<v1::StoreBatch, v1::StoreBatchAck>*
ReplicaServiceImpl::StoreStream(grpc::CallbackServerContext* context) {
  if (auto* refused =
          gate_.RefuseBidi<v1::StoreBatch, v1::StoreBatchAck>(context)) {
    return refused;
  }
  return new StoreStreamReactor(self_id_, store_);
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
  return new FetchStreamReactor(store_);
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
