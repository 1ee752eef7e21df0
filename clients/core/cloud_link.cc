#include "clients/core/cloud_link.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "services/common/channels.h"

namespace shoplist::client {

std::shared_ptr<CloudLink> CloudLink::Connect(const std::string& addresses) {
  auto link = std::make_shared<CloudLink>(
      std::vector<std::unique_ptr<Stub>>(),
      std::vector<std::shared_ptr<grpc::Channel>>(), addresses);
  link->size_ = std::vector<absl::string_view>(
                    absl::StrSplit(addresses, ',', absl::SkipEmpty()))
                    .size();
  return link;
}

CloudLink::CloudLink(std::vector<std::unique_ptr<Stub>> stubs,
                     std::vector<std::shared_ptr<grpc::Channel>> channels,
                     std::string addresses)
    : addresses_(std::move(addresses)),
      size_(stubs.size()),
      stubs_(std::move(stubs)),
      channels_(std::move(channels)) {}

void CloudLink::OpenChannels() {
  absl::call_once(opened_, [this] {
    if (!stubs_.empty()) return;  // given by the constructor
    for (absl::string_view address :
         absl::StrSplit(addresses_, ',', absl::SkipEmpty())) {
      channels_.push_back(NewChannel(std::string(address)));
      stubs_.push_back(v1::ListService::NewStub(channels_.back()));
    }
  });
}

CloudLink::Stub& CloudLink::stub(size_t i) {
  OpenChannels();
  return *stubs_[i];
}

size_t CloudLink::preferred() const {
  absl::MutexLock lock(&mu_);
  return preferred_;
}

bool CloudLink::online() const {
  absl::MutexLock lock(&mu_);
  return online_;
}

uint64_t CloudLink::reconnects() const {
  absl::MutexLock lock(&mu_);
  return reconnects_;
}

void CloudLink::Set(size_t i, bool reached) {
  {
    absl::MutexLock lock(&mu_);
    if (reached) {
      preferred_ = i;
      if (!online_) {
        ++reconnects_;
        ++wakes_;  // and whoever sleeps
        // Back online: whoever waits for a proxy tries again now.
        for (grpc::ClientContext* wait : waits_) wait->TryCancel();
      }
    }
    online_ = reached;
  }
  // The listener learns the state as it is now, never an older one, even
  // when two threads report at once.
  absl::MutexLock lock(&listener_mu_);
  bool now = online();
  if (listener_ && now != told_online_) {
    told_online_ = now;
    listener_(now);
  }
}

void CloudLink::Reached(size_t i) { Set(i, true); }
void CloudLink::Unreachable(size_t i) { Set(i, false); }

bool CloudLink::Report(size_t i, const grpc::Status& status) {
  bool reached = !IsUnreachable(status);
  Set(i, reached);
  return reached;
}

bool CloudLink::AwaitProxy(size_t i, absl::Duration wait,
                           grpc::ClientContext* context) {
  OpenChannels();
  if (i < channels_.size() && channels_[i] != nullptr) {
    grpc::experimental::ChannelResetConnectionBackoff(channels_[i].get());
  }
  // Waits for the connection gRPC is making, instead of failing at once
  // because its last attempt failed.
  context->set_wait_for_ready(true);
  context->set_deadline(absl::ToChronoTime(absl::Now() + wait));
  {
    absl::MutexLock lock(&mu_);
    waits_.insert(context);
  }
  v1::PingResponse pong;
  grpc::Status status = stub(i).Ping(context, v1::PingRequest(), &pong);
  {
    absl::MutexLock lock(&mu_);
    waits_.erase(context);
  }
  if (status.error_code() == grpc::StatusCode::CANCELLED) return false;
  const bool reached = Report(i, status);
  if (!reached) {
    // A proxy that refuses at once does not shorten the wait: the back-off
    // holds for every caller (cut short by Wake() or a reconnect).
    Sleep(absl::FromChrono(context->deadline()) - absl::Now(), nullptr);
  }
  return reached;
}

bool CloudLink::ProbeAny(absl::Duration wait) {
  const size_t first = preferred();
  for (size_t k = 0; k < size_; ++k) {
    grpc::ClientContext context;
    if (AwaitProxy((first + k) % size_, wait, &context)) return true;
    if (online()) return true;  // another call got through meanwhile
  }
  return false;
}

void CloudLink::Sleep(absl::Duration delay, const std::function<bool()>& stop) {
  const absl::Time until = absl::Now() + delay;
  absl::MutexLock lock(&mu_);
  while (!(stop && stop())) {
    const uint64_t wakes = wakes_;
    auto woken = [this, wakes]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return wakes_ != wakes;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&woken), until)) return;
    if (!stop) return;  // any wake ends a sleep with no condition
  }
}

void CloudLink::Wake() {
  absl::MutexLock lock(&mu_);
  ++wakes_;
}

void CloudLink::SetListener(std::function<void(bool online)> listener) {
  absl::MutexLock lock(&listener_mu_);
  listener_ = std::move(listener);
  told_online_ = online();
}

absl::Duration CloudLink::RetryDelay(int failures) {
  if (failures <= 0) return absl::ZeroDuration();
  absl::Duration delay = absl::Milliseconds(100);
  for (int i = 1; i < failures && delay < absl::Seconds(1); ++i) delay *= 2;
  return std::min(delay, absl::Seconds(1));
}

bool CloudLink::IsUnreachable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

}  // namespace shoplist::client
