// Test doubles for ListService.Watch behind the generated gMock stubs: a
// reader that hands out given events, then (optionally) blocks until
// released, then ends with a given status.
#ifndef SHOPLIST_TESTS_SERVICE_WATCH_SUPPORT_H_
#define SHOPLIST_TESTS_SERVICE_WATCH_SUPPORT_H_

#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"
#include "codec/list_codec.h"
#include "crdt/list_state.h"
#include "grpcpp/support/sync_stream.h"
#include "shoplist/v1/list_service.pb.h"

namespace shoplist::testing {

class FakeWatchReader final
    : public grpc::ClientReaderInterface<v1::WatchEvent> {
 public:
  // `hold`, when given, is waited for after the events (a stream that stays
  // open until the test lets it end).
  FakeWatchReader(std::vector<crdt::ListState> deltas, grpc::Status end,
                  absl::Notification* hold = nullptr)
      : deltas_(std::move(deltas)), end_(std::move(end)), hold_(hold) {}

  bool Read(v1::WatchEvent* event) override {
    if (next_ < deltas_.size()) {
      event->Clear();
      codec::EncodeState(deltas_[next_++], event->mutable_delta());
      return true;
    }
    if (hold_ != nullptr) hold_->WaitForNotification();
    return false;
  }
  grpc::Status Finish() override { return end_; }
  bool NextMessageSize(uint32_t* size) override {
    *size = 1 << 20;
    return true;
  }
  void WaitForInitialMetadata() override {}

 private:
  std::vector<crdt::ListState> deltas_;
  size_t next_ = 0;
  grpc::Status end_;
  absl::Notification* hold_;
};

}  // namespace shoplist::testing

#endif  // SHOPLIST_TESTS_SERVICE_WATCH_SUPPORT_H_
