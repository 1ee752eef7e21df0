// The bookkeeping of one quorum call to a list's replicas, whatever the
// call does: whom to ask (a FanOutPlan: owners, then stand-ins for those
// that are down or fail) and when enough have answered (a QuorumTracker).
// The coordinator's write and read state machines each own one and feed it
// every reply; it tells them when the call is decided, whom to ask in place
// of a replica that failed, and when nothing more will come.
//
//   FanOut fan_out(plan, needed);
//   for (const Target& t : fan_out.Start(self)) Send(t);
//   ... on each reply from t:
//   FanOut::Step step = fan_out.Record(t, ok);
//   if (step.replacement) Send(*step.replacement);
//   if (step.decided != kPending) Answer(step.decided, step.acks);
//   if (step.all_replied) AfterLastReply();
//
// Errors: none; a call with no healthy replica starts with no target.
//
// Not thread-safe, and no I/O: the owner serialises calls (the coordinator
// holds its call's mutex).
#ifndef SHOPLIST_QUORUM_FAN_OUT_H_
#define SHOPLIST_QUORUM_FAN_OUT_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "quorum/fan_out_plan.h"
#include "quorum/quorum_tracker.h"

namespace shoplist::quorum {

class FanOut {
 public:
  using Outcome = QuorumTracker::Outcome;

  // REQUIRES: needed >= 1.
  FanOut(FanOutPlan plan, size_t needed)
      : plan_(std::move(plan)), tracker_(needed) {}

  // The first targets, one per owner (a stand-in for an unhealthy one),
  // each now awaited. The target whose node is `self_id` comes last, so a
  // caller that sends in order starts the network before its own disk.
  // Empty when no healthy node exists: the call can only fail.
  // REQUIRES: called once, before Record.
  std::vector<Target> Start(absl::string_view self_id);

  struct Step {
    // kReached or kFailed for the one reply that decided the call, else
    // kPending (also for every reply after the decision).
    Outcome decided = Outcome::kPending;
    // After a failure: the node to ask instead, already awaited.
    std::optional<Target> replacement;
    // Every target asked, replacements included, has answered.
    bool all_replied = false;
    // Successful replies so far.
    size_t acks = 0;
  };
  // Records `from`'s reply. REQUIRES: `from` was returned by Start or as a
  // replacement, and has not been recorded yet.
  Step Record(const Target& from, bool ok);
  // Records a reply that failed for a reason no other node would change
  // (a replica that refused the request): no stand-in is asked for it.
  // REQUIRES: as for Record.
  Step RecordRefusal(const Target& from);

 private:
  FanOutPlan plan_;
  QuorumTracker tracker_;
};

}  // namespace shoplist::quorum

#endif  // SHOPLIST_QUORUM_FAN_OUT_H_
