#include "services/proxy/membership_service.h"

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "crdt/list_id.h"
#include "services/common/security.h"
#include "services/common/status_util.h"
#include "services/common/unary.h"

namespace shoplist::proxy {
namespace {

// Streams ring views to one subscriber: the current view first, then each
// newer one. A slow reader only ever gets the newest pending view: older
// ones are superseded, never queued.
class ViewWriter final : public grpc::ServerWriteReactor<v1::RingView> {
 public:
  explicit ViewWriter(ProxyState* state) : state_(state) {
    // The state calls listeners under its lock, which then takes ours: never
    // hold ours while calling into the state.
    listener_ = state_->AddListener(
        [this](std::shared_ptr<const Snapshot> s) { Offer(std::move(s)); });
    std::shared_ptr<const Snapshot> current = state_->Current();
    absl::MutexLock lock(&mu_);
    if (pending_ == nullptr || current->version > pending_->version) {
      pending_ = std::move(current);
    }
    WriteNextLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    WriteNextLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    state_->RemoveListener(listener_);
    delete this;
  }

 private:
  void Offer(std::shared_ptr<const Snapshot> snapshot) {
    absl::MutexLock lock(&mu_);
    pending_ = std::move(snapshot);
    WriteNextLocked();
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || pending_ == nullptr) return;
    if (sent_ != nullptr && pending_->version <= sent_->version) return;
    sent_ = std::move(pending_);
    pending_ = nullptr;
    writing_ = true;
    StartWrite(&sent_->view);
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  ProxyState* const state_;
  int listener_ = -1;
  absl::Mutex mu_;
  std::shared_ptr<const Snapshot> pending_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const Snapshot> sent_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerUnaryReactor* MembershipServiceImpl::Join(
    grpc::CallbackServerContext* context, const v1::JoinRequest* request,
    v1::JoinResponse* response) {
  if (auto* refused = gate_.RefuseUnary(context)) return refused;
  absl::Status s =
      state_->Join(request->node().id(), request->node().address());
  if (s.ok()) *response->mutable_view() = state_->Current()->view;
  return FinishUnary(context, ToGrpc(s));
}

grpc::ServerUnaryReactor* MembershipServiceImpl::Leave(
    grpc::CallbackServerContext* context, const v1::LeaveRequest* request,
    v1::LeaveResponse* response) {
  if (auto* refused = gate_.RefuseUnary(context)) return refused;
  absl::Status s = state_->Leave(request->node_id());
  if (s.ok()) *response->mutable_view() = state_->Current()->view;
  return FinishUnary(context, ToGrpc(s));
}

grpc::ServerUnaryReactor* MembershipServiceImpl::Heartbeat(
    grpc::CallbackServerContext* context, const v1::HeartbeatRequest* request,
    v1::HeartbeatResponse* response) {
  if (auto* refused = gate_.RefuseUnary(context)) return refused;
  absl::Status s = state_->Heartbeat(request->node_id());
  response->set_view_version(state_->Current()->version);
  return FinishUnary(context, ToGrpc(s));
}

grpc::ServerUnaryReactor* MembershipServiceImpl::ReportFailure(
    grpc::CallbackServerContext* context,
    const v1::ReportFailureRequest* request,
    v1::ReportFailureResponse* /*response*/) {
  if (auto* refused = gate_.RefuseUnary(context)) return refused;
  return FinishUnary(context,
                     ToGrpc(state_->ReportFailure(request->node_id())));
}

grpc::ServerUnaryReactor* MembershipServiceImpl::Locate(
    grpc::CallbackServerContext* context, const v1::LocateRequest* request,
    v1::LocateResponse* response) {
  if (auto* refused = gate_.RefuseUnary(context)) return refused;
  if (absl::Status s = crdt::ValidateListId(request->list_id()); !s.ok()) {
    return FinishUnary(context, ToGrpc(s));
  }
  if (request->replicas() > 16) {
    return FinishUnary(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                             "replicas must be at most 16"));
  }
  size_t n = request->replicas() == 0 ? state_->options().replicas
                                      : request->replicas();
  std::shared_ptr<const Snapshot> snapshot = state_->Current();
  std::vector<ring::Placement> placements =
      snapshot->ring.PreferenceList(request->list_id(), n);
  if (placements.empty()) {
    return FinishUnary(
        context, grpc::Status(grpc::StatusCode::UNAVAILABLE, "no node is up"));
  }
  for (const ring::Placement& p : placements) {
    v1::NodeInfo* node = response->add_preference_list();
    node->set_id(p.node_id);
    node->set_address(p.address);
  }
  *response->mutable_coordinator() = response->preference_list(0);
  response->set_view_version(snapshot->version);
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerWriteReactor<v1::RingView>* MembershipServiceImpl::Subscribe(
    grpc::CallbackServerContext* context,
    const v1::SubscribeRequest* /*request*/) {
  if (auto* refused = gate_.RefuseStream<v1::RingView>(context)) {
    return refused;
  }
  return new ViewWriter(state_);
}

}  // namespace shoplist::proxy
