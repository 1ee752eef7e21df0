// The proxy's web front door on loopback, over a fake gateway: the app's
// files, the browser API's calls and their errors, and what an untrusted
// client may throw at it (bad bodies, other origins, big bodies, slow or
// garbled requests).
#include "services/proxy/web_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "shoplist/v1/list_service.pb.h"
#include "tests/support/temp_dir.h"

namespace shoplist::proxy {
namespace {

using ::testing::HasSubstr;

constexpr char kProtobuf[] = "application/x-protobuf";

// The gateway: answers each call with `status`, or holds it until Release.
class FakeGateway : public CallHandler {
 public:
  void Serve(const v1::Call& call, v1::Reply* reply, Done done) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    last_ = call;
    if (hold_) {
      held_ = std::move(done);
      return;
    }
    if (status_.ok() && call.has_sync()) {
      reply->mutable_sync()->mutable_missing()->set_deleted(true);
    }
    done(status_);
  }
  void Answer(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    status_ = std::move(status);
  }
  void Hold() {
    absl::MutexLock lock(&mu_);
    hold_ = true;
  }
  bool Held() {
    absl::MutexLock lock(&mu_);
    return held_ != nullptr;
  }
  void Release() {
    Done done;
    {
      absl::MutexLock lock(&mu_);
      done = std::move(held_);
    }
    done(grpc::Status::OK);
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  v1::Call last() {
    absl::MutexLock lock(&mu_);
    return last_;
  }

 private:
  absl::Mutex mu_;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  Done held_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  v1::Call last_ ABSL_GUARDED_BY(mu_);
};

std::string SyncBody(const std::string& id) {
  v1::SyncRequest request;
  request.set_list_id(id);
  request.set_secret("s3cret");
  return request.SerializeAsString();
}

class WebServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(root_.Sub("index.html")) << "<!doctype html><title>app";
    std::ofstream(root_.Sub("app.wasm"), std::ios::binary) << "\0asm";
    WebOptions options;
    options.root = root_.path();
    options.max_body = 1024;
    options.read_timeout = absl::Milliseconds(300);
    absl::StatusOr<std::unique_ptr<WebServer>> server =
        WebServer::Start(options, &gateway_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }

  httplib::Result PostSync(const std::string& body,
                           const std::string& type = kProtobuf,
                           httplib::Headers headers = {}) {
    return client_->Post("/api/v1/sync", headers, body, type);
  }

  shoplist::testing::TempDir root_;
  FakeGateway gateway_;
  std::unique_ptr<WebServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(WebServerTest, ServesTheAppsFilesWithAContentSecurityPolicy) {
  httplib::Result index = client_->Get("/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_THAT(index->body, HasSubstr("<title>app"));
  EXPECT_THAT(index->get_header_value("Content-Type"), HasSubstr("text/html"));
  EXPECT_THAT(index->get_header_value("Content-Security-Policy"),
              HasSubstr("default-src 'self'"));
  EXPECT_EQ(index->get_header_value("X-Content-Type-Options"), "nosniff");
  httplib::Result wasm = client_->Get("/app.wasm?v=1");
  ASSERT_TRUE(wasm);
  EXPECT_EQ(wasm->status, 200);
  EXPECT_EQ(wasm->get_header_value("Content-Type"), "application/wasm");
  for (const char* outside :
       {"/missing.js", "/../index.html", "/%2e%2e/etc/passwd", "/a/../../x"}) {
    httplib::Result none = client_->Get(outside);
    ASSERT_TRUE(none) << outside;
    EXPECT_EQ(none->status, 404) << outside;
  }
}

TEST_F(WebServerTest, AFilesGzipGoesOnlyToBrowsersThatTakeIt) {
  std::ofstream(root_.Sub("app.js")) << "plain";
  std::ofstream(root_.Sub("app.js.gz"), std::ios::binary) << "zipped";
  client_->set_decompress(false);
  httplib::Result zipped =
      client_->Get("/app.js", {{"Accept-Encoding", "br, gzip;q=0.8"}});
  ASSERT_TRUE(zipped);
  EXPECT_EQ(zipped->body, "zipped");
  EXPECT_EQ(zipped->get_header_value("Content-Encoding"), "gzip");
  EXPECT_THAT(zipped->get_header_value("Content-Type"),
              HasSubstr("text/javascript"));
  EXPECT_EQ(zipped->get_header_value("Vary"), "Accept-Encoding");
  httplib::Result upper =
      client_->Get("/app.js", {{"Accept-Encoding", "GZIP"}});
  ASSERT_TRUE(upper);
  EXPECT_EQ(upper->body, "zipped");
  for (const char* refuses :
       {"", "identity", "gzip;q=0", "gzip; q=0.000", "br"}) {
    httplib::Result plain =
        client_->Get("/app.js", {{"Accept-Encoding", refuses}});
    ASSERT_TRUE(plain) << refuses;
    EXPECT_EQ(plain->body, "plain") << refuses;
    EXPECT_FALSE(plain->has_header("Content-Encoding")) << refuses;
  }
  // Without a gzip beside it, the file itself.
  httplib::Result index = client_->Get("/", {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(index);
  EXPECT_THAT(index->body, HasSubstr("<title>app"));
  EXPECT_FALSE(index->has_header("Content-Encoding"));
}

TEST_F(WebServerTest, ASyncIsForwardedAndItsAnswerReturned) {
  httplib::Result result = PostSync(SyncBody("listid"));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type"), kProtobuf);
  v1::SyncResponse response;
  ASSERT_TRUE(response.ParseFromString(result->body));
  EXPECT_TRUE(response.missing().deleted());
  ASSERT_TRUE(gateway_.last().has_sync());
  EXPECT_EQ(gateway_.last().sync().list_id(), "listid");
  EXPECT_EQ(gateway_.last().sync().secret(), "s3cret");
  // Same origin is fine.
  httplib::Result same = PostSync(
      SyncBody("x"), kProtobuf,
      {{"Origin", "http://127.0.0.1:" + std::to_string(server_->port())}});
  ASSERT_TRUE(same);
  EXPECT_EQ(same->status, 200);
}

TEST_F(WebServerTest, TheCallsErrorsAreHttpStatusesWithTheCodeNamed) {
  gateway_.Answer(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such list"));
  httplib::Result missing = PostSync(SyncBody("x"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->get_header_value("Shoplist-Code"), "NOT_FOUND");
  EXPECT_THAT(missing->body, HasSubstr("no such list"));
  gateway_.Answer(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "read"));
  httplib::Result denied = PostSync(SyncBody("x"));
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
  gateway_.Answer(grpc::Status(grpc::StatusCode::UNAVAILABLE, "no node"));
  httplib::Result down = PostSync(SyncBody("x"));
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503);
}

TEST_F(WebServerTest, BadRequestsAreRefusedBeforeTheGateway) {
  httplib::Result garbage = PostSync("\xff\xff\xff not protobuf");
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->status, 400);
  EXPECT_EQ(garbage->get_header_value("Shoplist-Code"), "INVALID_ARGUMENT");
  httplib::Result form = PostSync(SyncBody("x"), "text/plain");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 415);
  httplib::Result elsewhere =
      PostSync(SyncBody("x"), kProtobuf, {{"Origin", "https://evil.example"}});
  ASSERT_TRUE(elsewhere);
  EXPECT_EQ(elsewhere->status, 403);
  httplib::Result big = PostSync(std::string(4096, 'x'));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  httplib::Result put = client_->Put("/api/v1/sync", "", kProtobuf);
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 405);
  EXPECT_EQ(gateway_.calls(), 0);
}

// A raw connection to the server.
int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address),
            0);
  return fd;
}

std::string ReadAll(int fd) {
  std::string all;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) all.append(buffer, n);
  return all;
}

TEST_F(WebServerTest, SlowAndGarbledClientsAreCutOffAndOthersServed) {
  // Half a request, never finished (slowloris): closed after the timeout.
  int slow = Connect(server_->port());
  const std::string half = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  ASSERT_EQ(write(slow, half.data(), half.size()),
            static_cast<ssize_t>(half.size()));
  // Meanwhile others are served.
  httplib::Result other = client_->Get("/");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ReadAll(slow), "");  // closed without an answer
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  close(slow);

  int garbled = Connect(server_->port());
  const std::string junk = "\x16\x03\x01 not http at all\r\n\r\n";
  ASSERT_EQ(write(garbled, junk.data(), junk.size()),
            static_cast<ssize_t>(junk.size()));
  EXPECT_THAT(ReadAll(garbled), HasSubstr("400"));
  close(garbled);

  int huge = Connect(server_->port());
  const std::string headers =
      "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') +
      "\r\n\r\n";
  ASSERT_GT(write(huge, headers.data(), headers.size()), 0);
  EXPECT_THAT(ReadAll(huge), HasSubstr("431"));
  close(huge);
}

TEST_F(WebServerTest, StopWaitsForTheCallsTheGatewayHolds) {
  gateway_.Hold();
  std::thread call([&] {
    httplib::Result result = PostSync(SyncBody("x"));
    // Either answered or cut off as the server stops: never a crash.
    if (result) {
      EXPECT_EQ(result->status, 200);
    }
  });
  while (!gateway_.Held())
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    gateway_.Release();
  });
  const auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(150));
  // Stop closed the connection: the client is not left waiting.
  call.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  release.join();
}

TEST(WebServerStartTest, PlainHttpOnlyOnLoopbackAndAFolderForFiles) {
  FakeGateway gateway;
  WebOptions beyond;
  beyond.listen = "0.0.0.0:0";
  EXPECT_EQ(WebServer::Start(beyond, &gateway).status().code(),
            absl::StatusCode::kFailedPrecondition);
  WebOptions no_folder;
  no_folder.root = "/nonexistent/app";
  EXPECT_EQ(WebServer::Start(no_folder, &gateway).status().code(),
            absl::StatusCode::kInvalidArgument);
  WebOptions bad;
  bad.listen = "nonsense";
  EXPECT_EQ(WebServer::Start(bad, &gateway).status().code(),
            absl::StatusCode::kInvalidArgument);
  WebOptions no_watches;
  no_watches.max_watches_per_client = 0;
  EXPECT_EQ(WebServer::Start(no_watches, &gateway).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shoplist::proxy

namespace shoplist::proxy {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// HTTPS with the proxy's certificate (scripts/make-dev-certs.sh's), which
// also lets it serve beyond loopback.
TEST(WebServerTlsTest, ServesTheAppAndTheApiOverTls) {
  shoplist::testing::TempDir dir;
  const std::string certs = dir.Sub("certs");
  ASSERT_EQ(std::system((std::string(SHOPLIST_SOURCE_DIR
                                     "/scripts/make-dev-certs.sh ") +
                         certs + " >/dev/null 2>&1")
                            .c_str()),
            0);
  std::ofstream(dir.Sub("index.html")) << "<title>app";
  FakeGateway gateway;
  WebOptions options;
  options.listen = "0.0.0.0:0";  // beyond loopback: fine with TLS
  options.root = dir.path();
  options.cert_pem = Slurp(certs + "/tls.crt");
  options.key_pem = Slurp(certs + "/tls.key");
  absl::StatusOr<std::unique_ptr<WebServer>> server =
      WebServer::Start(options, &gateway);
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::SSLClient client("127.0.0.1", (*server)->port());
  client.set_ca_cert_path((certs + "/ca.crt").c_str());
  client.enable_server_certificate_verification(true);
  httplib::Result index = client.Get("/");
  ASSERT_TRUE(index) << httplib::to_string(index.error());
  EXPECT_EQ(index->status, 200);
  httplib::Result sync =
      client.Post("/api/v1/sync", SyncBody("listid"), kProtobuf);
  ASSERT_TRUE(sync);
  EXPECT_EQ(sync->status, 200);
  // Plain HTTP on the TLS port gets no answer.
  httplib::Client plain("127.0.0.1", (*server)->port());
  plain.set_read_timeout(2, 0);
  httplib::Result refused = plain.Get("/");
  EXPECT_TRUE(!refused || refused->status != 200);

  WebOptions bad = options;
  bad.key_pem = "not a key";
  EXPECT_EQ(WebServer::Start(bad, &gateway).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shoplist::proxy

namespace shoplist::proxy {
namespace {

// The list service's Watch as the gateway serves it: for list "known", three
// events, then open until cancelled; any other list: NOT_FOUND.
class FakeWatches final : public v1::ListService::CallbackService {
 public:
  grpc::ServerWriteReactor<v1::WatchEvent>* Watch(
      grpc::CallbackServerContext*, const v1::WatchRequest* request) override {
    class Stream : public grpc::ServerWriteReactor<v1::WatchEvent> {
     public:
      Stream(FakeWatches* owner, bool known) : owner_(owner) {
        if (!known) {
          Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such list"));
          return;
        }
        event_.mutable_delta()->set_deleted(false);
        Next();
      }
      void OnWriteDone(bool ok) override {
        if (ok) Next();
      }
      void OnCancel() override {
        owner_->cancelled.fetch_add(1);
        Finish(grpc::Status::CANCELLED);
      }
      void OnDone() override { delete this; }

     private:
      void Next() {
        if (sent_ < 3) {
          ++sent_;
          StartWrite(&event_);
        }
      }
      FakeWatches* owner_;
      v1::WatchEvent event_;
      int sent_ = 0;
    };
    return new Stream(this, request->list_id() == "known");
  }
  std::atomic<int> cancelled{0};
};

class WebWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &grpc_port_);
    builder.RegisterService(&watches_);
    grpc_ = builder.BuildAndStart();
    stub_ = v1::ListService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_),
                            grpc::InsecureChannelCredentials()));
    absl::StatusOr<std::unique_ptr<WebServer>> server =
        WebServer::Start(WebOptions(), &gateway_, stub_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  void TearDown() override {
    server_.reset();
    grpc_->Shutdown();
  }

  // A raw watch request on a new connection; its file descriptor.
  int Watch(const std::string& list) {
    v1::WatchRequest request;
    request.set_list_id(list);
    const std::string body = request.SerializeAsString();
    const std::string http =
        "POST /api/v1/watch HTTP/1.1\r\nHost: x\r\nContent-Type: " +
        std::string(kProtobuf) +
        "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
        body;
    int fd = Connect(server_->port());
    EXPECT_EQ(write(fd, http.data(), http.size()),
              static_cast<ssize_t>(http.size()));
    return fd;
  }

  FakeWatches watches_;
  FakeGateway gateway_;
  int grpc_port_ = 0;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<v1::ListService::Stub> stub_;
  std::unique_ptr<WebServer> server_;
};

// Reads until `wanted` frames of a chunked watch answer arrived.
std::string ReadFrames(int fd, int wanted) {
  std::string all;
  char buffer[4096];
  for (int tries = 0; tries < 100; ++tries) {
    // Each event's frame is 4 + 2 bytes (an event with a delta), as a
    // chunk: "6\r\n" + frame + "\r\n".
    size_t frames = 0;
    for (size_t at = all.find("\r\n6\r\n"); at != std::string::npos;
         at = all.find("\r\n6\r\n", at + 1)) {
      ++frames;
    }
    if (static_cast<int>(frames) >= wanted) break;
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    all.append(buffer, n);
  }
  return all;
}

TEST_F(WebWatchTest, EventsStreamAsFramesAndABrowserLeavingCancelsTheWatch) {
  int fd = Watch("known");
  const std::string answer = ReadFrames(fd, 3);
  EXPECT_THAT(answer, HasSubstr("200 OK"));
  EXPECT_THAT(answer, HasSubstr("Transfer-Encoding: chunked"));
  close(fd);
  for (int i = 0; i < 200 && watches_.cancelled.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(watches_.cancelled.load(), 1);
}

TEST_F(WebWatchTest, AWatchTheCloudRefusesIsAnHttpError) {
  int fd = Watch("unknown");
  const std::string answer = ReadAll(fd);
  EXPECT_THAT(answer, HasSubstr("404"));
  EXPECT_THAT(answer, HasSubstr("Shoplist-Code: NOT_FOUND"));
  close(fd);
}

TEST_F(WebWatchTest, WatchesPastTheLimitOfOneAddressAreRefusedWith429) {
  WebOptions options;
  options.max_watches_per_client = 2;
  server_.reset();
  absl::StatusOr<std::unique_ptr<WebServer>> server =
      WebServer::Start(options, &gateway_, stub_.get());
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  int a = Watch("known");
  int b = Watch("known");
  EXPECT_THAT(ReadFrames(a, 3), HasSubstr("200 OK"));
  EXPECT_THAT(ReadFrames(b, 3), HasSubstr("200 OK"));
  int refused = Watch("known");
  const std::string answer = ReadAll(refused);
  EXPECT_THAT(answer, HasSubstr("429"));
  EXPECT_THAT(answer, HasSubstr("Shoplist-Code: RESOURCE_EXHAUSTED"));
  close(refused);
  // A watch that ends gives its place back.
  close(a);
  std::string again;
  for (int i = 0; i < 100; ++i) {
    int c = Watch("known");
    again = ReadFrames(c, 3);
    close(c);
    if (again.find("200 OK") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_THAT(again, HasSubstr("200 OK"));
  close(b);
}

TEST_F(WebWatchTest, StopEndsOpenWatches) {
  int a = Watch("known");
  int b = Watch("known");
  ReadFrames(a, 3);
  ReadFrames(b, 3);
  const auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  // The service hears of the cancellations a moment later.
  for (int i = 0; i < 200 && watches_.cancelled.load() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(watches_.cancelled.load(), 2);
  close(a);
  close(b);
}

}  // namespace
}  // namespace shoplist::proxy
