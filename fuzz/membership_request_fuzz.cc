// membership_request_fuzz: what nodes and clients send a proxy's
// MembershipService. Each record (fuzz_support.h) is a request; its tag
// picks Join, Leave, Heartbeat, ReportFailure, Locate or a clock tick, and
// moves the clock on by (tag / 6) * 100 ms. The handlers pass requests to
// ProxyState, which applies them to membership::Membership (the pure table
// that does the validation) and rebuilds the ring after each change; here
// the table and the ring are used directly, without LevelDB. Locate is
// checked as its handler does (list id, at most 16 replicas, 0 meaning the
// configured 3) before the ring lookup.
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "crdt/list_id.h"
#include "fuzz/fuzz_support.h"
#include "membership/membership.h"
#include "ring/node_id.h"
#include "ring/ring.h"
#include "shoplist/v1/membership_service.pb.h"

namespace shoplist::fuzz {
namespace {

constexpr uint32_t kVnodes = 16;
constexpr size_t kConfiguredReplicas = 3;

template <typename Message>
bool Parse(std::string_view bytes, Message& message) {
  return message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

class Proxy {
 public:
  void Handle(uint8_t tag, std::string_view bytes) {
    now_ += absl::Milliseconds(100) * (tag / 6);
    const uint64_t version = table_.version();
    const std::vector<ring::Member> members = table_.Members();
    absl::Status status;
    std::string id;
    switch (tag % 6) {
      case 0: {
        v1::JoinRequest r;
        if (!Parse(bytes, r)) return;
        id = r.node().id();
        status = table_.Join(id, r.node().address(), now_);
        if (status.ok()) {
          const membership::NodeRecord* node = table_.Find(id);
          FUZZ_CHECK(node != nullptr && node->up);
          FUZZ_CHECK(node->address == r.node().address());
          FUZZ_CHECK(!table_.Left().contains(id));
        }
        break;
      }
      case 1: {
        v1::LeaveRequest r;
        if (!Parse(bytes, r)) return;
        id = r.node_id();
        status = table_.Leave(id);
        if (status.ok()) {
          FUZZ_CHECK(table_.Find(id) == nullptr);
          FUZZ_CHECK(table_.Left().contains(id));
        }
        break;
      }
      case 2: {
        v1::HeartbeatRequest r;
        if (!Parse(bytes, r)) return;
        id = r.node_id();
        status = table_.Heartbeat(id, now_);
        if (status.ok()) FUZZ_CHECK(table_.Find(id)->up);
        break;
      }
      case 3: {
        v1::ReportFailureRequest r;
        if (!Parse(bytes, r)) return;
        id = r.node_id();
        status = table_.ReportFailure(id, now_);
        if (status.ok()) FUZZ_CHECK(!table_.Find(id)->up);
        break;
      }
      case 4: {
        v1::LocateRequest r;
        if (Parse(bytes, r)) Locate(r);
        return;
      }
      default:
        table_.Tick(now_);
    }
    if (!status.ok()) {
      // Refused: INVALID_ARGUMENT for a bad Join, NOT_FOUND for an unknown
      // node; nothing changes.
      FUZZ_CHECK(absl::IsInvalidArgument(status) || absl::IsNotFound(status));
      FUZZ_CHECK(table_.version() == version && table_.Members() == members);
    }
    FUZZ_CHECK(table_.version() >= version);
    if (table_.version() != version) Publish();
  }

 private:
  // As ProxyState::PublishLocked: a new ring from the members.
  void Publish() {
    std::vector<ring::Member> members = table_.Members();
    for (size_t i = 0; i < members.size(); ++i) {
      FUZZ_CHECK_OK(ring::ValidateNodeId(members[i].id));
      FUZZ_CHECK(!members[i].address.empty());
      FUZZ_CHECK(i == 0 || members[i - 1].id < members[i].id);
      FUZZ_CHECK(!table_.Left().contains(members[i].id));
    }
    ring_ = ring::Ring(std::move(members), kVnodes);
  }

  void Locate(const v1::LocateRequest& request) {
    if (!crdt::ValidateListId(request.list_id()).ok()) return;
    if (request.replicas() > 16) return;
    const size_t n =
        request.replicas() == 0 ? kConfiguredReplicas : request.replicas();
    std::vector<ring::Placement> placements =
        ring_.PreferenceList(request.list_id(), n);
    size_t up = 0;
    for (const ring::Member& m : ring_.members()) up += m.up ? 1 : 0;
    // Every up owner appears; down owners get stand-ins while any are left.
    FUZZ_CHECK(placements.size() == std::min(n, up));
    for (size_t i = 0; i < placements.size(); ++i) {
      const ring::Member* node = ring_.Find(placements[i].node_id);
      FUZZ_CHECK(node != nullptr && node->up);
      FUZZ_CHECK(node->address == placements[i].address);
      for (size_t j = 0; j < i; ++j) {
        FUZZ_CHECK(placements[j].node_id != placements[i].node_id);
      }
      if (!placements[i].intended_owner.empty()) {
        const ring::Member* owner = ring_.Find(placements[i].intended_owner);
        FUZZ_CHECK(owner != nullptr && !owner->up);
      }
    }
  }

  membership::Membership table_{
      membership::MembershipOptions{absl::Seconds(3), absl::Seconds(60)}};
  ring::Ring ring_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

}  // namespace
}  // namespace shoplist::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shoplist::fuzz::Proxy proxy;
  shoplist::fuzz::RecordReader records(data, size);
  uint8_t tag;
  std::string_view bytes;
  while (records.Next(tag, bytes)) proxy.Handle(tag, bytes);
  return 0;
}
