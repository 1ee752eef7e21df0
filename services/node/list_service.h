// ListService as served by a node: each handler decodes (INVALID_ARGUMENT
// for a bad list id or state), makes one call into the Coordinator, and
// encodes its answer; errors are the Coordinator's (coordinator.h). A call
// that comes in a Calls batch is served by the same code as its unary
// method. Open to clients: no cluster token. Thread-safe.
//
// Get is served raw (a ByteBuffer each way), so that a read answered with
// this node's stored copy is sent as bytes kept from an earlier read of
// the same copy (EncodedReads) without being decoded and encoded again.
#ifndef SHOPLIST_SERVICES_NODE_LIST_SERVICE_H_
#define SHOPLIST_SERVICES_NODE_LIST_SERVICE_H_

#include <string>

#include "services/common/call_batches.h"
#include "services/node/coordinator.h"
#include "services/node/encoded_reads.h"
#include "services/node/watch_hub.h"
#include "shoplist/v1/list_service.grpc.pb.h"

namespace shoplist::node {

class ListServiceImpl final : public v1::ListService::WithRawCallbackMethod_Get<
                                  v1::ListService::CallbackService>,
                              private CallHandler {
 public:
  // `encoded_read_bytes` bounds the EncodedReads kept.
  ListServiceImpl(std::string self_id, Coordinator* coordinator,
                  WatchHub* watchers, size_t encoded_read_bytes = 16 << 20)
      : self_id_(std::move(self_id)),
        coordinator_(coordinator),
        watchers_(watchers),
        encoded_reads_(encoded_read_bytes) {}

  // A GetRequest in, a GetResponse out.
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const grpc::ByteBuffer* request,
                                grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Sync(grpc::CallbackServerContext* context,
                                 const v1::SyncRequest* request,
                                 v1::SyncResponse* response) override;
  grpc::ServerUnaryReactor* Apply(grpc::CallbackServerContext* context,
                                  const v1::ApplyRequest* request,
                                  v1::ApplyResponse* response) override;
  // Streams what the caller lacks, then every change this replica merges.
  grpc::ServerWriteReactor<v1::WatchEvent>* Watch(
      grpc::CallbackServerContext* context,
      const v1::WatchRequest* request) override;
  grpc::ServerUnaryReactor* Ping(grpc::CallbackServerContext* context,
                                 const v1::PingRequest* request,
                                 v1::PingResponse* response) override;
  grpc::ServerBidiReactor<v1::CallBatch, v1::ReplyBatch>* Calls(
      grpc::CallbackServerContext* context) override;
  // Where the calls of Calls batches are counted. Set before serving.
  void set_call_recorder(CallRecorder recorder) {
    recorder_ = std::move(recorder);
  }
  // Ends the Calls streams as the server shuts down (BatchStreams::Drain).
  void DrainCalls() { call_streams_.Drain(); }

 private:
  void Serve(const v1::Call& call, v1::Reply* reply, Done done) override;
  // A Get's answer: the bytes of a GetResponse's state and view; its
  // replies are added by the caller.
  struct EncodedGet {
    EncodedReads::Bytes body;
    uint32_t replies = 0;
  };
  using GetDone = std::function<void(const grpc::Status&, EncodedGet)>;
  void ServeGet(const v1::GetRequest& request, GetDone done);
  void ServeSync(const v1::SyncRequest& request, v1::SyncResponse* response,
                 Done done);
  void ServeApply(const v1::ApplyRequest& request, v1::ApplyResponse* response,
                  Done done);

  const std::string self_id_;
  Coordinator* const coordinator_;
  WatchHub* const watchers_;
  EncodedReads encoded_reads_;
  CallRecorder recorder_;
  BatchStreams call_streams_;
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_LIST_SERVICE_H_
