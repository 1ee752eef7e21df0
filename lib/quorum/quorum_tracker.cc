#include "quorum/quorum_tracker.h"

namespace shoplist::quorum {

QuorumTracker::Outcome QuorumTracker::Record(bool ok) {
  if (pending_ > 0) --pending_;
  if (ok) ++acks_;
  if (outcome_ != Outcome::kPending) return Outcome::kPending;
  if (acks_ >= needed_) {
    outcome_ = Outcome::kReached;
  } else if (acks_ + pending_ < needed_) {
    // Replacements for failed targets are added before the failure is
    // recorded, so this is decided only when nothing more can come.
    outcome_ = Outcome::kFailed;
  } else {
    return Outcome::kPending;
  }
  return outcome_;
}

}  // namespace shoplist::quorum
