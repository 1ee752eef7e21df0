#include "services/proxy/web_server.h"

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"

namespace shoplist::proxy {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

constexpr absl::string_view kProtobuf = "application/x-protobuf";
constexpr size_t kMaxHeaderBytes = 8 * 1024;

// Only this origin, and WebAssembly: no inline script, nothing fetched
// from elsewhere, never framed.
constexpr char kContentSecurityPolicy[] =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
    "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "manifest-src 'self'; worker-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

http::status HttpStatusOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return http::status::ok;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return http::status::bad_request;
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return http::status::forbidden;
    case grpc::StatusCode::NOT_FOUND:
      return http::status::not_found;
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return http::status::conflict;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return http::status::payload_too_large;
    case grpc::StatusCode::UNAVAILABLE:
      return http::status::service_unavailable;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return http::status::gateway_timeout;
    default:
      return http::status::internal_server_error;
  }
}

// The code's name ("NOT_FOUND"): gRPC's codes are absl's, number for number.
std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

const char* ContentType(const std::filesystem::path& file) {
  const std::string ext = file.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".wasm") return "application/wasm";
  if (ext == ".webmanifest") return "application/manifest+json";
  if (ext == ".json") return "application/json";
  if (ext == ".png") return "image/png";
  if (ext == ".svg") return "image/svg+xml";
  return "application/octet-stream";
}

// Whether Accept-Encoding names gzip (any case) without refusing it by a
// weight of zero ("q=0", "q=0.0", ...).
bool AcceptsGzip(const Request& request) {
  const auto header = request[http::field::accept_encoding];
  for (absl::string_view coding :
       absl::StrSplit(absl::string_view(header.data(), header.size()), ',')) {
    std::vector<absl::string_view> parts = absl::StrSplit(coding, ';');
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(parts[0]), "gzip")) {
      continue;
    }
    for (size_t i = 1; i < parts.size(); ++i) {
      absl::string_view param = absl::StripAsciiWhitespace(parts[i]);
      double q = 1;
      if (absl::ConsumePrefix(&param, "q=") && absl::SimpleAtod(param, &q)) {
        return q > 0;
      }
    }
    return true;
  }
  return false;
}

Response Answer(const Request& request, http::status status, std::string body,
                absl::string_view type) {
  Response response(status, request.version());
  response.set(http::field::content_type, std::string(type));
  response.set("Content-Security-Policy", kContentSecurityPolicy);
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Referrer-Policy", "no-referrer");
  response.set(http::field::cache_control, "no-cache");
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

Response Refusal(const Request& request, grpc::StatusCode code,
                 absl::string_view message,
                 std::optional<http::status> status = std::nullopt) {
  Response response =
      Answer(request, status.value_or(HttpStatusOf(code)),
             absl::StrCat(message, "\n"), "text/plain; charset=utf-8");
  response.set("Shoplist-Code", CodeName(code));
  return response;
}

// A request from another site's page: its Origin is not this server's.
bool CrossOrigin(const Request& request) {
  auto origin = request.find(http::field::origin);
  if (origin == request.end()) return false;
  auto host = request.find(http::field::host);
  if (host == request.end()) return true;
  const absl::string_view from(origin->value().data(), origin->value().size());
  const std::string self(host->value());
  return from != absl::StrCat("http://", self) &&
         from != absl::StrCat("https://", self);
}

// Why an API request is refused before it is read: another site's page,
// or a body that is not protobuf (which such a page could send without a
// preflight); nullopt when it is acceptable.
std::optional<Response> Unacceptable(const Request& request) {
  if (CrossOrigin(request)) {
    return Refusal(request, grpc::StatusCode::PERMISSION_DENIED,
                   "cross-origin requests are not accepted");
  }
  if (!absl::StartsWith(std::string(request[http::field::content_type]),
                        kProtobuf)) {
    return Refusal(request, grpc::StatusCode::INVALID_ARGUMENT,
                   absl::StrCat("the body must be ", kProtobuf),
                   http::status::unsupported_media_type);
  }
  return std::nullopt;
}

// The calls the gateway holds and the watches running, which Stop() waits
// for. Shared with each
// call's callback, so it outlives the server while a callback finishes.
struct InFlight {
  absl::Mutex mu;
  int calls ABSL_GUARDED_BY(mu) = 0;
  bool stopped ABSL_GUARDED_BY(mu) = false;
};

}  // namespace

// What Stop() needs of a connection, whatever its stream.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void Shutdown() = 0;
};

struct WebServer::Impl {
  Impl(WebOptions o, CallHandler* c, v1::ListService::StubInterface* w)
      : options(std::move(o)), calls(c), watches(w) {}

  void Accept();
  // A new connection's session.
  void Open(tcp::socket socket);
  // A file of the app, or 404.
  Response File(const Request& request) const;

  const WebOptions options;
  CallHandler* const calls;
  v1::ListService::StubInterface* const watches;  // null: no watch API
  std::filesystem::path root;                     // canonical; empty: no files
  net::io_context io{options.threads};
  // Keeps the I/O threads running while no connection has work, until
  // Stop() has closed them all.
  std::optional<net::executor_work_guard<net::io_context::executor_type>> busy{
      net::make_work_guard(io)};
  tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;
  int port = 0;

  const std::shared_ptr<InFlight> in_flight = std::make_shared<InFlight>();

  // The open connections, for Stop() to close.
  absl::Mutex sessions_mu;
  std::vector<std::weak_ptr<Connection>> sessions ABSL_GUARDED_BY(sessions_mu);

  // HTTPS when set.
  std::optional<net::ssl::context> tls;

  // Takes one of the watches the limits allow `client`; false when none is
  // left. Each taken is given back by ReleaseWatch.
  bool TakeWatch(const std::string& client);
  void ReleaseWatch(const std::string& client);

  absl::Mutex watches_mu;
  absl::flat_hash_map<std::string, int> watches_by_client
      ABSL_GUARDED_BY(watches_mu);
  int watches_open ABSL_GUARDED_BY(watches_mu) = 0;
};

bool WebServer::Impl::TakeWatch(const std::string& client) {
  absl::MutexLock lock(&watches_mu);
  int& mine = watches_by_client[client];
  if (mine >= options.max_watches_per_client ||
      watches_open >= options.max_watches) {
    if (mine == 0) watches_by_client.erase(client);
    return false;
  }
  ++mine;
  ++watches_open;
  return true;
}

void WebServer::Impl::ReleaseWatch(const std::string& client) {
  absl::MutexLock lock(&watches_mu);
  --watches_open;
  auto it = watches_by_client.find(client);
  if (it != watches_by_client.end() && --it->second <= 0) {
    watches_by_client.erase(it);
  }
}

// A browser's watch of one list: the list service's Watch stream (the
// gateway's, through the proxy's own port), each event written to the
// connection as one frame: 4 bytes of length (big-endian), then the
// serialized v1::WatchEvent. The next event is read only once the frame is
// written, so a slow browser holds one event, not a queue.
class WatchRelay final : public grpc::ClientReadReactor<v1::WatchEvent> {
 public:
  // `write(frame, done)`: writes a frame on the connection's strand and
  // runs `done(written)` once, whether it was written or not (the
  // connection closed). `end(status)`: the stream ended.
  WatchRelay(std::function<void(std::string, std::function<void(bool)>)> write,
             std::function<void(const grpc::Status&)> end,
             std::shared_ptr<InFlight> flight)
      : write_(std::move(write)),
        end_(std::move(end)),
        flight_(std::move(flight)) {}

  void Start(v1::ListService::StubInterface* stub, v1::WatchRequest request) {
    request_ = std::move(request);
    stub->async()->Watch(&context_, &request_, this);
    StartRead(&event_);
    StartCall();
  }

  // Any thread, until OnDone.
  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    // Held until the frame is written and the next read started: gRPC
    // may end the call (and OnDone delete this) as soon as no operation
    // is pending.
    AddHold();
    std::string bytes = event_.SerializeAsString();
    std::string frame(4, '\0');
    for (int i = 0; i < 4; ++i) {
      frame[i] = static_cast<char>((bytes.size() >> (8 * (3 - i))) & 0xff);
    }
    frame += bytes;
    write_(std::move(frame), [this](bool written) {
      if (written) {
        StartRead(&event_);
      } else {
        Cancel();  // the browser is gone
      }
      RemoveHold();
    });
  }

  void OnDone(const grpc::Status& status) override {
    end_(status);
    std::shared_ptr<InFlight> flight = std::move(flight_);
    delete this;
    absl::MutexLock lock(&flight->mu);
    --flight->calls;
  }

 private:
  const std::function<void(std::string, std::function<void(bool)>)> write_;
  const std::function<void(const grpc::Status&)> end_;
  std::shared_ptr<InFlight> flight_;
  grpc::ClientContext context_;
  v1::WatchRequest request_;
  v1::WatchEvent event_;
};

// One connection: requests read one after another, each answered before
// the next is read (HTTP/1.1 without pipelining out of order). `Stream` is
// beast::tcp_stream, or beast::ssl_stream of one for HTTPS.
template <typename Stream>
class Session : public Connection,
                public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  template <typename... Tls>
  Session(tcp::socket socket, WebServer::Impl* server, Tls&... tls)
      : stream_(std::move(socket), tls...), server_(server) {}
  ~Session() override { FailQueue(); }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->Lowest().expires_after(
            absl::ToChronoMilliseconds(self->server_->options.read_timeout));
        self->stream_.async_handshake(
            net::ssl::stream_base::server, [self](beast::error_code ec) {
              if (ec) return self->Close();  // not TLS, or too slow
              self->Read();
            });
      } else {
        self->Read();
      }
    });
  }

  // Closes the connection (from any thread: on its own strand), and ends
  // its watch.
  void Shutdown() override {
    CancelWatch();
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      beast::error_code ignored;
      self->Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      self->Lowest().close();
    });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(server_->options.max_body);
    parser_->header_limit(kMaxHeaderBytes);
    Lowest().expires_after(
        absl::ToChronoMilliseconds(server_->options.read_timeout));
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](
                         beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      Request request;
      return Write(Refusal(request, grpc::StatusCode::RESOURCE_EXHAUSTED,
                           absl::StrCat("a request body is at most ",
                                        server_->options.max_body, " bytes")),
                   /*close=*/true);
    }
    if (ec == http::error::header_limit) {
      Request request;
      return Write(Refusal(request, grpc::StatusCode::INVALID_ARGUMENT,
                           "request headers are at most 8 KiB",
                           http::status::request_header_fields_too_large),
                   /*close=*/true);
    }
    // A malformed request (Beast's parse errors); not the peer leaving
    // (end_of_stream, partial_message) or the timeout.
    if (ec &&
        ec.category() ==
            beast::error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      Request request;
      return Write(Refusal(request, grpc::StatusCode::INVALID_ARGUMENT,
                           absl::StrCat("not an HTTP request: ", ec.message())),
                   /*close=*/true);
    }
    // The peer closed, or was too slow (the timeout), or the socket broke.
    if (ec) return Close();
    Handle(parser_->release());
  }

  void Handle(Request request) {
    const absl::string_view target(request.target().data(),
                                   request.target().size());
    if (request.method() == http::verb::post &&
        (target == "/api/v1/sync" || target == "/api/v1/get")) {
      return Call(std::move(request), target == "/api/v1/sync");
    }
    if (request.method() == http::verb::post && target == "/api/v1/watch" &&
        server_->watches != nullptr) {
      return Watch(std::move(request));
    }
    if (request.method() == http::verb::get ||
        request.method() == http::verb::head) {
      return Write(server_->File(request));
    }
    Response refused =
        Refusal(request, grpc::StatusCode::INVALID_ARGUMENT,
                "no such method here", http::status::method_not_allowed);
    refused.set(http::field::allow, "GET, HEAD, POST");
    Write(std::move(refused));
  }

  // Counts a call or watch in flight, which Stop() waits for; null (and
  // the request refused) once the server is stopping.
  std::shared_ptr<InFlight> Admit(const Request& request) {
    std::shared_ptr<InFlight> flight = server_->in_flight;
    absl::MutexLock lock(&flight->mu);
    if (flight->stopped) {
      Write(Refusal(request, grpc::StatusCode::UNAVAILABLE,
                    "the proxy is stopping"),
            /*close=*/true);
      return nullptr;
    }
    ++flight->calls;
    return flight;
  }

  // Forwards a call to the gateway; answers when it comes back.
  void Call(Request request, bool sync) {
    if (std::optional<Response> refused = Unacceptable(request)) {
      return Write(*std::move(refused));
    }
    auto call = std::make_shared<v1::Call>();
    const bool parsed =
        sync ? call->mutable_sync()->ParseFromString(request.body())
             : call->mutable_get()->ParseFromString(request.body());
    if (!parsed) {
      return Write(Refusal(request, grpc::StatusCode::INVALID_ARGUMENT,
                           sync ? "the body is not a SyncRequest"
                                : "the body is not a GetRequest"));
    }
    std::shared_ptr<InFlight> flight = Admit(request);
    if (flight == nullptr) return;
    auto reply = std::make_shared<v1::Reply>();
    auto asked = std::make_shared<Request>(std::move(request));
    server_->calls->Serve(
        *call, reply.get(),
        [self = this->shared_from_this(), call, reply, asked, sync,
         flight](const grpc::Status& status) mutable {
          Response response =
              status.ok() ? Answer(*asked, http::status::ok,
                                   sync ? reply->sync().SerializeAsString()
                                        : reply->get().SerializeAsString(),
                                   kProtobuf)
                          : Refusal(*asked, status.error_code(),
                                    status.error_message());
          // The session goes with the answer: once the count drops, the
          // server may be gone, and nothing here may touch it.
          auto executor = self->stream_.get_executor();
          net::post(executor, [self = std::move(self),
                               response = std::move(response)]() mutable {
            self->Write(std::move(response));
          });
          absl::MutexLock lock(&flight->mu);
          --flight->calls;
        });
  }

  // Streams the watch of a list: a chunked answer of event frames, until
  // the list's watch ends (the chunked answer ends with it) or the browser
  // goes away (the watch is cancelled).
  void Watch(Request request) {
    if (std::optional<Response> refused = Unacceptable(request)) {
      return Write(*std::move(refused));
    }
    v1::WatchRequest watch;
    if (!watch.ParseFromString(request.body())) {
      return Write(Refusal(request, grpc::StatusCode::INVALID_ARGUMENT,
                           "the body is not a WatchRequest"));
    }
    const std::string client = Client();
    if (!server_->TakeWatch(client)) {
      return Write(Refusal(request, grpc::StatusCode::RESOURCE_EXHAUSTED,
                           "too many watches open from this address",
                           http::status::too_many_requests));
    }
    std::shared_ptr<InFlight> flight = Admit(request);
    if (flight == nullptr) return server_->ReleaseWatch(client);
    // One watch per connection, for as long as it is open. The answer's
    // head goes with the first event (a watch starts with one), so a watch
    // the cloud refuses (NOT_FOUND, PERMISSION_DENIED) is an HTTP error.
    Lowest().expires_never();
    auto self = this->shared_from_this();
    auto asked = std::make_shared<Request>(std::move(request));
    auto* relay = new WatchRelay(
        [self](std::string frame, std::function<void(bool)> written) {
          net::post(self->stream_.get_executor(),
                    [self, frame = std::move(frame),
                     written = std::move(written)]() mutable {
                      self->Queue(frame, std::move(written));
                    });
        },
        [self, asked, client](const grpc::Status& status) {
          {
            absl::MutexLock lock(&self->watch_mu_);
            self->watch_ = nullptr;
          }
          self->server_->ReleaseWatch(client);
          net::post(self->stream_.get_executor(), [self, asked, status] {
            if (self->streaming_) {
              return self->Queue("", nullptr, /*last=*/true);
            }
            self->Write(Refusal(*asked,
                                status.ok() ? grpc::StatusCode::UNAVAILABLE
                                            : status.error_code(),
                                status.ok() ? "the watch ended"
                                            : status.error_message()),
                        /*close=*/true);
          });
        },
        flight);
    {
      absl::MutexLock lock(&watch_mu_);
      watch_ = relay;
    }
    relay->Start(server_->watches, std::move(watch));
    AwaitClose();
  }

  // The client's address, as the watch limits count it.
  std::string Client() {
    beast::error_code ec;
    const tcp::endpoint peer = Lowest().socket().remote_endpoint(ec);
    return ec ? std::string() : peer.address().to_string();
  }

  // The browser closing a watch's connection (or sending anything more)
  // ends the watch.
  void AwaitClose() {
    stream_.async_read_some(
        net::buffer(discard_),
        [self = this->shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->CancelWatch();
          self->AwaitClose();
        });
  }

  void CancelWatch() {
    absl::MutexLock lock(&watch_mu_);
    if (watch_ != nullptr) watch_->Cancel();
  }

  // Writes of a watch's answer, one at a time, in order. On the strand.
  // `data` goes as one HTTP chunk; `last` ends the chunked answer (and,
  // once written, the connection).
  void Queue(const std::string& data, std::function<void(bool)> done,
             bool last = false) {
    std::string chunk =
        last ? std::string("0\r\n\r\n")
             : absl::StrCat(absl::Hex(data.size()), "\r\n", data, "\r\n");
    if (!streaming_) {
      streaming_ = true;
      chunk = absl::StrCat(
          "HTTP/1.1 200 OK\r\nContent-Type: application/x-shoplist-watch\r\n"
          "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
          "Transfer-Encoding: chunked\r\n\r\n",
          chunk);
    }
    queue_.push_back({std::move(chunk), std::move(done), last});
    WriteNext();
  }

  void WriteNext() {
    if (writing_ || queue_.empty()) return;
    writing_ = true;
    auto next = std::make_shared<Pending>(std::move(queue_.front()));
    queue_.pop_front();
    net::async_write(
        stream_, net::buffer(next->bytes),
        [self = this->shared_from_this(), next](beast::error_code ec, size_t) {
          self->writing_ = false;
          if (next->done) next->done(!ec);
          if (ec) {
            self->CancelWatch();
            self->FailQueue();
            return self->Close();
          }
          if (next->last) return self->Close();
          self->WriteNext();
        });
  }

  // Frames that will not be written now: each told so.
  void FailQueue() {
    while (!queue_.empty()) {
      Pending dropped = std::move(queue_.front());
      queue_.pop_front();
      if (dropped.done) dropped.done(false);
    }
  }

  void Write(Response response, bool close = false) {
    if (close) response.keep_alive(false);
    auto sent = std::make_shared<Response>(std::move(response));
    http::async_write(
        stream_, *sent,
        [self = this->shared_from_this(), sent](beast::error_code ec, size_t) {
          if (ec || sent->need_eof()) return self->Close();
          self->Read();
        });
  }

  void Close() {
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  WebServer::Impl* const server_;

  // A watch's answer (on the strand).
  struct Pending {
    std::string bytes;
    std::function<void(bool)> done;
    bool last = false;
  };
  std::deque<Pending> queue_;
  bool writing_ = false;
  bool streaming_ = false;  // the watch's answer head is out
  std::array<char, 64> discard_;
  // The watch running on this connection, until its OnDone.
  absl::Mutex watch_mu_;
  WatchRelay* watch_ ABSL_GUARDED_BY(watch_mu_) = nullptr;
};

void WebServer::Impl::Open(tcp::socket socket) {
  std::shared_ptr<Connection> connection;
  if (tls) {
    auto session =
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
            std::move(socket), this, *tls);
    session->Start();
    connection = std::move(session);
  } else {
    auto session =
        std::make_shared<Session<beast::tcp_stream>>(std::move(socket), this);
    session->Start();
    connection = std::move(session);
  }
  absl::MutexLock lock(&sessions_mu);
  if (sessions.size() > 64) {
    std::erase_if(sessions, [](const std::weak_ptr<Connection>& c) {
      return c.expired();
    });
  }
  sessions.push_back(connection);
}

void WebServer::Impl::Accept() {
  acceptor.async_accept(net::make_strand(io),
                        [this](beast::error_code ec, tcp::socket socket) {
                          if (ec == net::error::operation_aborted)
                            return;  // stopping
                          {
                            absl::MutexLock lock(&in_flight->mu);
                            if (in_flight->stopped) return;
                          }
                          if (!ec) Open(std::move(socket));
                          Accept();
                        });
}

Response WebServer::Impl::File(const Request& request) const {
  std::string path(request.target());
  path = path.substr(0, path.find_first_of("?#"));
  if (root.empty() || path.empty() || path[0] != '/' ||
      absl::StrContains(path, "..") || absl::StrContains(path, '\0') ||
      absl::StrContains(path, '\\')) {
    return Refusal(request, grpc::StatusCode::NOT_FOUND, "no such file");
  }
  if (path == "/") path = "/index.html";
  std::error_code error;
  const std::filesystem::path file =
      std::filesystem::weakly_canonical(root / path.substr(1), error);
  const auto [end, unused] =
      std::mismatch(root.begin(), root.end(), file.begin(), file.end());
  if (error || end != root.end() ||
      !std::filesystem::is_regular_file(file, error)) {
    return Refusal(request, grpc::StatusCode::NOT_FOUND, "no such file");
  }
  // A file's gzip beside it (the build makes them) goes to browsers that
  // take it: the module is a third of its size so.
  std::filesystem::path body = file;
  const bool gzip = AcceptsGzip(request) && std::filesystem::is_regular_file(
                                                file.string() + ".gz", error);
  if (gzip) body += ".gz";
  std::ifstream in(body, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  Response response =
      Answer(request, http::status::ok, bytes.str(), ContentType(file));
  response.set(http::field::vary, "Accept-Encoding");
  if (gzip) response.set(http::field::content_encoding, "gzip");
  if (request.method() == http::verb::head) response.body().clear();
  return response;
}

absl::StatusOr<std::unique_ptr<WebServer>> WebServer::Start(
    WebOptions options, CallHandler* calls,
    v1::ListService::StubInterface* watches) {
  if (options.max_watches_per_client < 1 || options.max_watches < 1) {
    return absl::InvalidArgumentError(
        "the watch limits must be at least 1 (--web-max-watches-per-client, "
        "--web-max-watches)");
  }
  auto impl = std::make_unique<Impl>(std::move(options), calls, watches);
  if (!impl->options.root.empty()) {
    std::error_code error;
    impl->root = std::filesystem::canonical(impl->options.root, error);
    if (error || !std::filesystem::is_directory(impl->root)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the web app's folder ", impl->options.root, " is not a folder"));
    }
  }
  const std::string& listen = impl->options.listen;
  const size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--web-listen must be HOST:PORT, got '", listen, "'"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 1 && host.front() == '[')
    host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  const net::ip::address address =
      host == "localhost" ? net::ip::address(net::ip::address_v4::loopback())
                          : net::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("--web-listen needs an IP address, got '", host, "'"));
  }
  if (!impl->options.cert_pem.empty()) {
    impl->tls.emplace(net::ssl::context::tls_server);
    impl->tls->set_options(
        net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
        net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
        net::ssl::context::no_tlsv1_1);
    const std::string& cert = impl->options.cert_pem;
    const std::string& key = impl->options.key_pem;
    impl->tls->use_certificate_chain(net::buffer(cert.data(), cert.size()), ec);
    if (!ec) {
      impl->tls->use_private_key(net::buffer(key.data(), key.size()),
                                 net::ssl::context::pem, ec);
    }
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("the web front door's certificate: ", ec.message()));
    }
  } else if (!address.is_loopback()) {
    // Browsers treat plain HTTP as secure on loopback only.
    return absl::FailedPreconditionError(absl::StrCat(
        "serving the web app on ", listen,
        " needs TLS (--tls-cert, --tls-key); plain HTTP is for loopback "
        "only"));
  }
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen, ": ", ec.message()));
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  for (int i = 0; i < std::max(1, impl->options.threads); ++i) {
    impl->threads.emplace_back([io = &impl->io] { io->run(); });
  }
  return std::unique_ptr<WebServer>(new WebServer(std::move(impl)));
}

WebServer::WebServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebServer::~WebServer() { Stop(); }

int WebServer::port() const { return impl_->port; }

void WebServer::Stop() {
  InFlight& flight = *impl_->in_flight;
  {
    absl::MutexLock lock(&flight.mu);
    if (flight.stopped) return;
    flight.stopped = true;
  }
  net::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  // Every connection is closed and its watch cancelled; calls the gateway
  // holds come back (within its deadline) and watches end; then the I/O
  // threads return once nothing is left to do.
  {
    absl::MutexLock lock(&impl_->sessions_mu);
    for (const std::weak_ptr<Connection>& weak : impl_->sessions) {
      if (std::shared_ptr<Connection> c = weak.lock()) c->Shutdown();
    }
    impl_->sessions.clear();
  }
  {
    absl::MutexLock lock(&flight.mu);
    flight.mu.Await(absl::Condition(
        +[](int* n) { return *n == 0; }, &flight.calls));
  }
  impl_->busy.reset();
  for (std::thread& t : impl_->threads) t.join();
}

}  // namespace shoplist::proxy
