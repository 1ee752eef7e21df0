#include "services/node/encoded_reads.h"

namespace shoplist::node {

EncodedReads::Bytes EncodedReads::Find(absl::string_view list_id,
                                       absl::string_view digest) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(list_id);
  if (it == entries_.end() || it->second.digest != digest) return nullptr;
  return it->second.bytes;
}

void EncodedReads::Put(absl::string_view list_id, std::string digest,
                       Bytes bytes) {
  const size_t size = bytes->size();
  if (size > capacity_bytes_) return;
  absl::MutexLock lock(&mu_);
  const uint64_t sequence = ++sequence_;
  auto [it, inserted] = entries_.try_emplace(list_id);
  if (!inserted) bytes_ -= it->second.bytes->size();
  it->second = Entry{std::move(digest), std::move(bytes), sequence};
  bytes_ += size;
  order_.emplace_back(std::string(list_id), sequence);
  auto live = [this](const std::pair<std::string, uint64_t>& record) {
    auto found = entries_.find(record.first);
    return found != entries_.end() && found->second.sequence == record.second;
  };
  while (!order_.empty()) {
    if (!live(order_.front())) {
      order_.pop_front();  // replaced since
      continue;
    }
    if (bytes_ <= capacity_bytes_) break;
    auto oldest = entries_.find(order_.front().first);
    bytes_ -= oldest->second.bytes->size();
    entries_.erase(oldest);
    order_.pop_front();
  }
  // Lists put again and again leave stale records behind a live one.
  if (order_.size() > 2 * entries_.size() + 64) {
    std::deque<std::pair<std::string, uint64_t>> kept;
    for (auto& record : order_) {
      if (live(record)) kept.push_back(std::move(record));
    }
    order_.swap(kept);
  }
}

size_t EncodedReads::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

}  // namespace shoplist::node
