#include "clients/core/sync_engine.h"

#include "absl/time/clock.h"
#include "codec/list_codec.h"
#include "grpcpp/grpcpp.h"
#include "services/common/status_util.h"

namespace shoplist::client {

absl::StatusOr<SyncReply> SyncEngine::Sync(const SyncInput& input,
                                           absl::Duration timeout) {
  v1::SyncRequest request;
  request.set_list_id(input.id);
  codec::EncodeState(input.pending, request.mutable_delta());
  codec::EncodeContext(input.known, request.mutable_known());
  request.set_create(input.create);
  request.set_secret(input.secret);

  const size_t first = link_->preferred();
  for (size_t attempt = 0; attempt < link_->size(); ++attempt) {
    const size_t index = (first + attempt) % link_->size();
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::SyncResponse response;
    grpc::Status status = link_->stub(index).Sync(&context, request, &response);
    if (!link_->Report(index, status)) continue;
    SyncReply reply;
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      reply.answer = SyncReply::Answer::kNotFound;
      return reply;
    }
    if (!status.ok()) return ToAbsl(status);
    absl::StatusOr<crdt::ListState> missing =
        codec::DecodeState(response.missing());
    if (!missing.ok()) return missing.status();
    reply.answer = SyncReply::Answer::kStored;
    reply.missing = *std::move(missing);
    return reply;
  }
  return SyncReply();  // offline
}

}  // namespace shoplist::client
