#include "services/node/list_service.h"

#include <atomic>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "access/capability.h"
#include "access/policy.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "services/common/status_util.h"
#include "services/common/unary.h"
#include "services/node/request_decoding.h"

namespace shoplist::node {
namespace {

// One Watch call. Holds two references: gRPC's (until OnDone) and the
// initial read's (until its callback), and deletes itself after both.
// Changes that arrive while a write is in flight are coalesced: only the
// newest state is pending, and each event carries what the watcher lacks.
class WatchWriter final : public grpc::ServerWriteReactor<v1::WatchEvent> {
 public:
  WatchWriter(WatchHub* hub, Coordinator* coordinator, std::string list_id,
              crdt::CausalContext known, const access::SecretHash& proof)
      : hub_(hub), proof_(proof), known_(std::move(known)) {
    watcher_ = hub_->Add(
        list_id, [this](const crdt::ListState& state) { Offer(state); });
    coordinator->Read(list_id, proof_,
                      [this](absl::StatusOr<Coordinator::ReadResult> read) {
                        if (read.ok()) {
                          Offer(read->state);
                        } else {
                          absl::MutexLock lock(&mu_);
                          FinishLocked(ToGrpc(read.status()));
                        }
                        Unref();
                      });
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
    } else if (last_) {
      FinishLocked(grpc::Status::OK);
    } else {
      WriteNextLocked();
    }
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    hub_->Remove(watcher_);
    Unref();
  }

 private:
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  void Offer(const crdt::ListState& state) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    // A revocation merged here ends the watch of an old link before it
    // sees anything made after it.
    if (absl::Status s = access::CheckRead(state, proof_); !s.ok()) {
      pending_.reset();
      FinishLocked(ToGrpc(s));
      return;
    }
    pending_ = state;
    WriteNextLocked();
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || !pending_) return;
    crdt::ListState delta = pending_->DeltaSince(known_);
    bool deleted = pending_->deleted();
    if (!deleted && delta.carries_no_change()) {
      pending_.reset();  // nothing the watcher lacks
      return;
    }
    known_.Merge(pending_->context());
    event_.Clear();
    codec::EncodeState(delta, event_.mutable_delta());
    codec::EncodeView(pending_->View(), event_.mutable_view());
    pending_.reset();
    writing_ = true;
    last_ = deleted;  // a deleted list has nothing more to say
    StartWrite(&event_);
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  WatchHub* const hub_;
  const access::SecretHash proof_;
  int watcher_ = -1;
  std::atomic<int> refs_{2};
  absl::Mutex mu_;
  crdt::CausalContext known_ ABSL_GUARDED_BY(mu_);
  std::optional<crdt::ListState> pending_ ABSL_GUARDED_BY(mu_);
  v1::WatchEvent event_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool last_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// A GetResponse on the wire: the kept body, shared rather than copied,
// then `replies` (field 3, a varint).
grpc::ByteBuffer ToByteBuffer(const EncodedReads::Bytes& body,
                              uint32_t replies) {
  using Bytes = EncodedReads::Bytes;
  auto* kept = new Bytes(body);
  std::string tail(1, static_cast<char>(3 << 3));
  for (uint32_t v = replies;; v >>= 7) {
    if (v < 0x80) {
      tail.push_back(static_cast<char>(v));
      break;
    }
    tail.push_back(static_cast<char>((v & 0x7f) | 0x80));
  }
  grpc::Slice slices[] = {
      grpc::Slice(
          const_cast<char*>((*kept)->data()), (*kept)->size(),
          [](void* p) { delete static_cast<Bytes*>(p); }, kept),
      grpc::Slice(tail)};
  return grpc::ByteBuffer(slices, 2);
}

}  // namespace

grpc::ServerWriteReactor<v1::WatchEvent>* ListServiceImpl::Watch(
    grpc::CallbackServerContext* /*context*/, const v1::WatchRequest* request) {
  if (absl::Status s = crdt::ValidateListId(request->list_id()); !s.ok()) {
    return new RefusedStream<v1::WatchEvent>(ToGrpc(s));
  }
  absl::StatusOr<crdt::CausalContext> known =
      codec::DecodeContext(request->known());
  if (!known.ok())
    return new RefusedStream<v1::WatchEvent>(ToGrpc(known.status()));
  return new WatchWriter(watchers_, coordinator_, request->list_id(),
                         *std::move(known),
                         access::HashSecret(request->secret()));
}

void ListServiceImpl::ServeGet(const v1::GetRequest& request, GetDone done) {
  if (absl::Status s = crdt::ValidateListId(request.list_id()); !s.ok()) {
    done(ToGrpc(s), {});
    return;
  }
  // Kept bytes found for this node's copy, which then is not decoded.
  auto kept = std::make_shared<EncodedReads::Bytes>();
  Coordinator::ReadOptions options;
  options.holds_copy = [this, kept,
                        list_id = request.list_id()](absl::string_view digest) {
    *kept = encoded_reads_.Find(list_id, digest);
    return *kept != nullptr;
  };
  coordinator_->Read(
      request.list_id(), access::HashSecret(request.secret()),
      [this, kept, list_id = request.list_id(),
       done = std::move(done)](absl::StatusOr<Coordinator::ReadResult> result) {
        if (!result.ok()) {
          done(ToGrpc(result.status()), {});
          return;
        }
        EncodedGet answer;
        answer.replies = static_cast<uint32_t>(result->replies);
        // Kept bytes were looked up once, when the copy was read.
        if (result->state_omitted) {
          answer.body = *kept;
        } else {
          v1::GetResponse body;
          codec::EncodeState(result->state, body.mutable_state());
          codec::EncodeView(result->state.View(), body.mutable_view());
          answer.body =
              std::make_shared<const std::string>(body.SerializeAsString());
          if (result->stored_digest) {
            encoded_reads_.Put(list_id, *std::move(result->stored_digest),
                               answer.body);
          }
        }
        done(grpc::Status::OK, std::move(answer));
      },
      std::move(options));
}

void ListServiceImpl::ServeSync(const v1::SyncRequest& request,
                                v1::SyncResponse* response, Done done) {
  absl::StatusOr<DecodedSync> sync = DecodeSync(request);
  if (!sync.ok()) {
    done(ToGrpc(sync.status()));
    return;
  }
  coordinator_->Sync(
      request.list_id(), std::move(sync->delta), std::move(sync->known),
      request.create(), sync->proof,
      [response,
       done = std::move(done)](absl::StatusOr<Coordinator::SyncResult> result) {
        if (!result.ok()) {
          done(ToGrpc(result.status()));
          return;
        }
        codec::EncodeState(result->missing, response->mutable_missing());
        response->set_acks(static_cast<uint32_t>(result->acks));
        done(grpc::Status::OK);
      });
}

void ListServiceImpl::ServeApply(const v1::ApplyRequest& request,
                                 v1::ApplyResponse* response, Done done) {
  if (absl::Status s = crdt::ValidateListId(request.list_id()); !s.ok()) {
    done(ToGrpc(s));
    return;
  }
  coordinator_->Apply(
      request.list_id(), request.operation(),
      access::HashSecret(request.secret()),
      [response, done = std::move(done)](
          absl::StatusOr<Coordinator::ApplyResult> result) {
        if (!result.ok()) {
          done(ToGrpc(result.status()));
          return;
        }
        codec::EncodeView(result->state.View(), response->mutable_view());
        codec::EncodeState(result->delta, response->mutable_delta());
        response->set_acks(static_cast<uint32_t>(result->acks));
        done(grpc::Status::OK);
      });
}

void ListServiceImpl::Serve(const v1::Call& call, v1::Reply* reply, Done done) {
  switch (call.method_case()) {
    case v1::Call::kGet:
      ServeGet(call.get(), [reply, done = std::move(done)](
                               const grpc::Status& status, EncodedGet answer) {
        if (status.ok()) {
          v1::GetResponse* response = reply->mutable_get();
          if (!response->ParseFromString(*answer.body)) {
            done(grpc::Status(grpc::StatusCode::INTERNAL,
                              "an encoded read does not parse"));
            return;
          }
          response->set_replies(answer.replies);
        }
        done(status);
      });
      return;
    case v1::Call::kSync:
      ServeSync(call.sync(), reply->mutable_sync(), std::move(done));
      return;
    case v1::Call::kApply:
      ServeApply(call.apply(), reply->mutable_apply(), std::move(done));
      return;
    case v1::Call::METHOD_NOT_SET:
      break;
  }
  done(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                    "a call names no method"));
}

grpc::ServerUnaryReactor* ListServiceImpl::Get(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  v1::GetRequest parsed;
  grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(request));
  if (!parsed.ParseFromZeroCopyStream(&reader)) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "the request is not a GetRequest"));
    return reactor;
  }
  ServeGet(parsed,
           [reactor, response](const grpc::Status& status, EncodedGet answer) {
             if (status.ok())
               *response = ToByteBuffer(answer.body, answer.replies);
             reactor->Finish(status);
           });
  return reactor;
}

grpc::ServerUnaryReactor* ListServiceImpl::Sync(
    grpc::CallbackServerContext* context, const v1::SyncRequest* request,
    v1::SyncResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  ServeSync(*request, response,
            [reactor](const grpc::Status& s) { reactor->Finish(s); });
  return reactor;
}

grpc::ServerUnaryReactor* ListServiceImpl::Apply(
    grpc::CallbackServerContext* context, const v1::ApplyRequest* request,
    v1::ApplyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  ServeApply(*request, response,
             [reactor](const grpc::Status& s) { reactor->Finish(s); });
  return reactor;
}

grpc::ServerBidiReactor<v1::CallBatch, v1::ReplyBatch>* ListServiceImpl::Calls(
    grpc::CallbackServerContext* /*context*/) {
  return NewCallsReactor(this, recorder_, &call_streams_);
}

grpc::ServerUnaryReactor* ListServiceImpl::Ping(
    grpc::CallbackServerContext* context, const v1::PingRequest* request,
    v1::PingResponse* response) {
  response->set_payload(request->payload());
  response->set_server(self_id_);
  response->set_ring_version(coordinator_->ring_version());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace shoplist::node
