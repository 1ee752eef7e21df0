#include "clients/core/watcher.h"

#include <utility>

#include "absl/time/clock.h"
#include "codec/list_codec.h"
#include "grpcpp/grpcpp.h"
#include "services/common/status_util.h"

namespace shoplist::client {
namespace {

// A stream that lived this long was healthy: its end is a new incident,
// retried after the shortest delay.
constexpr absl::Duration kHealthyStream = absl::Seconds(2);

bool EndsTheWatch(grpc::StatusCode code) {
  return code == grpc::StatusCode::NOT_FOUND ||
         code == grpc::StatusCode::INVALID_ARGUMENT ||
         code == grpc::StatusCode::PERMISSION_DENIED ||
         code == grpc::StatusCode::UNAUTHENTICATED;
}

}  // namespace

Watcher::Watcher(std::shared_ptr<CloudLink> link, std::string list_id,
                 std::string secret, Callbacks callbacks)
    : link_(std::move(link)),
      list_id_(std::move(list_id)),
      secret_(std::move(secret)),
      callbacks_(std::move(callbacks)) {}

Watcher::~Watcher() { Stop(); }

bool Watcher::stopped() const {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

int Watcher::attempts() const {
  absl::MutexLock lock(&mu_);
  return attempts_;
}

void Watcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  link_->Wake();
}

absl::Status Watcher::Run() {
  if (link_->size() == 0) {
    return absl::InvalidArgumentError("no proxy to watch through");
  }
  size_t proxy = link_->preferred();
  int failures = 0;
  absl::Time last_start = absl::InfinitePast();
  while (!stopped()) {
    if (failures > 0) {
      // Waits for the proxy rather than sleeping: back within moments of
      // its return, or at once when another call of the home gets through.
      grpc::ClientContext wait;
      if (!Register(&wait)) break;
      const bool up =
          link_->AwaitProxy(proxy, CloudLink::RetryDelay(failures), &wait);
      Unregister();
      if (stopped()) break;
      if (!up && link_->online()) {
        proxy = link_->preferred();  // another call of the home got through
      } else if (!up) {
        ++failures;
        proxy = (proxy + 1) % link_->size();
        continue;
      }
      // A proxy that answers but refuses the watch (it has no ring yet,
      // say) is not asked again sooner than the back-off allows.
      const absl::Duration left =
          last_start + CloudLink::RetryDelay(failures) - absl::Now();
      if (left > absl::ZeroDuration()) {
        link_->Sleep(left, [this] { return stopped(); });
        if (stopped()) break;
      }
    }
    absl::StatusOr<crdt::CausalContext> known = callbacks_.prepare();
    if (!known.ok()) return known.status();
    const absl::Time start = absl::Now();
    last_start = start;
    bool delivered = false, ended_by_owner = false;
    grpc::Status status = Attach(proxy, *known, &delivered, &ended_by_owner);
    if (ended_by_owner || stopped()) break;
    if (EndsTheWatch(status.error_code())) {
      link_->Reached(proxy);
      return ToAbsl(status);
    }
    link_->Unreachable(proxy);
    if (callbacks_.on_interrupted) {
      callbacks_.on_interrupted(status.ok()
                                    ? absl::UnavailableError("the stream ended")
                                    : ToAbsl(status));
    }
    const bool healthy = delivered || absl::Now() - start >= kHealthyStream;
    failures = healthy ? 1 : failures + 1;
    proxy = (proxy + 1) % link_->size();  // the next proxy may be up
  }
  return absl::OkStatus();
}

grpc::Status Watcher::Attach(size_t proxy, const crdt::CausalContext& known,
                             bool* delivered, bool* ended_by_owner) {
  grpc::ClientContext context;
  if (!Register(&context)) return grpc::Status::CANCELLED;
  {
    absl::MutexLock lock(&mu_);
    ++attempts_;
  }
  v1::WatchRequest request;
  request.set_list_id(list_id_);
  request.set_secret(secret_);
  codec::EncodeContext(known, request.mutable_known());
  std::unique_ptr<grpc::ClientReaderInterface<v1::WatchEvent>> reader =
      link_->stub(proxy).Watch(&context, request);
  v1::WatchEvent event;
  while (reader->Read(&event)) {
    absl::StatusOr<crdt::ListState> delta = codec::DecodeState(event.delta());
    if (!delta.ok()) continue;  // the cloud never sends one; skip it
    if (!*delivered) link_->Reached(proxy);
    *delivered = true;
    if (!callbacks_.on_delta(*delta)) {
      *ended_by_owner = true;
      context.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  Unregister();
  return status;
}

bool Watcher::Register(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return false;
  context_ = context;
  return true;
}

void Watcher::Unregister() {
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
}

}  // namespace shoplist::client
