// node_fuzz: the real request paths of a node. Three NodeServers run
// in-process, each a whole node (ListService, ReplicaService, coordinator,
// hinted hand-off, anti-entropy) on its own loopback port, with real
// LevelDB stores on an in-memory leveldb::Env (an fsync per write would
// cap the fuzzer at a few hundred inputs a second) and a fixed ring of the
// three. Each record of an input (fuzz_support.h) is a request sent over
// gRPC to node 0: tag % 5 picks Get, Sync, Apply (ListService), Store or
// Fetch (ReplicaService).
//
// Checked: no crash or sanitizer report; only the codes a caller may get
// (never INTERNAL, UNKNOWN, DATA_LOSS or UNIMPLEMENTED); every state a
// reply carries decodes and validates; a refused write changes nothing on
// any replica; after every request each replica's copy of the list decodes
// and validates.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "codec/list_codec.h"
#include "crdt/list_id.h"
#include "fuzz/fuzz_support.h"
#include "grpcpp/grpcpp.h"
#include "leveldb/env.h"
#include "leveldb/helpers/memenv.h"
#include "services/node/node_server.h"
#include "services/node/ring_source.h"
#include "shoplist/v1/list_service.grpc.pb.h"
#include "shoplist/v1/replica_service.grpc.pb.h"

namespace shoplist::fuzz {
namespace {

constexpr int kNodes = 3;

// The ring, set once the servers know their ports.
class FixedRing final : public node::RingSource {
 public:
  std::shared_ptr<const node::RingView> Current() const override {
    return view_ != nullptr ? view_ : empty_;
  }
  void Set(std::shared_ptr<const node::RingView> view) { view_ = view; }

 private:
  std::shared_ptr<const node::RingView> empty_ =
      std::make_shared<node::RingView>();
  std::shared_ptr<const node::RingView> view_;
};

struct Node {
  std::unique_ptr<node::NodeServer> server;
  std::unique_ptr<v1::ListService::Stub> lists;
  std::unique_ptr<v1::ReplicaService::Stub> replica;
};

struct Cluster {
  leveldb::Env* env = leveldb::NewMemEnv(leveldb::Env::Default());
  FixedRing ring;
  Node nodes[kNodes];

  Cluster() {
    std::vector<ring::Member> members;
    for (int i = 0; i < kNodes; ++i) {
      node::NodeConfig config;
      config.id = absl::StrCat("node-", i);
      config.data_dir = absl::StrCat("/fuzz/node-", i);
      config.env = env;
      config.coordinator.replica_timeout = absl::Seconds(5);
      // Background work would make runs depend on time.
      config.hint_interval = absl::Hours(1);
      config.anti_entropy_interval = absl::Hours(1);
      absl::StatusOr<std::unique_ptr<node::NodeServer>> server =
          node::NodeServer::Start(config, &ring, nullptr);
      FUZZ_CHECK_OK(server.status());
      nodes[i].server = *std::move(server);
      const std::string address =
          absl::StrCat("127.0.0.1:", nodes[i].server->port());
      auto channel =
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
      nodes[i].lists = v1::ListService::NewStub(channel);
      nodes[i].replica = v1::ReplicaService::NewStub(channel);
      members.push_back({config.id, address, true});
    }
    auto view = std::make_shared<node::RingView>();
    view->version = 1;
    view->ring = ring::Ring(std::move(members), 16);
    ring.Set(view);
  }
};

Cluster& TheCluster() {
  static Cluster* const cluster = new Cluster();
  return *cluster;
}

std::unique_ptr<grpc::ClientContext> Deadline() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(10));
  return context;
}

// What a caller may be told.
void CheckCode(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DATA_LOSS:
    case grpc::StatusCode::UNIMPLEMENTED:
      std::fprintf(stderr, "answered %d: %s\n", status.error_code(),
                   status.error_message().c_str());
      FUZZ_CHECK(false);
    default:
      break;
  }
}

void CheckState(const v1::ListState& message) {
  absl::StatusOr<crdt::ListState> state = codec::DecodeState(message);
  FUZZ_CHECK_OK(state.status());
  FUZZ_CHECK_OK(state->Validate());
}

// Every replica's copy of `list_id`, encoded ("" where there is none).
std::vector<std::string> Copies(const std::string& list_id) {
  std::vector<std::string> copies;
  if (!crdt::ValidateListId(list_id).ok()) return copies;
  for (Node& n : TheCluster().nodes) {
    v1::FetchRequest request;
    request.set_list_id(list_id);
    v1::FetchResponse response;
    grpc::Status s = n.replica->Fetch(Deadline().get(), request, &response);
    FUZZ_CHECK(s.ok());
    if (response.found()) CheckState(response.state());
    copies.push_back(response.found() ? response.state().SerializeAsString()
                                      : "");
  }
  return copies;
}

template <typename Message>
bool Parse(std::string_view bytes, Message& message) {
  return message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

// Refused for good: then nothing may have changed. UNAVAILABLE and
// deadlines may leave part of a write behind, as the API says.
bool Refused(const grpc::Status& status) {
  return !status.ok() && status.error_code() != grpc::StatusCode::UNAVAILABLE &&
         status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED;
}

// Parses one request and sends it to node 0; checks its code, an accepted
// answer (`reply`), and every replica's copy afterwards. A refused write
// must have changed no copy.
template <typename Request, typename Response, typename Call, typename Reply>
void Send(std::string_view bytes, bool write, Call call, Reply reply) {
  Request request;
  if (!Parse(bytes, request)) return;
  const std::vector<std::string> before =
      write ? Copies(request.list_id()) : std::vector<std::string>();
  Response response;
  grpc::Status s = call(Deadline().get(), request, &response);
  CheckCode(s);
  if (s.ok()) reply(response);
  const std::vector<std::string> after = Copies(request.list_id());
  if (write && Refused(s)) FUZZ_CHECK(after == before);
}

}  // namespace
}  // namespace shoplist::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoplist;        // NOLINT: a fuzz entry point
  using namespace shoplist::fuzz;  // NOLINT
  Node& node = TheCluster().nodes[0];
  RecordReader records(data, size);
  uint8_t tag;
  std::string_view bytes;
  auto no_reply = [](const auto&) {};
  while (records.Next(tag, bytes)) {
    switch (tag % 5) {
      case 0:
        Send<v1::GetRequest, v1::GetResponse>(
            bytes, /*write=*/false,
            [&](auto* c, const auto& r, auto* o) {
              return node.lists->Get(c, r, o);
            },
            [](const v1::GetResponse& o) { CheckState(o.state()); });
        break;
      case 1:
        Send<v1::SyncRequest, v1::SyncResponse>(
            bytes, /*write=*/true,
            [&](auto* c, const auto& r, auto* o) {
              return node.lists->Sync(c, r, o);
            },
            [](const v1::SyncResponse& o) { CheckState(o.missing()); });
        break;
      case 2:
        Send<v1::ApplyRequest, v1::ApplyResponse>(
            bytes, /*write=*/true,
            [&](auto* c, const auto& r, auto* o) {
              return node.lists->Apply(c, r, o);
            },
            no_reply);
        break;
      case 3:
        Send<v1::StoreRequest, v1::StoreResponse>(
            bytes, /*write=*/true,
            [&](auto* c, const auto& r, auto* o) {
              return node.replica->Store(c, r, o);
            },
            no_reply);
        break;
      default:
        Send<v1::FetchRequest, v1::FetchResponse>(
            bytes, /*write=*/false,
            [&](auto* c, const auto& r, auto* o) {
              return node.replica->Fetch(c, r, o);
            },
            [](const v1::FetchResponse& o) {
              if (o.found()) CheckState(o.state());
            });
        break;
    }
  }
  return 0;
}
