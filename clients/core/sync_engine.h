// One exchange of a list with the cloud: sends the pending changes (only
// what the cloud may lack) with what this home has seen, and brings back
// what the home lacks. Tries each proxy of the CloudLink in turn, from the
// one that answered last, and reports every outcome to it; when none
// answers the home is offline and nothing changed.
//
// The engine never touches the home: the caller (Home) merges the reply
// into what is stored, which may have changed while the call was out.
// Takes the stubs of a CloudLink, so tests use the generated gMock stubs.
// Thread-safe (stateless beyond the link).
#ifndef SHOPLIST_CLIENTS_CORE_SYNC_ENGINE_H_
#define SHOPLIST_CLIENTS_CORE_SYNC_ENGINE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/core/cloud_link.h"
#include "crdt/list_state.h"

namespace shoplist::client {

struct SyncInput {
  std::string id;
  crdt::ListState pending;    // what the cloud may lack
  crdt::CausalContext known;  // everything the home has seen
  bool create = false;        // a new list's first sync
  std::string secret;         // of the home's link; empty for an open list
};

struct SyncReply {
  enum class Answer {
    kStored,   // `pending` is stored on W replicas; `missing` is merged in
    kOffline,  // no proxy answered; nothing was sent
    // The cloud does not know the id (and create was false), or the
    // secret proves nothing on it: the same answer, by design.
    kNotFound,
  };
  Answer answer = Answer::kOffline;
  crdt::ListState missing;  // what the home lacks (kStored only)
};

class SyncEngine {
 public:
  explicit SyncEngine(std::shared_ptr<CloudLink> link)
      : link_(std::move(link)) {}

  // One Sync call per proxy at most, each with `timeout`. Errors other
  // than "unreachable" (a refused change, a reply that does not decode)
  // come back as a status.
  absl::StatusOr<SyncReply> Sync(const SyncInput& input,
                                 absl::Duration timeout);

 private:
  std::shared_ptr<CloudLink> link_;
};

}  // namespace shoplist::client

#endif  // SHOPLIST_CLIENTS_CORE_SYNC_ENGINE_H_
