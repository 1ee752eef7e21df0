#include "services/node/keyed_serializer.h"

#include <utility>

namespace shoplist::node {

void KeyedSerializer::Run(const std::string& key, Task task) {
  {
    absl::MutexLock lock(&mu_);
    auto [it, idle] = waiting_.try_emplace(key);
    if (!idle) {
      it->second.push_back(std::move(task));
      return;
    }
  }
  task([this, key] { Finish(key); });
}

void KeyedSerializer::Finish(const std::string& key) {
  Task next;
  {
    absl::MutexLock lock(&mu_);
    auto it = waiting_.find(key);
    if (it == waiting_.end()) return;
    if (it->second.empty()) {
      waiting_.erase(it);
      return;
    }
    next = std::move(it->second.front());
    it->second.pop_front();
  }
  next([this, key] { Finish(key); });
}

}  // namespace shoplist::node
