#include "services/node/list_service.h"

#include <memory>

#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "services/common/status_util.h"

namespace shoplist::node {
namespace {

// A delta that changes nothing: no title, no items, not a tombstone.
bool CarriesNoChange(const crdt::ListState& delta) {
  return !delta.deleted() && !delta.title() && delta.items().empty();
}

}  // namespace

grpc::ServerUnaryReactor* ListServiceImpl::Get(
    grpc::CallbackServerContext* context, const v1::GetRequest* request,
    v1::GetResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status s = crdt::ValidateListId(request->list_id()); !s.ok()) {
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  coordinator_->Read(
      request->list_id(),
      [reactor, response](absl::StatusOr<Coordinator::ReadResult> result) {
        if (!result.ok()) {
          reactor->Finish(ToGrpc(result.status()));
          return;
        }
        codec::EncodeState(result->state, response->mutable_state());
        codec::EncodeView(result->state.View(), response->mutable_view());
        response->set_replies(static_cast<uint32_t>(result->replies));
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ListServiceImpl::Sync(
    grpc::CallbackServerContext* context, const v1::SyncRequest* request,
    v1::SyncResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status s = crdt::ValidateListId(request->list_id()); !s.ok()) {
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  absl::StatusOr<crdt::ListState> delta = codec::DecodeState(request->delta());
  if (!delta.ok()) {
    reactor->Finish(ToGrpc(delta.status()));
    return reactor;
  }
  absl::StatusOr<crdt::CausalContext> known =
      codec::DecodeContext(request->known());
  if (!known.ok()) {
    reactor->Finish(ToGrpc(known.status()));
    return reactor;
  }
  auto shared_known =
      std::make_shared<const crdt::CausalContext>(*std::move(known));
  const std::string list_id = request->list_id();
  const bool create = request->create();
  // Answers with what the client lacks, from a quorum read.
  auto answer_from_read = [this, reactor, response, shared_known, list_id,
                           create](size_t acks) {
    coordinator_->Read(
        list_id, [reactor, response, shared_known, create,
                  acks](absl::StatusOr<Coordinator::ReadResult> result) {
          if (!result.ok()) {
            if (absl::IsNotFound(result.status()) && create) {
              reactor->Finish(grpc::Status::OK);
              return;
            }
            reactor->Finish(ToGrpc(result.status()));
            return;
          }
          codec::EncodeState(result->state.DeltaSince(*shared_known),
                             response->mutable_missing());
          response->set_acks(static_cast<uint32_t>(acks));
          reactor->Finish(grpc::Status::OK);
        });
  };
  if (CarriesNoChange(*delta)) {
    answer_from_read(0);
    return reactor;
  }
  coordinator_->Write(
      list_id, *std::move(delta),
      [reactor, response, shared_known, answer_from_read](
          absl::Status status, Coordinator::WriteResult written) {
        if (!status.ok()) {
          reactor->Finish(ToGrpc(status));
          return;
        }
        if (!written.local) {
          // This node holds no replica of the list: ask the replicas.
          answer_from_read(written.acks);
          return;
        }
        codec::EncodeState(written.local->DeltaSince(*shared_known),
                           response->mutable_missing());
        response->set_acks(static_cast<uint32_t>(written.acks));
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ListServiceImpl::Apply(
    grpc::CallbackServerContext* context, const v1::ApplyRequest* request,
    v1::ApplyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status s = crdt::ValidateListId(request->list_id()); !s.ok()) {
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  coordinator_->Apply(
      request->list_id(), request->operation(),
      [reactor, response](absl::StatusOr<Coordinator::ApplyResult> result) {
        if (!result.ok()) {
          reactor->Finish(ToGrpc(result.status()));
          return;
        }
        codec::EncodeView(result->state.View(), response->mutable_view());
        codec::EncodeState(result->delta, response->mutable_delta());
        response->set_acks(static_cast<uint32_t>(result->acks));
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ListServiceImpl::Ping(
    grpc::CallbackServerContext* context, const v1::PingRequest* request,
    v1::PingResponse* response) {
  response->set_payload(request->payload());
  response->set_server(self_id_);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace shoplist::node
