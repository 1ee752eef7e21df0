// The watchers of lists on this node. The store calls Publish after every
// merge that changed a list (client writes, replication, hints, repair), and
// each watcher of that list gets the merged state.
//
// Thread-safe. Callbacks run on the publishing thread (the store's commit
// thread, see storage::MergeListener) under the hub's lock: they must only
// hand the state on, and must not call Add or Remove.
#ifndef SHOPLIST_SERVICES_NODE_WATCH_HUB_H_
#define SHOPLIST_SERVICES_NODE_WATCH_HUB_H_

#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "crdt/list_state.h"

namespace shoplist::node {

class WatchHub {
 public:
  using Callback = std::function<void(const crdt::ListState& merged)>;

  // Returns an id for Remove.
  int Add(const std::string& list_id, Callback callback);
  // After Remove returns, the callback is not running and will not run.
  void Remove(int id);
  void Publish(const std::string& list_id, const crdt::ListState& merged);
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::multimap<std::string, std::pair<int, Callback>> by_list_
      ABSL_GUARDED_BY(mu_);
  std::map<int, std::string> list_of_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_WATCH_HUB_H_
