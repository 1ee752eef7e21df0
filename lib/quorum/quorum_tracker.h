// Bookkeeping for one fan-out: counts successful and failed replies and
// decides, exactly once, whether `needed` successes were reached or can no
// longer be. No I/O, no locking: the owner serialises calls.
#ifndef SHOPLIST_QUORUM_QUORUM_TRACKER_H_
#define SHOPLIST_QUORUM_QUORUM_TRACKER_H_

#include <cstddef>

namespace shoplist::quorum {

class QuorumTracker {
 public:
  enum class Outcome { kPending, kReached, kFailed };

  // REQUIRES: needed >= 1.
  explicit QuorumTracker(size_t needed) : needed_(needed) {}

  // A request went out (or a local operation started).
  void AddTarget() { ++pending_; }
  // Records a reply. Returns the outcome if this reply decided it, else
  // kPending (also for every reply after the decision).
  Outcome Record(bool ok);

  size_t acks() const { return acks_; }
  bool all_replied() const { return pending_ == 0; }

 private:
  const size_t needed_;
  size_t pending_ = 0;
  size_t acks_ = 0;
  Outcome outcome_ = Outcome::kPending;
};

}  // namespace shoplist::quorum

#endif  // SHOPLIST_QUORUM_QUORUM_TRACKER_H_
