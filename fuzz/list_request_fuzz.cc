// list_request_fuzz: what clients send ListService. Each record
// (fuzz_support.h) is a request; its tag picks Get, Sync or Apply. Requests
// are checked as the node's handlers check them (Sync through the handler's
// own DecodeSync, services/node/request_decoding.h; Apply through
// codec::ApplyOperation, as the coordinator does), against an in-memory map
// of lists in place of the coordinator's quorum. The proxy's gateway routes
// each valid list id to a preference list on a fixed ring. Replies must be
// states clients accept; a delta the coordinator makes must be one its
// replicas accept.
#include <map>
#include <string>
#include <vector>

#include "codec/list_codec.h"
#include "codec/operation.h"
#include "crdt/list_id.h"
#include "fuzz/fuzz_support.h"
#include "ring/ring.h"
#include "services/node/request_decoding.h"
#include "shoplist/v1/list_service.pb.h"

namespace shoplist::fuzz {
namespace {

constexpr crdt::ReplicaId kNode = 0x90DE;
constexpr size_t kReplicas = 3;

// As the gateway forwards: three up nodes and two down ones, so down
// owners get stand-ins.
void CheckRoute(const std::string& list_id) {
  static const ring::Ring* const kRing =
      new ring::Ring({{"node-a", "10.0.0.1:7001", true},
                      {"node-b", "10.0.0.2:7001", false},
                      {"node-c", "10.0.0.3:7001", true},
                      {"node-d", "10.0.0.4:7001", false},
                      {"node-e", "10.0.0.5:7001", true}},
                     64);
  std::vector<ring::Placement> placements =
      kRing->PreferenceList(list_id, kReplicas);
  FUZZ_CHECK(placements.size() == kReplicas);
  for (size_t i = 0; i < placements.size(); ++i) {
    const ring::Member* node = kRing->Find(placements[i].node_id);
    FUZZ_CHECK(node != nullptr && node->up);
    for (size_t j = 0; j < i; ++j) {
      FUZZ_CHECK(placements[j].node_id != placements[i].node_id);
    }
    if (!placements[i].intended_owner.empty()) {
      const ring::Member* owner = kRing->Find(placements[i].intended_owner);
      FUZZ_CHECK(owner != nullptr && !owner->up);
    }
  }
}

// The lists, and the counters the node reserved per list.
struct Cluster {
  std::map<std::string, crdt::ListState> lists;
  std::map<std::string, uint64_t> counters;

  void Get(const v1::GetRequest& request) {
    if (!crdt::ValidateListId(request.list_id()).ok()) return;
    CheckRoute(request.list_id());
    auto it = lists.find(request.list_id());
    if (it == lists.end()) return;  // NOT_FOUND
    CheckRoundTrip(it->second);
    CheckView(it->second);
  }

  void Sync(const v1::SyncRequest& request) {
    absl::StatusOr<node::DecodedSync> sync = node::DecodeSync(request);
    if (!sync.ok()) return;
    FUZZ_CHECK_OK(crdt::ValidateListId(request.list_id()));
    CheckRoute(request.list_id());
    FUZZ_CHECK_OK(sync->delta.Validate());
    CheckRoundTrip(sync->delta);
    const bool changes = sync->delta.deleted() || sync->delta.title() ||
                         !sync->delta.items().empty();
    auto it = lists.find(request.list_id());
    if (it == lists.end() && !changes) return;  // NOT_FOUND, or nothing
    crdt::ListState& stored = lists[request.list_id()];
    stored.Merge(sync->delta);
    FUZZ_CHECK_OK(stored.Validate());
    const crdt::ListState missing = stored.DeltaSince(sync->known);
    CheckRoundTrip(missing);
    FUZZ_CHECK(Merged(stored, missing) == stored);
  }

  void Apply(const v1::ApplyRequest& request) {
    if (!crdt::ValidateListId(request.list_id()).ok()) return;
    CheckRoute(request.list_id());
    auto it = lists.find(request.list_id());
    if (it == lists.end() && !request.operation().has_create()) return;
    crdt::ListState state = it == lists.end() ? crdt::ListState() : it->second;
    uint64_t& counter = counters[request.list_id()];
    counter = std::max(counter + 1, state.context().Max(kNode) + 1);
    absl::StatusOr<crdt::ListState> delta = codec::ApplyOperation(
        request.operation(), crdt::Writer(kNode, counter), kNowMicros, state);
    if (!delta.ok()) return;
    FUZZ_CHECK_OK(delta->Validate());
    CheckRoundTrip(*delta);  // what the replicas' DecodeWrite gets
    CheckView(state);
    if (delta->empty()) return;
    crdt::ListState& stored = lists[request.list_id()];
    stored.Merge(*delta);
    FUZZ_CHECK(stored == state);
  }
};

template <typename Message>
bool Parse(std::string_view bytes, Message& message) {
  return message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

}  // namespace
}  // namespace shoplist::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoplist::fuzz;  // NOLINT: a fuzz entry point
  Cluster cluster;
  RecordReader records(data, size);
  uint8_t tag;
  std::string_view bytes;
  while (records.Next(tag, bytes)) {
    switch (tag % 3) {
      case 0:
        if (shoplist::v1::GetRequest r; Parse(bytes, r)) cluster.Get(r);
        break;
      case 1:
        if (shoplist::v1::SyncRequest r; Parse(bytes, r)) cluster.Sync(r);
        break;
      default:
        if (shoplist::v1::ApplyRequest r; Parse(bytes, r)) cluster.Apply(r);
    }
  }
  return 0;
}
