// Runs asynchronous tasks one at a time per key, in arrival order, without
// holding a thread while a task waits: a task receives a `finished`
// callback and the next task for its key starts when it is called.
//
// Thread-safe.
#ifndef SHOPLIST_SERVICES_NODE_KEYED_SERIALIZER_H_
#define SHOPLIST_SERVICES_NODE_KEYED_SERIALIZER_H_

#include <deque>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace shoplist::node {

class KeyedSerializer {
 public:
  using Finished = std::function<void()>;
  using Task = std::function<void(Finished finished)>;

  // Runs `task` now if no task for `key` is running, else after the ones
  // before it have called `finished`. REQUIRES: every task eventually calls
  // `finished`, exactly once.
  void Run(const std::string& key, Task task);

 private:
  void Finish(const std::string& key);

  absl::Mutex mu_;
  // Present while a task for the key runs; holds the ones waiting.
  absl::flat_hash_map<std::string, std::deque<Task>> waiting_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_KEYED_SERIALIZER_H_
