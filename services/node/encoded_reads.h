// Encoded Get answers of the lists this node stores, kept so that a read
// whose replicas all hold this node's copy (the usual case: a digest read
// whose digests match) is answered with bytes encoded once. Without it,
// every read computes the list's view (a collation sort) and encodes the
// state and the view anew: most of a read's CPU in the node's own code.
//
// Model. At most one entry per list: the storage::StoredDigest of the
// stored copy it was encoded from, and the bytes of a v1::GetResponse with
// `state` and `view` set (the caller appends `replies`). An entry with
// another digest is stale: Find misses and Put replaces it, so a write
// needs no invalidation. Once the entries' bytes pass the capacity, the
// oldest put are dropped first.
//
// Thread-safe.
#ifndef SHOPLIST_SERVICES_NODE_ENCODED_READS_H_
#define SHOPLIST_SERVICES_NODE_ENCODED_READS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace shoplist::node {

class EncodedReads {
 public:
  using Bytes = std::shared_ptr<const std::string>;

  explicit EncodedReads(size_t capacity_bytes)
      : capacity_bytes_(capacity_bytes) {}

  // The bytes encoded from the copy of `list_id` whose digest is `digest`;
  // null when none are kept.
  Bytes Find(absl::string_view list_id, absl::string_view digest) const;
  // Keeps `bytes` for that copy, replacing what was kept for the list. An
  // entry larger than the capacity is not kept.
  void Put(absl::string_view list_id, std::string digest, Bytes bytes);

  // Bytes kept now.
  size_t bytes() const;

 private:
  struct Entry {
    std::string digest;
    Bytes bytes;
    uint64_t sequence;  // of its Put, to tell it from a replaced one
  };

  const size_t capacity_bytes_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Puts in order, with their sequence; a replaced entry's is stale.
  std::deque<std::pair<std::string, uint64_t>> order_ ABSL_GUARDED_BY(mu_);
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_ENCODED_READS_H_
