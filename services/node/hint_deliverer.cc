#include "services/node/hint_deliverer.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/notification.h"
#include "codec/list_codec.h"
#include "crdt/limits.h"
#include "spdlog/spdlog.h"

namespace shoplist::node {
namespace {

constexpr size_t kMaxHandOffBytes = crdt::kMaxMessageBytes / 4;

}  // namespace

HintDeliverer::HintDeliverer(std::string self_id, storage::ReplicaStore* store,
                             ReplicaPeers* peers, const RingSource* ring,
                             PeerHealth* health, absl::Duration interval,
                             absl::Duration timeout)
    : self_id_(std::move(self_id)),
      store_(store),
      peers_(peers),
      ring_(ring),
      health_(health),
      interval_(interval),
      timeout_(timeout) {}

void HintDeliverer::Start() {
  thread_ = std::thread([this] { Loop(); });
}

HintDeliverer::~HintDeliverer() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void HintDeliverer::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    mu_.Unlock();
    DeliverOnce();
    mu_.Lock();
    mu_.AwaitWithTimeout(absl::Condition(&stop_), interval_);
  }
}

size_t HintDeliverer::DeliverOnce() {
  absl::StatusOr<std::vector<storage::Hint>> hints = store_->Hints(1024);
  if (!hints.ok()) {
    spdlog::warn("hinted hand-off: cannot read hints: {}",
                 hints.status().ToString());
    return 0;
  }
  std::map<std::string, std::vector<const storage::Hint*>> by_owner;
  for (const storage::Hint& h : *hints) by_owner[h.owner].push_back(&h);

  std::shared_ptr<const RingView> view = ring_->Current();
  size_t delivered = 0;
  absl::flat_hash_set<const storage::Hint*> gone;
  for (auto& [owner, owned] : by_owner) {
    const ring::Member* member = view->ring.Find(owner);
    if (member == nullptr || owner == self_id_) continue;
    // One request per owner and round, kept well under the message limit;
    // what does not fit goes in the next round.
    v1::HandOffRequest request;
    request.set_from_node(self_id_);
    size_t taken = 0;
    for (const storage::Hint* h : owned) {
      if (taken > 0 &&
          request.ByteSizeLong() + h->stored_bytes.size() > kMaxHandOffBytes) {
        break;
      }
      auto* out = request.add_hints();
      out->set_list_id(h->list_id);
      codec::EncodeState(h->delta, out->mutable_delta());
      ++taken;
    }
    owned.resize(taken);
    // This thread only delivers hints: waiting here blocks no request.
    absl::Notification done;
    grpc::Status result;
    peers_->HandOff(member->address, request, timeout_,
                    [&](const grpc::Status& status) {
                      result = status;
                      done.Notify();
                    });
    done.WaitForNotification();
    if (!result.ok()) {
      health_->RecordFailure(owner);
      continue;
    }
    health_->RecordSuccess(owner);
    for (const storage::Hint* h : owned) {
      if (absl::Status s = store_->RemoveHint(*h); !s.ok()) {
        spdlog::warn("hinted hand-off: cannot delete a delivered hint: {}",
                     s.ToString());
      }
    }
    delivered += owned.size();
    gone.insert(owned.begin(), owned.end());
    spdlog::info("hinted hand-off: delivered {} hint(s) to {}", owned.size(),
                 owner);
  }
  pending_ = hints->size() - delivered;
  absl::Time oldest = absl::InfiniteFuture();
  for (const storage::Hint& h : *hints) {
    if (!gone.contains(&h)) oldest = std::min(oldest, h.since);
  }
  oldest_pending_micros_ =
      oldest == absl::InfiniteFuture() ? 0 : absl::ToUnixMicros(oldest);
  return delivered;
}

}  // namespace shoplist::node
