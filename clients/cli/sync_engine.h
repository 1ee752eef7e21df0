// Brings one local list and the cloud together: sends the pending changes
// (only what the cloud lacks) with what this home has seen, merges what
// comes back, and clears what the cloud acknowledged. Tries each proxy in
// turn; when none answers the list is left as it was ("offline").
//
// Takes ListService::StubInterface so tests can use the generated gMock
// stubs. Not thread-safe.
#ifndef SHOPLIST_CLIENTS_CLI_SYNC_ENGINE_H_
#define SHOPLIST_CLIENTS_CLI_SYNC_ENGINE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/cli/local_store.h"
#include "shoplist/v1/list_service.grpc.pb.h"

namespace shoplist::cli {

enum class SyncOutcome {
  kSynced,    // pending changes stored in the cloud, missing ones merged
  kOffline,   // no proxy answered; nothing changed
  kDeleted,   // someone deleted the list; the local state is the tombstone
  kNotFound,  // the cloud does not know this id (a join of a wrong id)
};

class SyncEngine {
 public:
  SyncEngine(
      std::vector<std::unique_ptr<v1::ListService::StubInterface>> proxies,
      absl::Duration timeout)
      : proxies_(std::move(proxies)), timeout_(timeout) {}

  // Syncs `list` in place. Errors other than "unreachable" (a refused
  // change, say) come back as a status and leave `list` unchanged.
  absl::StatusOr<SyncOutcome> Sync(LocalList& list);

  // Index of the proxy that answered last (tried first next time).
  size_t preferred() const { return preferred_; }

 private:
  std::vector<std::unique_ptr<v1::ListService::StubInterface>> proxies_;
  const absl::Duration timeout_;
  size_t preferred_ = 0;
};

// Stubs for `addresses` ("host:port,host:port").
std::vector<std::unique_ptr<v1::ListService::StubInterface>> NewListStubs(
    const std::string& addresses);

}  // namespace shoplist::cli

#endif  // SHOPLIST_CLIENTS_CLI_SYNC_ENGINE_H_
