// The ring a RingView (membership_service.proto) describes: what a node
// routes by and what an operator's tool measures.
#ifndef SHOPLIST_SERVICES_COMMON_RING_VIEW_H_
#define SHOPLIST_SERVICES_COMMON_RING_VIEW_H_

#include <algorithm>
#include <utility>
#include <vector>

#include "ring/ring.h"
#include "shoplist/v1/membership_service.pb.h"

namespace shoplist {

inline ring::Ring RingOf(const v1::RingView& view) {
  std::vector<ring::Member> members;
  for (const v1::Member& m : view.members()) {
    members.push_back(
        {m.node().id(), m.node().address(), m.state() == v1::Member::UP});
  }
  return ring::Ring(std::move(members), std::max(1u, view.vnodes()));
}

}  // namespace shoplist

#endif  // SHOPLIST_SERVICES_COMMON_RING_VIEW_H_
