#include "quorum/fan_out.h"

#include <algorithm>

namespace shoplist::quorum {

std::vector<Target> FanOut::Start(absl::string_view self_id) {
  std::vector<Target> targets = plan_.InitialTargets();
  std::stable_partition(targets.begin(), targets.end(),
                        [&](const Target& t) { return t.node_id != self_id; });
  for (size_t i = 0; i < targets.size(); ++i) tracker_.AddTarget();
  return targets;
}

FanOut::Step FanOut::Record(const Target& from, bool ok) {
  Step step;
  if (!ok) {
    // Counted before the failure, so the tracker does not give up while a
    // stand-in can still answer.
    step.replacement = plan_.Replace(from);
    if (step.replacement) tracker_.AddTarget();
  }
  step.decided = tracker_.Record(ok);
  step.all_replied = tracker_.all_replied();
  step.acks = tracker_.acks();
  return step;
}

FanOut::Step FanOut::RecordRefusal(const Target& /*from*/) {
  Step step;
  step.decided = tracker_.Record(false);
  step.all_replied = tracker_.all_replied();
  step.acks = tracker_.acks();
  return step;
}

}  // namespace shoplist::quorum
