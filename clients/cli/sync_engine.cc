#include "clients/cli/sync_engine.h"

#include "absl/strings/str_split.h"
#include "codec/list_codec.h"
#include "grpcpp/grpcpp.h"
#include "services/common/channels.h"
#include "services/common/status_util.h"

namespace shoplist::cli {
namespace {

bool Unreachable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

}  // namespace

absl::StatusOr<SyncOutcome> SyncEngine::Sync(LocalList& list) {
  v1::SyncRequest request;
  request.set_list_id(list.id);
  codec::EncodeState(list.pending, request.mutable_delta());
  codec::EncodeContext(list.state.context(), request.mutable_known());
  request.set_create(!list.on_server && !list.awaiting_fetch);

  grpc::Status last(grpc::StatusCode::UNAVAILABLE, "no proxy given");
  for (size_t attempt = 0; attempt < proxies_.size(); ++attempt) {
    size_t index = (preferred_ + attempt) % proxies_.size();
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    v1::SyncResponse response;
    last = proxies_[index]->Sync(&context, request, &response);
    if (Unreachable(last)) continue;
    preferred_ = index;
    if (last.error_code() == grpc::StatusCode::NOT_FOUND) {
      return SyncOutcome::kNotFound;
    }
    if (!last.ok()) return ToAbsl(last);
    absl::StatusOr<crdt::ListState> missing =
        codec::DecodeState(response.missing());
    if (!missing.ok()) return missing.status();
    list.state.Merge(*missing);
    list.pending = crdt::ListState();
    list.on_server = true;
    list.awaiting_fetch = false;
    return list.state.deleted() ? SyncOutcome::kDeleted : SyncOutcome::kSynced;
  }
  return SyncOutcome::kOffline;
}

std::vector<std::unique_ptr<v1::ListService::StubInterface>> NewListStubs(
    const std::string& addresses) {
  std::vector<std::unique_ptr<v1::ListService::StubInterface>> stubs;
  for (absl::string_view address :
       absl::StrSplit(addresses, ',', absl::SkipEmpty())) {
    stubs.push_back(v1::ListService::NewStub(NewChannel(std::string(address))));
  }
  return stubs;
}

}  // namespace shoplist::cli
