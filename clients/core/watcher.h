// Follows one list's changes through ListService.Watch, beside the sync
// engine and over the same CloudLink (so tests drive it with the
// generated gMock stubs).
//
// Run() attaches to the proxy the link prefers and hands each delta to the
// owner. When the stream breaks it reports the proxy unreachable, moves on
// to the next proxy and tries again under the link's policy: it waits for
// that proxy (CloudLink::AwaitProxy, up to RetryDelay: 100 ms doubling to
// 1 s), and re-attaches at once when any other call of the home reaches a
// proxy again. A stream that delivered a delta or stayed open for a while
// is retried after the shortest wait.
//
// The owner supplies:
//   - `prepare`, called before every attempt: returns what the home has
//     seen (sent as `known`, so the first event brings only what the home
//     lacks), or an error that ends the watch (the list was forgotten).
//   - `on_delta`, for each delta: returns false to end the watch (the list
//     was deleted).
//   - `on_interrupted`, optional: told when a stream ends unexpectedly.
//
// Thread-safety: Run() blocks the calling thread; Stop() may be called
// from any thread, any number of times, before, during or after Run().
#ifndef SHOPLIST_CLIENTS_CORE_WATCHER_H_
#define SHOPLIST_CLIENTS_CORE_WATCHER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "clients/core/cloud_link.h"
#include "crdt/list_state.h"
#include "grpcpp/client_context.h"

namespace shoplist::client {

class Watcher {
 public:
  struct Callbacks {
    std::function<absl::StatusOr<crdt::CausalContext>()> prepare;
    std::function<bool(const crdt::ListState& delta)> on_delta;
    std::function<void(const absl::Status& why)> on_interrupted;
  };

  // `secret`: of the home's link to the list (empty for an open list).
  Watcher(std::shared_ptr<CloudLink> link, std::string list_id,
          std::string secret, Callbacks callbacks);
  ~Watcher();

  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Follows the list until Stop(), until `on_delta` returns false (OK), or
  // until the cloud refuses the watch for good: NOT_FOUND (no such list),
  // INVALID_ARGUMENT, PERMISSION_DENIED, UNAUTHENTICATED; or `prepare`
  // fails (its status).
  absl::Status Run();

  // Ends Run() soon: cancels the stream in flight, wakes a waiting retry.
  void Stop();

  // How many streams Run() opened: the first and every re-attachment.
  int attempts() const;

 private:
  bool stopped() const;
  // The call in flight, for Stop() to cancel. False when already stopped.
  bool Register(grpc::ClientContext* context);
  void Unregister();
  // One stream on proxy `proxy`. Sets *delivered when a delta came.
  grpc::Status Attach(size_t proxy, const crdt::CausalContext& known,
                      bool* delivered, bool* ended_by_owner);

  const std::shared_ptr<CloudLink> link_;
  const std::string list_id_;
  const std::string secret_;
  const Callbacks callbacks_;

  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  int attempts_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace shoplist::client

#endif  // SHOPLIST_CLIENTS_CORE_WATCHER_H_
