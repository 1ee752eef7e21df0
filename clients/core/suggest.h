// What a home offers to add again, from what it already holds: while a
// person types an item, the names this home has used before, with their
// aisle (Suggest); on a list, what was bought on it and is not on it now,
// with how many (BoughtBefore), for one tap to add it back.
//
// Model. Both read a list's history (the v1::LogEvent records of
// records.h: every change this home made or merged, the last
// kMaxLogEvents a list) and the lists as they are. No record is added for
// them, so they work offline, in every host, and on homes written before
// they existed; a trimmed history offers what is left of it.
// - A name is used each time it is added ("add"); the lists' current
//   items count as used too, so a joined list's items are offered at once.
// - An item's aisle is, in order: the one this home remembers for it (the
//   host passes `remembered`), its category on a list that has it, the
//   last category its history gave it.
// - A trip: an item's "buy" events add up until it is taken off the list
//   ("take_off", as clearing bought items does); what had been bought by
//   then is what BoughtBefore offers back ("unbuy" takes away).
// Names match as the home matches items (text::ItemKey: NFC and full case
// folding), at the start of the name or of any word in it: "STR" finds
// "Straße", "milk" finds "Oat milk".
//
// Pure functions of their arguments; thread-compatible.
#ifndef SHOPLIST_CLIENTS_CORE_SUGGEST_H_
#define SHOPLIST_CLIENTS_CORE_SUGGEST_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "clients/core/results.h"
#include "shoplist/v1/local.pb.h"

namespace shoplist::client {

// How many each offers unless asked for fewer or more, and at most.
inline constexpr size_t kDefaultSuggestions = 8;
inline constexpr size_t kMaxSuggestions = 100;

// One list as it is now, and its history, oldest first.
struct ListHistory {
  const ListInfo* list = nullptr;
  std::vector<const v1::LogEvent*> events;
};

// The aisle this home remembers for an item key; empty when none.
using RememberedCategory = absl::FunctionRef<std::string(absl::string_view)>;

// Names used in `lists` that match `typed`, at most `limit`: matches at
// the start of the name first, then by uses, then the most recent. Items
// still to buy on the list `adding_to` (an id; empty: none) are left out,
// being there already. A blank `typed` matches nothing.
std::vector<Suggestion> Suggest(absl::string_view typed,
                                absl::Span<const ListHistory> lists,
                                absl::string_view adding_to,
                                RememberedCategory remembered, size_t limit);

// What was bought on `list` and is not on it now, the most recently
// bought first, at most `limit`; `count` is how many its last trip bought.
std::vector<Suggestion> BoughtBefore(const ListHistory& list,
                                     RememberedCategory remembered,
                                     size_t limit);

}  // namespace shoplist::client

#endif  // SHOPLIST_CLIENTS_CORE_SUGGEST_H_
