// replica_request_fuzz: what other nodes send a node's ReplicaService.
// Each record (fuzz_support.h) is a request; its tag picks Store,
// StoreStream's StoreBatch or HandOff. Writes are decoded by the handlers'
// own DecodeWrite (services/node/request_decoding.h) with the handlers'
// rules (a batch and a hand-off are all or nothing), then merged into an
// in-memory store in place of LevelDB. Whatever is accepted must be a valid
// state that round-trips, and the stored lists must stay valid.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "crdt/list_id.h"
#include "fuzz/fuzz_support.h"
#include "ring/node_id.h"
#include "services/node/request_decoding.h"
#include "shoplist/v1/replica_service.pb.h"

namespace shoplist::fuzz {
namespace {

const std::string kSelf = "node-a";

void CheckWrite(const node::DecodedWrite& write, const std::string& list_id,
                const std::string& intended_owner) {
  FUZZ_CHECK(write.list_id == list_id);
  FUZZ_CHECK_OK(crdt::ValidateListId(write.list_id));
  FUZZ_CHECK_OK(write.delta.Validate());
  CheckRoundTrip(write.delta);
  if (intended_owner.empty() || intended_owner == kSelf) {
    FUZZ_CHECK(write.hint_owner.empty());
  } else {
    FUZZ_CHECK(write.hint_owner == intended_owner);
    FUZZ_CHECK_OK(ring::ValidateNodeId(write.hint_owner));
  }
}

// Lists and hints (by owner and list) as the node would store them.
struct Store {
  std::map<std::string, crdt::ListState> lists;
  std::map<std::pair<std::string, std::string>, crdt::ListState> hints;

  void Keep(const node::DecodedWrite& write) {
    crdt::ListState& stored = write.hint_owner.empty()
                                  ? lists[write.list_id]
                                  : hints[{write.hint_owner, write.list_id}];
    stored.Merge(write.delta);
    FUZZ_CHECK_OK(stored.Validate());
    FUZZ_CHECK(Merged(stored, write.delta) == stored);
  }
};

// Decodes every write or none, as StoreStream and HandOff do.
bool DecodeAll(const std::vector<const v1::StoreRequest*>& requests,
               std::vector<node::DecodedWrite>& writes) {
  for (const v1::StoreRequest* r : requests) {
    absl::StatusOr<node::DecodedWrite> write = node::DecodeWrite(
        kSelf, r->list_id(), r->delta(), r->intended_owner(), r->proof());
    if (!write.ok()) return false;
    CheckWrite(*write, r->list_id(), r->intended_owner());
    writes.push_back(*std::move(write));
  }
  return true;
}

void Handle(uint8_t tag, std::string_view bytes, Store& store) {
  const int size = static_cast<int>(bytes.size());
  std::vector<v1::StoreRequest> owned;
  std::vector<const v1::StoreRequest*> requests;
  v1::StoreBatch batch;
  switch (tag % 3) {
    case 0:  // Store
      owned.emplace_back();
      if (!owned.back().ParseFromArray(bytes.data(), size)) return;
      requests.push_back(&owned.back());
      break;
    case 1:  // one StoreBatch of StoreStream
      if (!batch.ParseFromArray(bytes.data(), size)) return;
      for (const v1::StoreRequest& w : batch.writes()) requests.push_back(&w);
      break;
    default: {  // HandOff: the hints become this node's own writes
      v1::HandOffRequest handoff;
      if (!handoff.ParseFromArray(bytes.data(), size)) return;
      owned.reserve(handoff.hints_size());
      for (const auto& hint : handoff.hints()) {
        owned.emplace_back();
        owned.back().set_list_id(hint.list_id());
        *owned.back().mutable_delta() = hint.delta();
        requests.push_back(&owned.back());
      }
    }
  }
  std::vector<node::DecodedWrite> writes;
  if (!DecodeAll(requests, writes)) return;
  for (const node::DecodedWrite& w : writes) store.Keep(w);
}

}  // namespace
}  // namespace shoplist::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shoplist::fuzz;  // NOLINT: a fuzz entry point
  Store store;
  RecordReader records(data, size);
  uint8_t tag;
  std::string_view bytes;
  while (records.Next(tag, bytes)) Handle(tag, bytes, store);
  // Fetch answers with the stored list merged with the hints held for it.
  for (auto [id, state] : store.lists) {
    for (const auto& [key, hint] : store.hints) {
      if (key.second == id) state.Merge(hint);
    }
    FUZZ_CHECK_OK(state.Validate());
    CheckRoundTrip(state);
  }
  return 0;
}
