#include "clients/core/sync_engine.h"

#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"

namespace shoplist::client {

SyncAnswer SyncEngine::Sync(absl::string_view request_bytes,
                            absl::Duration timeout) {
  SyncAnswer answer;
  v1::SyncRequest request;
  if (!request.ParseFromArray(request_bytes.data(),
                              static_cast<int>(request_bytes.size()))) {
    answer.kind = SyncAnswer::Kind::kFailed;
    answer.error = "a sync request that does not decode";
    return answer;
  }
  const size_t first = link_->preferred();
  for (size_t attempt = 0; attempt < link_->size(); ++attempt) {
    const size_t index = (first + attempt) % link_->size();
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::SyncResponse response;
    grpc::Status status = link_->stub(index).Sync(&context, request, &response);
    if (!link_->Report(index, status)) continue;
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      answer.kind = SyncAnswer::Kind::kNotFound;
    } else if (!status.ok()) {
      answer.kind = SyncAnswer::Kind::kFailed;
      answer.error = status.error_message();
    } else {
      answer.kind = SyncAnswer::Kind::kStored;
      answer.reply = response.SerializeAsString();
    }
    return answer;
  }
  return answer;  // offline
}

}  // namespace shoplist::client
