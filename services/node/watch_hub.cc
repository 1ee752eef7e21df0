#include "services/node/watch_hub.h"

namespace shoplist::node {

int WatchHub::Add(const std::string& list_id, Callback callback) {
  absl::MutexLock lock(&mu_);
  int id = next_id_++;
  by_list_.emplace(list_id, std::make_pair(id, std::move(callback)));
  list_of_[id] = list_id;
  return id;
}

void WatchHub::Remove(int id) {
  absl::MutexLock lock(&mu_);
  auto it = list_of_.find(id);
  if (it == list_of_.end()) return;
  auto [begin, end] = by_list_.equal_range(it->second);
  for (auto w = begin; w != end; ++w) {
    if (w->second.first == id) {
      by_list_.erase(w);
      break;
    }
  }
  list_of_.erase(it);
}

void WatchHub::Publish(const std::string& list_id,
                       const crdt::ListState& merged) {
  absl::MutexLock lock(&mu_);
  auto [begin, end] = by_list_.equal_range(list_id);
  for (auto w = begin; w != end; ++w) w->second.second(merged);
}

size_t WatchHub::size() const {
  absl::MutexLock lock(&mu_);
  return list_of_.size();
}

}  // namespace shoplist::node
