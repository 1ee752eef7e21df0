// web_api_fuzz: the proxy's web front door (services/proxy/web_server.h) as
// the internet meets it. One WebServer runs in-process on loopback (plain
// HTTP, a small body limit, an app folder with a file and its gzip). Its
// calls go to a stand-in for the gateway that checks each as the nodes
// would (a list id that validates, a delta and a context that decode) and
// echoes the delta back. Each input is what one client sends on one
// connection: any number of requests, half a request, garbage. The client
// then closes its side and reads until the server closes.
//
// Checked: no crash or sanitizer report; the server answers in HTTP or
// closes without a word, never hangs; only whole protobuf messages reach
// the gateway; and every 16 inputs the server still answers a good sync
// with 200 and a good file with its gzip.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "fuzz/fuzz_support.h"
#include "services/proxy/web_server.h"
#include "shoplist/v1/list_service.pb.h"

namespace shoplist::fuzz {
namespace {

constexpr char kListId[] = "abcdefghijklmnopqrstuvwxyq";

class CheckingGateway final : public CallHandler {
 public:
  void Serve(const v1::Call& call, v1::Reply* reply, Done done) override {
    FUZZ_CHECK(call.has_sync() || call.has_get());
    const std::string& id =
        call.has_sync() ? call.sync().list_id() : call.get().list_id();
    if (!crdt::ValidateListId(id).ok()) {
      return done(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad id"));
    }
    if (call.has_get()) {
      reply->mutable_get();
      return done(grpc::Status::OK);
    }
    absl::StatusOr<crdt::ListState> delta =
        codec::DecodeState(call.sync().delta());
    absl::StatusOr<crdt::CausalContext> known =
        codec::DecodeContext(call.sync().known());
    if (!delta.ok() || !known.ok()) {
      return done(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad"));
    }
    codec::EncodeState(*delta, reply->mutable_sync()->mutable_missing());
    done(grpc::Status::OK);
  }
};

// Sends `bytes` on a new connection, closes the sending side, and returns
// everything the server wrote until it closed.
std::string Exchange(int port, absl::string_view bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  FUZZ_CHECK(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  FUZZ_CHECK(
      connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  // A server that neither answers nor closes within this is hung.
  timeval limit{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  // The server may close before reading it all (a refused header): then
  // the rest is not sent, which is fine.
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n =
        send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  std::string answer;
  char buffer[8192];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;  // libFuzzer's timer
    if (n < 0) {
      if (errno != ECONNRESET) {  // EAGAIN: the server hung
        std::fprintf(stderr, "recv: %s after %zu bytes\n", strerror(errno),
                     answer.size());
      }
      FUZZ_CHECK(errno == ECONNRESET);
      break;
    }
    answer.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return answer;
}

std::string Post(absl::string_view path, const std::string& body) {
  return absl::StrCat("POST ", path,
                      " HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      "application/x-protobuf\r\nContent-Length: ",
                      body.size(), "\r\n\r\n", body);
}

struct Door {
  CheckingGateway gateway;
  std::unique_ptr<proxy::WebServer> server;
};

Door* Open() {
  const std::filesystem::path root = std::filesystem::temp_directory_path() /
                                     absl::StrCat("web_api_fuzz.", getpid());
  std::filesystem::create_directories(root);
  std::ofstream(root / "index.html") << "<!doctype html><title>app";
  std::ofstream(root / "app.js") << "'use strict';";
  std::ofstream(root / "app.js.gz", std::ios::binary) << "gz";
  auto* door = new Door;
  proxy::WebOptions options;
  options.root = root.string();
  options.max_body = 64 * 1024;
  options.read_timeout = absl::Seconds(2);
  absl::StatusOr<std::unique_ptr<proxy::WebServer>> server =
      proxy::WebServer::Start(options, &door->gateway);
  FUZZ_CHECK_OK(server.status());
  door->server = *std::move(server);
  return door;
}

void CheckStillServes(int port) {
  v1::SyncRequest sync;
  sync.set_list_id(kListId);
  const std::string answer =
      Exchange(port, Post("/api/v1/sync", sync.SerializeAsString()));
  FUZZ_CHECK(answer.starts_with("HTTP/1.1 200 OK"));
  const std::string file = Exchange(
      port, "GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
  FUZZ_CHECK(file.starts_with("HTTP/1.1 200 OK"));
  FUZZ_CHECK(file.ends_with("\r\n\r\ngz"));
}

}  // namespace
}  // namespace shoplist::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoplist::fuzz;
  static Door* const door = Open();
  static int inputs = 0;
  const int port = door->server->port();
  const std::string answer = Exchange(
      port, absl::string_view(reinterpret_cast<const char*>(data), size));
  FUZZ_CHECK(answer.empty() || answer.starts_with("HTTP/1."));
  if (++inputs % 16 == 0) CheckStillServes(port);
  return 0;
}
