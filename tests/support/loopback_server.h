// A real gRPC server on 127.0.0.1 for service tests.
//
// Thread-safe: it keeps no state.
#ifndef SHOPLIST_TESTS_SUPPORT_LOOPBACK_SERVER_H_
#define SHOPLIST_TESTS_SUPPORT_LOOPBACK_SERVER_H_

#include <memory>
#include <string>

#include "crdt/limits.h"
#include "grpcpp/grpcpp.h"

namespace shoplist::testing {

struct LoopbackServer {
  std::unique_ptr<grpc::Server> server;  // null when it did not start
  int port = 0;
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

// Starts `service` on a port the kernel picks as it binds (nothing can take
// it in between), taking messages as large as our servers take.
inline LoopbackServer StartLoopbackServer(grpc::Service* service) {
  LoopbackServer started;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &started.port);
  builder.SetMaxReceiveMessageSize(crdt::kMaxMessageBytes);
  builder.RegisterService(service);
  started.server = builder.BuildAndStart();
  return started;
}

}  // namespace shoplist::testing

#endif  // SHOPLIST_TESTS_SUPPORT_LOOPBACK_SERVER_H_
