// TLS, mutual TLS and the cluster token, against real processes: 1 proxy
// and 3 nodes started with the certificates and token that
// scripts/make-dev-certs.sh makes. Every refusal is checked for its status
// and for leaving nothing behind.
#include "services/common/security.h"

#include <csignal>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "crdt/list_state.h"
#include "google/protobuf/descriptor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "shoplist/v1/list_service.grpc.pb.h"
#include "shoplist/v1/membership_service.grpc.pb.h"
#include "shoplist/v1/replica_service.grpc.pb.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace shoplist::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    certs_ = dir_.Sub("certs");
    CommandResult made =
        RunCommand({SHOPLIST_SOURCE_DIR "/scripts/make-dev-certs.sh", certs_},
                   absl::Seconds(30));
    ASSERT_EQ(made.exit_code, 0) << made.err;
    ca_ = ReadFile(certs_ + "/ca.crt");
    cert_ = ReadFile(certs_ + "/tls.crt");
    key_ = ReadFile(certs_ + "/tls.key");
    token_ = ReadFile(certs_ + "/token");
    while (!token_.empty() && token_.back() == '\n') token_.pop_back();
    ASSERT_FALSE(token_.empty());

    proxy_ = "127.0.0.1:" + std::to_string(FreePort());
    health_ = "127.0.0.1:" + std::to_string(FreePort());
    processes_.push_back(std::make_unique<ChildProcess>(
        WithSecurity({SHOPLIST_PROXY_BINARY, "--listen=" + proxy_,
                      "--data=" + dir_.Sub("proxy"),
                      "--health-listen=" + health_}),
        dir_.Sub("proxy.log")));
    for (int i = 0; i < 3; ++i) {
      std::string address = "127.0.0.1:" + std::to_string(FreePort());
      nodes_.push_back(address);
      processes_.push_back(std::make_unique<ChildProcess>(
          WithSecurity({SHOPLIST_NODE_BINARY, "--id=node-" + std::to_string(i),
                        "--listen=" + address, "--proxy=" + proxy_,
                        "--data=" + dir_.Sub("node-" + std::to_string(i))}),
          dir_.Sub("node-" + std::to_string(i) + ".log")));
    }
    auto membership = v1::MembershipService::NewStub(Tls(proxy_, true));
    ASSERT_TRUE(WaitFor(
        absl::Seconds(20),
        [&] {
          v1::RingView view;
          if (!Subscribe(*membership, token_, &view,
                         /*wait=*/true)
                   .ok() ||
              view.members_size() != 3) {
            return false;
          }
          for (const auto& m : view.members()) {
            if (m.state() != v1::Member::UP) return false;
          }
          // A node coordinates once the ring reaches it, a
          // moment after the proxy counts it up.
          for (const std::string& node : nodes_) {
            auto lists = v1::ListService::NewStub(Tls(node, true));
            v1::PingResponse pong;
            if (!lists->Ping(Context(absl::Seconds(2)).get(), {}, &pong).ok() ||
                pong.ring_version() == 0) {
              return false;
            }
          }
          return true;
        }))
        << "the secured cluster did not form; logs in " << dir_.path();
  }

  std::vector<std::string> WithSecurity(std::vector<std::string> args) {
    args.push_back("--tls-cert=" + certs_ + "/tls.crt");
    args.push_back("--tls-key=" + certs_ + "/tls.key");
    args.push_back("--tls-ca=" + certs_ + "/ca.crt");
    args.push_back("--cluster-token-file=" + certs_ + "/token");
    return args;
  }

  // A TLS channel trusting the dev CA, with or without a client
  // certificate.
  std::shared_ptr<grpc::Channel> Tls(const std::string& address,
                                     bool client_certificate) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca_;
    if (client_certificate) {
      ssl.pem_cert_chain = cert_;
      ssl.pem_private_key = key_;
    }
    // Servers start after this channel: reconnect quickly.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 2000);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
  }

  // `wait`: wait for the channel to connect (it polls the connection, which
  // a call that fails fast does not).
  static std::unique_ptr<grpc::ClientContext> WithToken(
      const std::string& token, bool wait = false) {
    auto context = Context(absl::Seconds(5), wait);
    if (!token.empty()) context->AddMetadata("shoplist-cluster-token", token);
    return context;
  }

  // The first view a subscription delivers, or the status that ended it.
  static grpc::Status Subscribe(v1::MembershipService::Stub& stub,
                                const std::string& token, v1::RingView* view,
                                bool wait = false) {
    auto context = WithToken(token, wait);
    auto reader = stub.Subscribe(context.get(), v1::SubscribeRequest());
    if (reader->Read(view)) {
      context->TryCancel();
      return grpc::Status::OK;
    }
    return reader->Finish();
  }

  v1::StoreRequest StoreOf(const std::string& list_id) {
    crdt::ListState state;
    v1::StoreRequest request;
    request.set_list_id(list_id);
    codec::EncodeState(*state.Add(crdt::Writer(77, 0), "contraband", 1),
                       request.mutable_delta());
    return request;
  }

  TempDir dir_;
  std::string certs_, ca_, cert_, key_, token_, proxy_, health_;
  std::vector<std::string> nodes_;
  std::vector<std::unique_ptr<ChildProcess>> processes_;
};

TEST_F(SecurityTest, MembershipRefusesCallersWithoutTheToken) {
  auto membership = v1::MembershipService::NewStub(Tls(proxy_, true));
  for (const std::string& token : {std::string(), std::string("wrong")}) {
    v1::JoinRequest join;
    join.mutable_node()->set_id("intruder");
    join.mutable_node()->set_address("127.0.0.1:1");
    v1::JoinResponse joined;
    grpc::Status status =
        membership->Join(WithToken(token).get(), join, &joined);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << "token '" << token << "': " << status.error_message();

    v1::HeartbeatRequest beat;
    beat.set_node_id("node-0");
    v1::HeartbeatResponse beaten;
    EXPECT_EQ(membership->Heartbeat(WithToken(token).get(), beat, &beaten)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);

    v1::LeaveRequest leave;
    leave.set_node_id("node-1");
    v1::LeaveResponse left;
    EXPECT_EQ(
        membership->Leave(WithToken(token).get(), leave, &left).error_code(),
        grpc::StatusCode::UNAUTHENTICATED);

    v1::RingView view;
    EXPECT_EQ(Subscribe(*membership, token, &view).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  // Nothing changed: the same three nodes, all up, no intruder.
  v1::RingView view;
  ASSERT_TRUE(Subscribe(*membership, token_, &view).ok());
  ASSERT_EQ(view.members_size(), 3);
  for (const auto& m : view.members()) {
    EXPECT_NE(m.node().id(), "intruder");
    EXPECT_EQ(m.state(), v1::Member::UP) << m.node().id();
  }
}

TEST_F(SecurityTest, ReplicaServiceRefusesCallersWithoutTheToken) {
  auto replica = v1::ReplicaService::NewStub(Tls(nodes_[0], true));
  const std::string list_id = *crdt::NewListId();
  for (const std::string& token : {std::string(), std::string("wrong")}) {
    v1::StoreResponse stored;
    EXPECT_EQ(replica->Store(WithToken(token).get(), StoreOf(list_id), &stored)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);

    auto context = WithToken(token);
    auto stream = replica->StoreStream(context.get());
    v1::StoreBatch batch;
    batch.set_sequence(1);
    *batch.add_writes() = StoreOf(list_id);
    stream->Write(batch);
    stream->WritesDone();
    v1::StoreBatchAck ack;
    EXPECT_FALSE(stream->Read(&ack));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);

    v1::FetchRequest fetch;
    fetch.set_list_id(list_id);
    v1::FetchResponse fetched;
    EXPECT_EQ(
        replica->Fetch(WithToken(token).get(), fetch, &fetched).error_code(),
        grpc::StatusCode::UNAUTHENTICATED);

    v1::DigestRequest digests;
    v1::DigestResponse digested;
    EXPECT_EQ(replica->GetDigests(WithToken(token).get(), digests, &digested)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);

    v1::HandOffRequest hand_off;
    v1::HandOffResponse handed;
    EXPECT_EQ(replica->HandOff(WithToken(token).get(), hand_off, &handed)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  // None of the refused writes was stored.
  v1::FetchRequest fetch;
  fetch.set_list_id(list_id);
  v1::FetchResponse fetched;
  ASSERT_TRUE(replica->Fetch(WithToken(token_).get(), fetch, &fetched).ok());
  EXPECT_FALSE(fetched.found());
  // And the right token is accepted.
  v1::StoreResponse stored;
  EXPECT_TRUE(
      replica->Store(WithToken(token_).get(), StoreOf(list_id), &stored).ok());
}

// Every method of the internal services, named from their descriptors, so
// that a method added without the gate (services/common/security.h) fails
// here. Each is called as a unary call with an empty message: gRPC frames
// every kind of call alike, and the gate answers before reading.
TEST_F(SecurityTest, EveryInternalMethodRefusesCallersWithoutTheToken) {
  auto Service = [](const std::string& name) {
    return google::protobuf::DescriptorPool::generated_pool()
        ->FindServiceByName(name);
  };
  struct Server {
    const google::protobuf::ServiceDescriptor* service;
    std::string address;
  };
  const std::vector<Server> servers = {
      {Service("shoplist.v1.ReplicaService"), nodes_[0]},
      {Service("shoplist.v1.MembershipService"), proxy_}};
  for (const Server& server : servers) {
    ASSERT_NE(server.service, nullptr);
    grpc::GenericStub stub(Tls(server.address, true));
    ASSERT_GT(server.service->method_count(), 0);
    for (int i = 0; i < server.service->method_count(); ++i) {
      const std::string method =
          absl::StrCat("/", server.service->full_name(), "/",
                       server.service->method(i)->name());
      for (const std::string& token : {std::string(), std::string("wrong")}) {
        auto context = WithToken(token);
        grpc::Slice empty("");
        grpc::ByteBuffer request(&empty, 1), response;
        grpc::Status status;
        absl::Notification done;
        stub.UnaryCall(context.get(), method, grpc::StubOptions(), &request,
                       &response, [&](grpc::Status s) {
                         status = std::move(s);
                         done.Notify();
                       });
        done.WaitForNotification();
        EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
            << method << " with token '" << token
            << "': " << status.error_message();
      }
    }
  }
}

TEST_F(SecurityTest, ClientsNeedNeitherTokenNorCertificateForLists) {
  auto lists = v1::ListService::NewStub(Tls(proxy_, false));
  const std::string list_id = *crdt::NewListId();
  v1::ApplyRequest create;
  create.set_list_id(list_id);
  create.mutable_operation()->mutable_create()->set_title("groceries");
  v1::ApplyResponse applied;
  ASSERT_TRUE(
      lists->Apply(Context(absl::Seconds(5)).get(), create, &applied).ok());
  v1::ApplyRequest add;
  add.set_list_id(list_id);
  add.mutable_operation()->mutable_add()->set_item("milk");
  add.mutable_operation()->mutable_add()->set_count(2);
  ASSERT_TRUE(
      lists->Apply(Context(absl::Seconds(5)).get(), add, &applied).ok());
  v1::GetRequest get;
  get.set_list_id(list_id);
  v1::GetResponse got;
  ASSERT_TRUE(lists->Get(Context(absl::Seconds(5)).get(), get, &got).ok());
  ASSERT_EQ(got.view().items_size(), 1);
  EXPECT_EQ(got.view().items(0).name(), "milk");
  EXPECT_EQ(got.view().items(0).wanted(), 2);

  // The CLI talks TLS with --tls-ca alone.
  CommandResult made = RunCommand(
      {SHOPLIST_CLI_BINARY, "--home=" + dir_.Sub("home"), "--proxy=" + proxy_,
       "--tls-ca=" + certs_ + "/ca.crt", "join", list_id},
      absl::Seconds(20));
  EXPECT_EQ(made.exit_code, 0) << made.out << made.err;
  CommandResult shown = RunCommand(
      {SHOPLIST_CLI_BINARY, "--home=" + dir_.Sub("home"), "--proxy=" + proxy_,
       "--tls-ca=" + certs_ + "/ca.crt", "show", list_id},
      absl::Seconds(20));
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("milk"), std::string::npos) << shown.out;
}

TEST_F(SecurityTest, NodesRequireAClientCertificateAndNobodyTalksPlaintext) {
  v1::PingRequest ping;
  v1::PingResponse pong;
  auto with_cert = v1::ListService::NewStub(Tls(nodes_[0], true));
  EXPECT_TRUE(
      with_cert->Ping(Context(absl::Seconds(5)).get(), ping, &pong).ok());
  auto without_cert = v1::ListService::NewStub(Tls(nodes_[0], false));
  grpc::Status refused =
      without_cert->Ping(Context(absl::Seconds(5)).get(), ping, &pong);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE)
      << refused.error_message();
  for (const std::string& address : {proxy_, nodes_[0]}) {
    // The server answers TLS right before and after, so a refusal is about
    // plaintext, not a server that is down.
    auto tls = v1::ListService::NewStub(Tls(address, true));
    ASSERT_TRUE(tls->Ping(Context(absl::Seconds(5)).get(), ping, &pong).ok())
        << address;
    auto plaintext = v1::ListService::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    grpc::Status refused =
        plaintext->Ping(Context(absl::Seconds(5)).get(), ping, &pong);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE)
        << address << ": " << refused.error_message();
    EXPECT_TRUE(tls->Ping(Context(absl::Seconds(5)).get(), ping, &pong).ok())
        << address;
  }
  // The CLI without the CA cannot reach the proxy; it works offline.
  CommandResult made =
      RunCommand({SHOPLIST_CLI_BINARY, "--home=" + dir_.Sub("plain"),
                  "--proxy=" + proxy_, "new", "groceries"},
                 absl::Seconds(20));
  EXPECT_EQ(made.exit_code, 0);
  EXPECT_NE(made.err.find("offline"), std::string::npos) << made.err;
}

TEST_F(SecurityTest, HealthPortAnswersPlaintextUntilShutdown) {
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(health_, grpc::InsecureChannelCredentials()));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(
      health->Check(Context(absl::Seconds(5)).get(), request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  // The health port serves nothing else.
  auto lists = v1::ListService::NewStub(
      grpc::CreateChannel(health_, grpc::InsecureChannelCredentials()));
  v1::PingRequest ping;
  v1::PingResponse pong;
  EXPECT_EQ(
      lists->Ping(Context(absl::Seconds(5)).get(), ping, &pong).error_code(),
      grpc::StatusCode::UNIMPLEMENTED);
  processes_[0]->Signal(SIGTERM);
  EXPECT_EQ(processes_[0]->Wait(absl::Seconds(10)), 0);
}

TEST(SecurityFlagsTest, UnreadableOrHalfGivenMaterialIsAClearError) {
  TempDir dir;
  CommandResult missing = RunCommand(
      {SHOPLIST_PROXY_BINARY, "--listen=127.0.0.1:0", "--data=" + dir.Sub("p"),
       "--tls-cert=" + dir.Sub("nope.crt"), "--tls-key=" + dir.Sub("nope.key")},
      absl::Seconds(10));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("cannot read the certificate file"),
            std::string::npos)
      << missing.err;
  CommandResult half =
      RunCommand({SHOPLIST_NODE_BINARY, "--id=n", "--listen=127.0.0.1:0",
                  "--members=n=127.0.0.1:1", "--data=" + dir.Sub("n"),
                  "--tls-cert=" + dir.Sub("x.crt")},
                 absl::Seconds(10));
  EXPECT_EQ(half.exit_code, 2);
  EXPECT_NE(half.err.find("--tls-cert and --tls-key go together"),
            std::string::npos)
      << half.err;
  std::ofstream(dir.Sub("empty-token")).close();
  CommandResult empty = RunCommand(
      {SHOPLIST_PROXY_BINARY, "--listen=127.0.0.1:0", "--data=" + dir.Sub("p2"),
       "--cluster-token-file=" + dir.Sub("empty-token")},
      absl::Seconds(10));
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("is empty"), std::string::npos) << empty.err;
}

TEST(ExposureTest, LoopbackAddressesAreTheOnlyOnesLeftOpen) {
  for (const char* local : {"127.0.0.1:7000", "127.9.8.7:1", "localhost:7000",
                            "[::1]:7000", "unix:/tmp/shoplist.sock"}) {
    EXPECT_TRUE(IsLoopbackAddress(local)) << local;
  }
  for (const char* open :
       {"0.0.0.0:7000", "[::]:7000", "10.0.0.5:7000", "node-0:7001",
        "128.0.0.1:7000", "127.0.0:7000", "127.0.0.256:7000", "[::1:7000"}) {
    EXPECT_FALSE(IsLoopbackAddress(open)) << open;
  }
  SecurityOptions none;
  EXPECT_EQ(CheckExposure("0.0.0.0:7000", none, false).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(CheckExposure("0.0.0.0:7000", none, true).ok());
  EXPECT_TRUE(CheckExposure("127.0.0.1:7000", none, false).ok());
  SecurityOptions token;
  token.cluster_token = "secret";
  EXPECT_TRUE(CheckExposure("0.0.0.0:7000", token, false).ok());
  SecurityOptions tls;
  tls.cert_pem = "cert";
  tls.key_pem = "key";
  EXPECT_TRUE(CheckExposure("0.0.0.0:7000", tls, false).ok());
}

// Both servers, as processes: open to the network with no token nor TLS
// they refuse to start and say why; --insecure or a token lets them.
TEST(ExposureTest, ServersOpenToTheNetworkNeedATokenTLSOrInsecure) {
  TempDir dir;
  const std::vector<std::vector<std::string>> servers = {
      {SHOPLIST_PROXY_BINARY, "--data=" + dir.Sub("p")},
      {SHOPLIST_NODE_BINARY, "--id=n", "--members=n=127.0.0.1:1",
       "--data=" + dir.Sub("n")}};
  {
    std::ofstream token(dir.Sub("token"));
    token << "a-cluster-token\n";
  }
  for (const std::vector<std::string>& server : servers) {
    std::vector<std::string> open = server;
    open.push_back("--listen=0.0.0.0:" + std::to_string(FreePort()));
    CommandResult refused = RunCommand(open, absl::Seconds(10));
    EXPECT_NE(refused.exit_code, 0) << server[0];
    EXPECT_NE(refused.err.find("refusing to serve 0.0.0.0:"), std::string::npos)
        << refused.err;
    EXPECT_NE(refused.err.find("--insecure"), std::string::npos) << refused.err;

    for (const std::string& consent :
         {std::string("--insecure"),
          "--cluster-token-file=" + dir.Sub("token")}) {
      const int port = FreePort();
      std::vector<std::string> args = server;
      args.push_back("--listen=0.0.0.0:" + std::to_string(port));
      args.push_back(consent);
      ChildProcess process(args, dir.Sub("server.log"));
      auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                         grpc::InsecureChannelCredentials());
      EXPECT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() +
                                            std::chrono::seconds(10)))
          << server[0] << " with " << consent << " did not serve; log "
          << ReadFile(dir.Sub("server.log"));
      channel.reset();  // an idle connection would hold the drain
      process.Signal(SIGTERM);
      EXPECT_EQ(process.Wait(absl::Seconds(10)), 0) << server[0];
    }
  }
}

}  // namespace
}  // namespace shoplist::testing
