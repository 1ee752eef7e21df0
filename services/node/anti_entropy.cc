#include "services/node/anti_entropy.h"

#include <cstring>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "codec/list_codec.h"
#include "merkle/state_digest.h"
#include "spdlog/spdlog.h"

namespace shoplist::node {
namespace {

// Waits for one asynchronous peer call (this thread does nothing else).
template <typename Response, typename Call>
grpc::Status Await(Call call, Response* response) {
  absl::Notification done;
  grpc::Status result;
  call([&](const grpc::Status& status, const Response& r) {
    result = status;
    *response = r;
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

grpc::Status AwaitStore(ReplicaPeers& peers, const std::string& address,
                        const v1::StoreRequest& request,
                        absl::Duration timeout) {
  absl::Notification done;
  grpc::Status result;
  peers.Store(address, request, timeout, [&](const grpc::Status& status) {
    result = status;
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

}  // namespace

void SharedDigests::Set(const std::string& list_id,
                        const crdt::ListState& stored) {
  const uint64_t hash = merkle::StateHash(
      merkle::StateDigest(stored.context(), stored.deleted()));
  absl::MutexLock lock(&mu_);
  index_.Set(list_id, hash);
}

size_t SharedDigests::size() const {
  absl::MutexLock lock(&mu_);
  return index_.size();
}

std::vector<merkle::Bucket> SharedDigests::Digests(
    const ring::TokenRange& range, uint32_t depth) {
  absl::MutexLock lock(&mu_);
  return index_.Digests(range, depth);
}

std::vector<std::pair<std::string, uint64_t>> SharedDigests::ListsIn(
    const ring::TokenRange& range) const {
  absl::MutexLock lock(&mu_);
  return index_.ListsIn(range);
}

absl::Status SharedDigests::Load(storage::ReplicaStore& store) {
  merkle::DigestIndex fresh;
  absl::Status status = store.ScanLists(
      [&](const std::string& id, const storage::StoredList& stored) {
        // A damaged list is left out: peers then send theirs.
        absl::StatusOr<std::string> digest = storage::StoredDigest(stored, id);
        if (digest.ok()) fresh.Set(id, merkle::StateHash(*digest));
      });
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  index_ = std::move(fresh);
  return absl::OkStatus();
}

AntiEntropy::AntiEntropy(std::string self_id, storage::ReplicaStore* store,
                         SharedDigests* digests, ReplicaPeers* peers,
                         const RingSource* ring, AntiEntropyOptions options)
    : self_id_(std::move(self_id)),
      store_(store),
      digests_(digests),
      peers_(peers),
      ring_(ring),
      options_(options) {}

AntiEntropy::~AntiEntropy() {
  Stop();
  // A round asked for from outside (an operator's repair) ends too.
  absl::MutexLock rounds(&rounds_mu_);
}

void AntiEntropy::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool AntiEntropy::Stopping() {
  absl::MutexLock lock(&mu_);
  return stop_;
}

void AntiEntropy::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void AntiEntropy::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.interval);
    if (stop_) break;
    mu_.Unlock();
    Round round = RunOnce();
    if (round.lists_repaired > 0) {
      spdlog::info("anti-entropy: {} list(s) repaired with {} peer(s)",
                   round.lists_repaired, round.peers);
    }
    mu_.Lock();
  }
}

AntiEntropy::Round AntiEntropy::RunOnce(const Progress& progress) {
  absl::MutexLock rounds(&rounds_mu_);
  Round round;
  const absl::Time start = absl::Now();
  std::shared_ptr<const RingView> view = ring_->Current();
  const ring::Ring& ring = view->ring;
  if (ring.Find(self_id_) == nullptr) return round;
  std::vector<ring::TokenRange> mine =
      ring.RangesOf(self_id_, options_.replicas);
  // Every (peer, range) to compare first, so that progress has a total.
  std::vector<std::pair<std::string, ring::TokenRange>> shared;
  for (const ring::Member& peer : ring.members()) {
    if (peer.id == self_id_ || !peer.up) continue;
    std::vector<ring::TokenRange> ranges = merkle::IntersectRanges(
        mine, ring.RangesOf(peer.id, options_.replicas));
    if (ranges.empty()) continue;
    ++round.peers;
    for (const ring::TokenRange& range : ranges) {
      shared.emplace_back(peer.address, range);
    }
  }
  // Compared, then (for those that differed) repaired: two steps a range.
  const size_t steps = 2 * shared.size();
  size_t done = 0;
  auto report = [&] {
    if (progress) progress(done, steps, round.lists_repaired);
  };
  report();
  std::vector<Differing> differing;
  for (const auto& [address, range] : shared) {
    if (Stopping()) break;
    ++round.ranges;
    if (std::optional<Differing> found = CompareRange(address, range)) {
      differing.push_back(*std::move(found));
    }
    ++done;
    report();
  }
  // One pause per round, however many ranges differed: writes in flight
  // land meanwhile, and a real divergence is repaired a second later.
  if (!differing.empty() && Pause()) {
    for (const Differing& found : differing) {
      round.lists_repaired += RepairRange(found);
      ++done;
      report();
    }
  }
  done = steps;
  report();
  lists_repaired_ += round.lists_repaired;
  round.finished = absl::Now();
  round.duration = round.finished - start;
  {
    absl::MutexLock lock(&mu_);
    last_round_ = round;
  }
  return round;
}

AntiEntropy::Round AntiEntropy::LastRound() {
  absl::MutexLock lock(&mu_);
  return last_round_;
}

bool AntiEntropy::Pause() {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.recheck);
  return !stop_;
}

std::optional<std::pair<v1::DigestResponse, std::vector<merkle::Bucket>>>
AntiEntropy::DigestsWith(const std::string& peer_address,
                         const ring::TokenRange& range, uint32_t depth) {
  v1::DigestRequest request;
  request.mutable_range()->set_start(range.first);
  request.mutable_range()->set_end(range.second);
  request.set_depth(depth);
  v1::DigestResponse theirs;
  grpc::Status status = Await<v1::DigestResponse>(
      [&](ReplicaPeers::DigestDone done) {
        peers_->GetDigests(peer_address, request, options_.timeout, done);
      },
      &theirs);
  if (!status.ok()) return std::nullopt;
  std::vector<merkle::Bucket> ours = digests_->Digests(range, depth);
  if (static_cast<size_t>(theirs.buckets_size()) != ours.size()) {
    return std::nullopt;
  }
  return std::make_pair(std::move(theirs), std::move(ours));
}

namespace {

// Whether bucket `i` of a range differs between the peer's and ours.
bool BucketDiffers(const v1::DigestResponse& theirs,
                   const std::vector<merkle::Bucket>& ours, size_t i) {
  const v1::DigestResponse::Bucket& b = theirs.buckets(static_cast<int>(i));
  uint64_t their_hash = 0;
  if (b.hash().size() == sizeof(uint64_t)) {
    std::memcpy(&their_hash, b.hash().data(), sizeof their_hash);
  }
  if (their_hash == ours[i].hash && b.lists() == ours[i].lists) return false;
  // A range narrower than its bucket count has empty buckets (x, x], which
  // would read as the whole ring.
  return !(ours[i].range.first == ours[i].range.second && ours.size() > 1);
}

}  // namespace

std::optional<AntiEntropy::Differing> AntiEntropy::CompareRange(
    const std::string& peer_address, const ring::TokenRange& range) {
  const uint32_t depth =
      merkle::DepthFor(digests_->size(), range, options_.depth);
  auto digests = DigestsWith(peer_address, range, depth);
  if (!digests) return std::nullopt;
  Differing found{peer_address, range, depth, {}};
  for (size_t i = 0; i < digests->second.size(); ++i) {
    if (BucketDiffers(digests->first, digests->second, i)) {
      found.buckets.push_back(i);
    }
  }
  if (found.buckets.empty()) return std::nullopt;
  return found;
}

size_t AntiEntropy::RepairRange(const Differing& found) {
  auto digests = DigestsWith(found.peer_address, found.range, found.depth);
  if (!digests) return 0;
  const auto& [theirs, ours] = *digests;
  size_t repaired = 0;
  for (size_t i : found.buckets) {
    if (!BucketDiffers(theirs, ours, i)) continue;
    // The bucket still differs: compare list by list.
    v1::DigestRequest lists_request;
    lists_request.mutable_range()->set_start(ours[i].range.first);
    lists_request.mutable_range()->set_end(ours[i].range.second);
    lists_request.set_depth(0);
    lists_request.set_with_lists(true);
    v1::DigestResponse their_lists;
    if (!Await<v1::DigestResponse>(
             [&](ReplicaPeers::DigestDone done) {
               peers_->GetDigests(found.peer_address, lists_request,
                                  options_.timeout, done);
             },
             &their_lists)
             .ok()) {
      continue;
    }
    std::map<std::string, uint64_t> hashes;
    for (const auto& l : their_lists.lists()) {
      uint64_t h = 0;
      if (l.hash().size() == sizeof h)
        std::memcpy(&h, l.hash().data(), sizeof h);
      hashes[l.list_id()] = h;
    }
    for (const auto& [id, h] : digests_->ListsIn(ours[i].range)) {
      auto it = hashes.find(id);
      if (it != hashes.end() && it->second == h) {
        hashes.erase(it);
        continue;
      }
      if (it != hashes.end()) hashes.erase(it);
      repaired += Exchange(found.peer_address, id) ? 1 : 0;
    }
    for (const auto& [id, h] : hashes) {  // only the peer has these
      repaired += Exchange(found.peer_address, id) ? 1 : 0;
    }
  }
  return repaired;
}

bool AntiEntropy::Exchange(const std::string& peer_address,
                           const std::string& list_id) {
  v1::FetchRequest fetch;
  fetch.set_list_id(list_id);
  v1::FetchResponse fetched;
  grpc::Status status = Await<v1::FetchResponse>(
      [&](ReplicaPeers::FetchDone done) {
        peers_->Fetch(peer_address, fetch, options_.timeout, done);
      },
      &fetched);
  if (!status.ok()) return false;
  if (fetched.found()) {
    absl::StatusOr<crdt::ListState> theirs =
        codec::DecodeState(fetched.state());
    if (!theirs.ok() || !store_->Merge(list_id, *theirs).ok()) return false;
  }
  absl::StatusOr<crdt::ListState> ours = store_->Get(list_id);
  if (!ours.ok()) return false;
  v1::StoreRequest push;
  push.set_list_id(list_id);
  codec::EncodeState(*ours, push.mutable_delta());
  return AwaitStore(*peers_, peer_address, push, options_.timeout).ok();
}

size_t AntiEntropy::HandOffAll(const RingView& view) {
  std::vector<std::string> ids;
  (void)store_->ScanLists(
      [&](const std::string& id, const storage::StoredList&) {
        ids.push_back(id);
      });
  handoff_lists_ = ids.size();
  size_t delivered = 0;
  for (const std::string& id : ids) {
    // A node stopped meanwhile (SIGTERM) keeps the rest: anti-entropy on
    // the other replicas fills the new owners.
    if (Stopping()) break;
    absl::StatusOr<crdt::ListState> state = store_->Get(id);
    if (!state.ok()) {
      ++handoff_sent_;
      continue;
    }
    v1::StoreRequest push;
    push.set_list_id(id);
    codec::EncodeState(*state, push.mutable_delta());
    bool reached = false;
    for (const ring::Placement& p :
         view.ring.PreferenceList(id, options_.replicas)) {
      if (p.node_id == self_id_) continue;
      v1::StoreRequest to = push;
      to.set_intended_owner(p.intended_owner);
      reached |= AwaitStore(*peers_, p.address, to, options_.timeout).ok();
    }
    delivered += reached ? 1 : 0;
    // Sent first: a reader never sees more delivered than sent.
    ++handoff_sent_;
    handoff_delivered_ = delivered;
  }
  spdlog::info("hand-off: {} of {} list(s) delivered to their new owners",
               delivered, ids.size());
  return delivered;
}

}  // namespace shoplist::node
