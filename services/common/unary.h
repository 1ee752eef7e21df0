// The one helper for callback handlers that answer at once.
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

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_UNARY_H_
