// One exchange of a list with the cloud, as bytes: the request the core
// built (HomeCore::SyncRequest) goes to one proxy of the CloudLink after
// another, from the one that answered last, and every outcome is reported
// to the link; the answer goes back to the core (HomeCore::MergeSync).
// When no proxy answers the home is offline and nothing was sent.
//
// The engine never touches the home. Takes the stubs of a CloudLink, so
// tests use the generated gMock stubs. Thread-safe (stateless beyond the
// link).
#ifndef SHOPLIST_CLIENTS_CORE_SYNC_ENGINE_H_
#define SHOPLIST_CLIENTS_CORE_SYNC_ENGINE_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "clients/core/cloud_link.h"
#include "clients/core/home_core.h"

namespace shoplist::client {

class SyncEngine {
 public:
  explicit SyncEngine(std::shared_ptr<CloudLink> link)
      : link_(std::move(link)) {}

  // One Sync call per proxy at most, each with `timeout`. `request` is a
  // serialized v1::SyncRequest; a kStored answer carries the serialized
  // v1::SyncResponse. A refusal other than NOT_FOUND (a change the cloud
  // does not take) is kFailed with the cloud's message.
  SyncAnswer Sync(absl::string_view request, absl::Duration timeout);

 private:
  std::shared_ptr<CloudLink> link_;
};

}  // namespace shoplist::client

#endif  // SHOPLIST_CLIENTS_CORE_SYNC_ENGINE_H_
