#include "services/proxy/proxy_state.h"

#include <map>
#include <set>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "leveldb/write_batch.h"
#include "spdlog/spdlog.h"

namespace shoplist::proxy {
namespace {

// LevelDB layout: member/<id> -> address, left/<id> -> the address it had
// (empty in tables of earlier versions), meta/version ->
// decimal.
constexpr char kMemberPrefix[] = "member/";
constexpr char kLeftPrefix[] = "left/";
constexpr char kVersionKey[] = "meta/version";

}  // namespace

absl::StatusOr<std::unique_ptr<ProxyState>> ProxyState::Open(
    ProxyOptions options) {
  storage::DbOptions db_options;
  db_options.env = options.env;
  // The table lives in memory and is rewritten whole with every change.
  db_options.repair_on_corruption = true;
  absl::StatusOr<std::unique_ptr<storage::RecoveringDb>> db =
      storage::RecoveringDb::Open(options.data_dir, std::move(db_options));
  if (!db.ok()) return db.status();
  auto state = std::unique_ptr<ProxyState>(
      new ProxyState(std::move(options), *std::move(db)));

  std::vector<ring::Member> members;
  std::map<std::string, std::string> left;
  absl::Status scanned = state->db_->Scan(
      kMemberPrefix, [&](absl::string_view id, absl::string_view address) {
        members.push_back({std::string(id), std::string(address), true});
        return true;
      });
  if (scanned.ok()) {
    scanned = state->db_->Scan(
        kLeftPrefix, [&](absl::string_view id, absl::string_view address) {
          left.emplace(std::string(id), std::string(address));
          return true;
        });
  }
  if (!scanned.ok()) return scanned;
  uint64_t version = 0;
  absl::StatusOr<std::string> bytes = state->db_->Read(kVersionKey);
  if (bytes.ok() && !absl::SimpleAtoi(*bytes, &version)) {
    return absl::DataLossError("membership store: bad version");
  }
  if (!bytes.ok() && !absl::IsNotFound(bytes.status())) return bytes.status();
  {
    absl::MutexLock lock(&state->mu_);
    // A restart is a change subscribers must see as newer: health was not
    // saved, so the restored view may differ from the last one sent.
    state->membership_.Restore(version + 1, members, state->options_.clock());
    state->membership_.RestoreLeft(std::move(left));
    if (absl::Status st = state->PublishLocked(); !st.ok()) return st;
  }
  spdlog::info("proxy {}: restored {} member(s), view version {}",
               state->options_.proxy_id, members.size(), version);
  state->ticker_ = std::thread([s = state.get()] { s->TickLoop(); });
  return state;
}

ProxyState::ProxyState(ProxyOptions options,
                       std::unique_ptr<storage::RecoveringDb> db)
    : options_(std::move(options)),
      db_(std::move(db)),
      membership_(options_.membership) {}

ProxyState::~ProxyState() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (ticker_.joinable()) ticker_.join();
}

absl::Status ProxyState::PublishLocked() {
  auto snapshot = std::make_shared<Snapshot>();
  std::vector<ring::Member> members = membership_.Members();
  snapshot->version = membership_.version();
  snapshot->ring = ring::Ring(members, options_.vnodes);
  v1::RingView& view = snapshot->view;
  view.set_version(snapshot->version);
  view.set_vnodes(options_.vnodes);
  view.set_proxy(options_.proxy_id);
  for (const auto& [id, address] : membership_.Left()) {
    view.add_left(id);
    v1::NodeInfo* node = view.add_left_nodes();
    node->set_id(id);
    node->set_address(address);
  }
  for (const ring::Member& m : members) {
    v1::Member* out = view.add_members();
    out->mutable_node()->set_id(m.id);
    out->mutable_node()->set_address(m.address);
    out->set_state(m.up ? v1::Member::UP : v1::Member::DOWN);
    if (const membership::NodeRecord* record = membership_.Find(m.id)) {
      out->set_since_unix_ms(absl::ToUnixMillis(record->since));
    }
  }
  // Persist membership (not health: after a restart every node gets a
  // heartbeat time-out's grace).
  leveldb::WriteBatch batch;
  absl::Status status = absl::OkStatus();
  for (const char* prefix : {kMemberPrefix, kLeftPrefix}) {
    absl::Status scanned =
        db_->Scan(prefix, [&](absl::string_view rest, absl::string_view) {
          batch.Delete(absl::StrCat(prefix, rest));
          return true;
        });
    if (status.ok()) status = scanned;
  }
  for (const ring::Member& m : members) {
    batch.Put(absl::StrCat(kMemberPrefix, m.id), m.address);
  }
  for (const auto& [id, address] : membership_.Left()) {
    batch.Put(absl::StrCat(kLeftPrefix, id), address);
  }
  batch.Put(kVersionKey, absl::StrCat(snapshot->version));
  if (status.ok()) status = db_->Write(&batch, "membership");
  {
    absl::MutexLock lock(&current_mu_);
    current_ = snapshot;
  }
  for (const auto& [id, listener] : listeners_) listener(snapshot);
  return status;
}

absl::Status ProxyState::Change(const std::function<absl::Status()>& change) {
  absl::MutexLock lock(&mu_);
  uint64_t before = membership_.version();
  if (absl::Status s = change(); !s.ok()) return s;
  if (membership_.version() == before) return absl::OkStatus();
  return PublishLocked();
}

absl::Status ProxyState::Join(const std::string& id,
                              const std::string& address) {
  return Change([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return membership_.Join(id, address, options_.clock());
  });
}

absl::Status ProxyState::Leave(const std::string& id) {
  return Change(
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return membership_.Leave(id); });
}

absl::Status ProxyState::Heartbeat(const std::string& id) {
  return Change([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return membership_.Heartbeat(id, options_.clock());
  });
}

absl::Status ProxyState::ReportFailure(const std::string& id) {
  return Change([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return membership_.ReportFailure(id, options_.clock());
  });
}

std::shared_ptr<const Snapshot> ProxyState::Current() const {
  absl::MutexLock lock(&current_mu_);
  return current_;
}

int ProxyState::AddListener(Listener listener) {
  absl::MutexLock lock(&mu_);
  int id = next_listener_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void ProxyState::RemoveListener(int id) {
  absl::MutexLock lock(&mu_);
  listeners_.erase(id);
}

void ProxyState::TickLoop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.tick_interval);
    if (stop_) break;
    if (membership_.Tick(options_.clock())) {
      if (absl::Status s = PublishLocked(); !s.ok()) {
        spdlog::error("proxy: {}", s.ToString());
      }
    }
  }
}

}  // namespace shoplist::proxy
