// Where a node's coordinator gets the ring from. The proxy's subscription
// stream is one source; a fixed membership (the --members flag, and tests)
// is another. Current() is cheap and thread-safe: coordinators call it on
// every request and always see the newest view.
#ifndef SHOPLIST_SERVICES_NODE_RING_SOURCE_H_
#define SHOPLIST_SERVICES_NODE_RING_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ring/ring.h"

namespace shoplist::node {

struct RingView {
  // Counted by the proxy that made the view (each proxy keeps its own).
  uint64_t version = 0;
  ring::Ring ring;
  // That proxy's id; empty for a fixed ring (--members).
  std::string proxy;
};

class RingSource {
 public:
  virtual ~RingSource() = default;
  // Never null.
  virtual std::shared_ptr<const RingView> Current() const = 0;
};

// A ring that never changes.
class StaticRingSource final : public RingSource {
 public:
  explicit StaticRingSource(std::shared_ptr<const RingView> view)
      : view_(std::move(view)) {}
  std::shared_ptr<const RingView> Current() const override { return view_; }

 private:
  const std::shared_ptr<const RingView> view_;
};

// Parses "id=host:port,id=host:port". INVALID_ARGUMENT on a malformed or
// duplicate entry.
absl::StatusOr<std::vector<ring::Member>> ParseMembers(absl::string_view text);

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_RING_SOURCE_H_
