// Helpers for callback handlers that answer at once.
#ifndef SHOPLIST_SERVICES_COMMON_UNARY_H_
#define SHOPLIST_SERVICES_COMMON_UNARY_H_

#include "grpcpp/grpcpp.h"

namespace shoplist {

inline grpc::ServerUnaryReactor* FinishUnary(
    grpc::CallbackServerContext* context, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

// A server stream refused before it starts; deletes itself when done.
template <typename Response>
class RefusedStream final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit RefusedStream(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

// A bidirectional stream refused before it starts; deletes itself when done.
template <typename Request, typename Response>
class RefusedBidiStream final
    : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit RefusedBidiStream(const grpc::Status& status) {
    this->Finish(status);
  }
  void OnDone() override { delete this; }
};

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_UNARY_H_
