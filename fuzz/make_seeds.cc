// make_seeds OUT_DIR: writes a small seed corpus for each fuzz target into
// OUT_DIR/<target>/, built from real states and requests so the fuzzers
// start from inputs that pass validation.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "access/capability.h"
#include "codec/list_codec.h"
#include "crdt/limits.h"
#include "fuzz/fuzz_support.h"
#include "shoplist/v1/list_service.pb.h"
#include "shoplist/v1/membership_service.pb.h"
#include "shoplist/v1/replica_service.pb.h"

namespace shoplist::fuzz {
namespace {

constexpr char kListId[] = "abcdefghijklmnopqrstuvwxyq";
constexpr char kOtherListId[] = "zyxwvutsrqponmlkjihgfedcba";

constexpr char kSecret[] = "abcdefghijklmnopqrstuvwx2a";

class SeedWriter {
 public:
  explicit SeedWriter(std::filesystem::path root) : root_(std::move(root)) {}

  void Write(const std::string& target, const std::string& name,
             const std::string& bytes) {
    std::filesystem::create_directories(root_ / target);
    std::ofstream(root_ / target / name, std::ios::binary) << bytes;
  }

 private:
  std::filesystem::path root_;
};

// SampleList() with an item at every limit: a 256-byte name, quantities
// of +-kMaxAbsQuantity, a reset.
crdt::ListState LimitsList() {
  crdt::ListState list = SampleList();
  const std::string name(256, 'n');
  (void)list.Add(kAlice, name, 1);
  crdt::ListState::Items items = list.items();
  crdt::ItemEntry& entry = items[name].FindOrAdd(kAlice);
  entry.wanted = crdt::kMaxAbsQuantity;
  entry.bought = -crdt::kMaxAbsQuantity;
  entry.reset_counter = entry.counter - 1;
  entry.reset_wanted = -crdt::kMaxAbsQuantity;
  (void)list.SetNote(kAlice, name, std::string(crdt::kMaxNoteBytes, 'o'));
  crdt::ListState::Parts parts;
  parts.context = list.context();
  parts.title = list.title();
  parts.aisles = list.aisles();
  parts.authors = list.authors();
  parts.items = std::move(items);
  // An access record (docs/sharing.md), so mutations reach its checks.
  crdt::ListState shared = list;
  (void)shared.SetAccess(kAlice, std::string(crdt::kAccessChars, 'c'));
  parts.access = shared.access();
  parts.context = shared.context();
  parts.items[name].mutable_note() = list.items().find(name)->second.note();
  return *crdt::ListState::FromParts(std::move(parts));
}

v1::ListState Message(const crdt::ListState& state) {
  v1::ListState message;
  codec::EncodeState(state, &message);
  return message;
}

std::string Records(std::initializer_list<std::pair<uint8_t, std::string>> in) {
  std::string out;
  for (const auto& [tag, bytes] : in) AppendRecord(out, tag, bytes);
  return out;
}

void CrdtSeeds(SeedWriter& out) {
  const crdt::ListState sample = SampleList();
  crdt::ListState changed = sample;
  const crdt::ListState delta = *changed.Add(kBob, "eggs", 6);
  const std::string t = "crdt_codec_fuzz";
  out.Write(t, "pair",
            Records({{0, Encoded(sample)}, {0, Encoded(ConcurrentList())}}));
  out.Write(t, "delta", Records({{0, Encoded(delta)}, {0, Encoded(sample)}}));
  out.Write(t, "tombstone",
            Records({{0, Encoded(crdt::ListState::Tombstone())},
                     {0, Encoded(delta)}}));
  out.Write(t, "empty", Records({{0, ""}, {0, Encoded(sample)}}));
  out.Write(t, "limits", Records({{0, Encoded(LimitsList())}, {0, ""}}));
}

void OperationSeeds(SeedWriter& out) {
  const std::string t = "operation_fuzz";
  auto write = [&](const std::string& name, const v1::Operation& op) {
    out.Write(t, name, op.SerializeAsString());
  };
  v1::Operation op;
  op.mutable_create()->set_title("groceries");
  write("create", op);
  op.Clear();
  op.mutable_add()->set_item("milk");
  op.mutable_add()->set_count(2);
  write("add", op);
  op.Clear();
  op.mutable_remove()->set_item("milk");
  op.mutable_remove()->set_count(1);
  write("remove", op);
  op.Clear();
  op.mutable_remove_item()->set_item("bread");
  write("remove_item", op);
  op.Clear();
  op.mutable_buy()->set_item("milk");
  write("buy_all", op);
  op.Clear();
  op.mutable_rename()->set_title("weekend");
  write("rename", op);
  op.Clear();
  op.mutable_delete_();
  write("delete", op);
  // At the limits and just past them: byte mutations keep a field's
  // length, so long fields and 10-byte varints let them reach any value.
  op.Clear();
  op.mutable_rename()->set_title(std::string(256, 't'));
  write("rename_longest", op);
  op.mutable_rename()->set_title(std::string(257, 't'));
  write("rename_too_long", op);
  op.Clear();
  op.mutable_add()->set_item(std::string(256, 'i'));
  op.mutable_add()->set_count(crdt::kMaxOperationCount);
  write("add_longest", op);
  op.Clear();
  op.mutable_buy()->set_item("milk");
  op.mutable_buy()->set_count(-1);
  write("buy_negative", op);
  op.Clear();
  op.mutable_unbuy()->set_item("milk");
  write("unbuy_all", op);
  op.Clear();
  op.mutable_note()->set_item("milk");
  op.mutable_note()->set_note(std::string(crdt::kMaxNoteBytes, 'n'));
  write("note_longest", op);
  op.mutable_note()->set_note(std::string(crdt::kMaxNoteBytes + 1, 'n'));
  write("note_too_long", op);
  op.Clear();
  op.mutable_category()->set_item("MILK ");
  op.mutable_category()->set_category("Dairy");
  write("category", op);
  op.Clear();
  op.mutable_aisles()->add_categories("Dairy");
  op.mutable_aisles()->add_categories("Bakery");
  write("aisles", op);
  op.mutable_aisles()->add_categories("dairy");
  write("aisles_repeated", op);
  op.Clear();
  op.mutable_clear_bought();
  write("clear_bought", op);
  op.Clear();
  op.mutable_remove()->set_item("milk");
  op.mutable_remove()->set_count(1);
  op.mutable_remove()->set_take_off_when_none(true);
  write("remove_take_off", op);
}

void ReplicaSeeds(SeedWriter& out) {
  const std::string t = "replica_request_fuzz";
  v1::StoreRequest store;
  store.set_list_id(kListId);
  *store.mutable_delta() = Message(SampleList());
  const std::string own = store.SerializeAsString();
  store.set_intended_owner("node-b");
  const std::string hint = store.SerializeAsString();
  v1::StoreBatch batch;
  batch.set_sequence(1);
  *batch.add_writes() = store;
  store.set_list_id(kOtherListId);
  store.clear_intended_owner();
  *store.mutable_delta() = Message(ConcurrentList());
  *batch.add_writes() = store;
  v1::HandOffRequest handoff;
  handoff.set_from_node("node-c");
  auto* h = handoff.add_hints();
  h->set_list_id(kListId);
  *h->mutable_delta() = Message(ConcurrentList());
  out.Write(t, "store", Records({{0, own}, {0, hint}}));
  v1::FetchRequest fetch;
  fetch.set_list_id(kListId);
  out.Write("node_fuzz", "store_fetch",
            Records({{3, own}, {3, hint}, {4, fetch.SerializeAsString()}}));
  out.Write(t, "batch", Records({{1, batch.SerializeAsString()}}));
  store.set_list_id(kListId);
  *store.mutable_delta() = Message(LimitsList());
  out.Write(t, "limits", Records({{0, store.SerializeAsString()}}));
  out.Write(t, "handoff",
            Records({{0, hint}, {2, handoff.SerializeAsString()}}));
}

void ListSeeds(SeedWriter& out) {
  const std::string t = "list_request_fuzz";
  v1::SyncRequest sync;
  sync.set_list_id(kListId);
  *sync.mutable_delta() = Message(SampleList());
  sync.set_create(true);
  v1::SyncRequest pull;
  pull.set_list_id(kListId);
  codec::EncodeContext(SampleList().context(), pull.mutable_known());
  v1::ApplyRequest apply;
  apply.set_list_id(kListId);
  apply.mutable_operation()->mutable_add()->set_item("milk");
  apply.mutable_operation()->mutable_add()->set_count(1);
  v1::ApplyRequest create;
  create.set_list_id(kOtherListId);
  create.mutable_operation()->mutable_create()->set_title("party");
  v1::GetRequest get;
  get.set_list_id(kListId);
  out.Write(t, "sync_apply_get",
            Records({{1, sync.SerializeAsString()},
                     {2, apply.SerializeAsString()},
                     {1, pull.SerializeAsString()},
                     {0, get.SerializeAsString()}}));
  out.Write(
      t, "create_get",
      Records({{2, create.SerializeAsString()}, {0, get.SerializeAsString()}}));
  // The same requests for whole nodes (node_fuzz: 0 Get, 1 Sync, 2 Apply).
  out.Write("node_fuzz", "sync_apply_get",
            Records({{1, sync.SerializeAsString()},
                     {2, apply.SerializeAsString()},
                     {1, pull.SerializeAsString()},
                     {0, get.SerializeAsString()}}));
  out.Write(
      "node_fuzz", "create_get",
      Records({{2, create.SerializeAsString()}, {0, get.SerializeAsString()}}));
  *sync.mutable_delta() = Message(LimitsList());
  out.Write(
      t, "limits",
      Records({{1, sync.SerializeAsString()}, {2, apply.SerializeAsString()}}));
}

// A closed list (docs/sharing.md) and requests that prove each link, none,
// or a wrong one; a replica write with its proof.
void AccessSeeds(SeedWriter& out) {
  const access::NewAccess made = access::AccessAt(kSecret, 1);
  crdt::ListState closed = SampleList();
  crdt::Writer alice(kAlice);
  alice.now_micros = kNowMicros + 10;
  (void)closed.SetAccess(alice, access::EncodeGrants(made.grants));
  v1::SyncRequest create;
  create.set_list_id(kOtherListId);
  *create.mutable_delta() = Message(closed);
  create.set_create(true);
  create.set_secret(made.owner_secret);
  v1::SyncRequest forged = create;
  forged.set_create(false);
  forged.set_secret(made.read_secret);
  v1::GetRequest get;
  get.set_list_id(kOtherListId);
  const std::string anonymous = get.SerializeAsString();
  get.set_secret(made.read_secret);
  v1::ApplyRequest apply;
  apply.set_list_id(kOtherListId);
  apply.set_secret(made.edit_secret);
  apply.mutable_operation()->mutable_add()->set_item("milk");
  apply.mutable_operation()->mutable_add()->set_count(1);
  v1::StoreRequest store;
  store.set_list_id(kOtherListId);
  *store.mutable_delta() = Message(ConcurrentList());
  const access::SecretHash proof = access::HashSecret(made.edit_secret);
  store.set_proof(access::ProofBytes(proof));
  // node_fuzz: 0 Get, 1 Sync, 2 Apply, 3 Store.
  out.Write("node_fuzz", "closed_list",
            Records({{1, create.SerializeAsString()},
                     {0, anonymous},
                     {0, get.SerializeAsString()},
                     {1, forged.SerializeAsString()},
                     {2, apply.SerializeAsString()},
                     {3, store.SerializeAsString()}}));
  out.Write("list_request_fuzz", "closed_list",
            Records({{1, create.SerializeAsString()},
                     {0, get.SerializeAsString()},
                     {2, apply.SerializeAsString()}}));
  out.Write("replica_request_fuzz", "proof",
            Records({{0, store.SerializeAsString()}}));
}

void MembershipSeeds(SeedWriter& out) {
  const std::string t = "membership_request_fuzz";
  auto join = [](const std::string& id, const std::string& address) {
    v1::JoinRequest r;
    r.mutable_node()->set_id(id);
    r.mutable_node()->set_address(address);
    return r.SerializeAsString();
  };
  auto node = [](auto request, const std::string& id) {
    request.set_node_id(id);
    return request.SerializeAsString();
  };
  v1::LocateRequest locate;
  locate.set_list_id(kListId);
  const std::string locate_bytes = locate.SerializeAsString();
  // Five nodes, two of them down, so down owners need stand-ins.
  out.Write(t, "cluster",
            Records({{0, join("node-a", "10.0.0.1:7001")},
                     {0, join("node-b", "10.0.0.2:7001")},
                     {0, join("node-c", "10.0.0.3:7001")},
                     {0, join("node-d", "10.0.0.4:7001")},
                     {0, join("node-e", "10.0.0.5:7001")},
                     {3, node(v1::ReportFailureRequest(), "node-b")},
                     {3, node(v1::ReportFailureRequest(), "node-d")},
                     {4, locate_bytes},
                     {2, node(v1::HeartbeatRequest(), "node-b")},
                     {1, node(v1::LeaveRequest(), "node-c")},
                     {4, locate_bytes},
                     {0, join("node-c", "10.0.0.3:7001")},
                     {4, locate_bytes}}));
  // A tick 4 s on (tag 6 * 40 + 5), past the 3 s heartbeat time-out.
  out.Write(t, "timeout",
            Records({{0, join("node-a", "10.0.0.1:7001")},
                     {0, join("node-b", "10.0.0.2:7001")},
                     {6 * 40 + 5, ""},
                     {2, node(v1::HeartbeatRequest(), "node-a")},
                     {4, locate_bytes}}));
}

}  // namespace
}  // namespace shoplist::fuzz

namespace shoplist::fuzz {
namespace {

std::string Post(const std::string& path, const std::string& body,
                 const std::string& headers = "") {
  return absl::StrCat("POST ", path,
                      " HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      "application/x-protobuf\r\n",
                      headers, "Content-Length: ", body.size(), "\r\n\r\n",
                      body);
}

// Raw HTTP as browsers (and others) send it to the proxy's web door.
void WebSeeds(SeedWriter& out) {
  const std::string t = "web_api_fuzz";
  v1::SyncRequest sync;
  sync.set_list_id(kListId);
  *sync.mutable_delta() = Message(SampleList());
  codec::EncodeContext(SampleList().context(), sync.mutable_known());
  sync.set_secret(kSecret);
  v1::GetRequest get;
  get.set_list_id(kListId);
  v1::WatchRequest watch;
  watch.set_list_id(kListId);
  out.Write(t, "sync", Post("/api/v1/sync", sync.SerializeAsString()));
  out.Write(t, "get_then_file",
            Post("/api/v1/get", get.SerializeAsString()) +
                "GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: "
                "gzip;q=1, br\r\n\r\n");
  out.Write(t, "watch", Post("/api/v1/watch", watch.SerializeAsString()));
  out.Write(t, "cross_origin",
            Post("/api/v1/sync", sync.SerializeAsString(),
                 "Origin: https://evil.example\r\n"));
  out.Write(t, "chunked",
            "POST /api/v1/get HTTP/1.1\r\nHost: x\r\nContent-Type: "
            "application/x-protobuf\r\nTransfer-Encoding: chunked\r\n\r\n" +
                absl::StrCat(absl::Hex(get.ByteSizeLong()), "\r\n",
                             get.SerializeAsString(), "\r\n0\r\n\r\n"));
  out.Write(t, "files",
            "GET / HTTP/1.1\r\nHost: x\r\n\r\nHEAD /index.html "
            "HTTP/1.1\r\nHost: x\r\n\r\nGET /../etc/passwd "
            "HTTP/1.1\r\nHost: x\r\n\r\n");
}

}  // namespace
}  // namespace shoplist::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  shoplist::fuzz::SeedWriter out{std::filesystem::path(argv[1])};
  shoplist::fuzz::CrdtSeeds(out);
  shoplist::fuzz::OperationSeeds(out);
  shoplist::fuzz::ReplicaSeeds(out);
  shoplist::fuzz::ListSeeds(out);
  shoplist::fuzz::AccessSeeds(out);
  shoplist::fuzz::MembershipSeeds(out);
  shoplist::fuzz::WebSeeds(out);
  return 0;
}
