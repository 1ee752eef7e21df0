#include "services/node/replica_service.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "ring/node_id.h"
#include "services/common/status_util.h"
#include "services/common/unary.h"
#include "services/node/ring_source.h"

namespace shoplist::node {

grpc::Status ReplicaServiceImpl::StoreOne(const v1::StoreRequest& request) {
  if (absl::Status s = crdt::ValidateListId(request.list_id()); !s.ok()) {
    return ToGrpc(s);
  }
  absl::StatusOr<crdt::ListState> delta = codec::DecodeState(request.delta());
  if (!delta.ok()) return ToGrpc(delta.status());
  const std::string& owner = request.intended_owner();
  if (!owner.empty() && owner != self_id_) {
    if (absl::Status s = ring::ValidateNodeId(owner); !s.ok()) return ToGrpc(s);
    return ToGrpc(store_->AddHint(owner, request.list_id(), *delta));
  }
  return ToGrpc(store_->Merge(request.list_id(), *delta).status());
}

grpc::ServerUnaryReactor* ReplicaServiceImpl::Store(
    grpc::CallbackServerContext* context, const v1::StoreRequest* request,
    v1::StoreResponse* /*response*/) {
  const std::string& owner = request->intended_owner();
  if (!owner.empty() && owner != self_id_) {
    return FinishUnary(context, StoreOne(*request));  // a hint
  }
  if (absl::Status s = crdt::ValidateListId(request->list_id()); !s.ok()) {
    return FinishUnary(context, ToGrpc(s));
  }
  absl::StatusOr<crdt::ListState> delta = codec::DecodeState(request->delta());
  if (!delta.ok()) return FinishUnary(context, ToGrpc(delta.status()));
  // The reply waits for the group commit that makes the delta durable,
  // without holding a thread.
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->MergeAsync(request->list_id(), *std::move(delta),
                     [reactor](absl::StatusOr<crdt::ListState> merged) {
                       reactor->Finish(ToGrpc(merged.status()));
                     });
  return reactor;
}

grpc::ServerUnaryReactor* ReplicaServiceImpl::Fetch(
    grpc::CallbackServerContext* context, const v1::FetchRequest* request,
    v1::FetchResponse* response) {
  if (absl::Status s = crdt::ValidateListId(request->list_id()); !s.ok()) {
    return FinishUnary(context, ToGrpc(s));
  }
  absl::StatusOr<crdt::ListState> state = store_->Get(request->list_id());
  if (!state.ok() && !absl::IsNotFound(state.status())) {
    return FinishUnary(context, ToGrpc(state.status()));
  }
  // A stand-in answers with the hints it holds for the list, so a read that
  // reaches it while owners are down still sees those writes.
  absl::StatusOr<std::optional<crdt::ListState>> hints =
      store_->HintsFor(request->list_id());
  if (!hints.ok()) return FinishUnary(context, ToGrpc(hints.status()));
  std::optional<crdt::ListState> answer;
  if (state.ok()) answer = *std::move(state);
  if (*hints) {
    if (!answer) answer.emplace();
    answer->Merge(**hints);
  }
  response->set_found(answer.has_value());
  if (answer) codec::EncodeState(*answer, response->mutable_state());
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ReplicaServiceImpl::HandOff(
    grpc::CallbackServerContext* context, const v1::HandOffRequest* request,
    v1::HandOffResponse* /*response*/) {
  // All or nothing: a batch with one bad hint is refused before any merge.
  std::vector<std::pair<const std::string*, crdt::ListState>> hints;
  for (const auto& hint : request->hints()) {
    if (absl::Status s = crdt::ValidateListId(hint.list_id()); !s.ok()) {
      return FinishUnary(context, ToGrpc(s));
    }
    absl::StatusOr<crdt::ListState> delta = codec::DecodeState(hint.delta());
    if (!delta.ok()) return FinishUnary(context, ToGrpc(delta.status()));
    hints.emplace_back(&hint.list_id(), *std::move(delta));
  }
  for (const auto& [list_id, delta] : hints) {
    absl::StatusOr<crdt::ListState> merged = store_->Merge(*list_id, delta);
    if (!merged.ok()) return FinishUnary(context, ToGrpc(merged.status()));
  }
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ReplicaServiceImpl::GetDigests(
    grpc::CallbackServerContext* context, const v1::DigestRequest* request,
    v1::DigestResponse* response) {
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
