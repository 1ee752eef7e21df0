// Small helpers for tests that handle lists: a fresh list id, and an
// item's wanted quantity read off a state.
//
// Errors: ListId records a GoogleTest failure in the calling test if the
// kernel's random source fails, and then returns a fixed id so the test
// can go on. WantedOf has none.
//
// Thread-safe: they keep no state.
#ifndef SHOPLIST_TESTS_SUPPORT_LISTS_H_
#define SHOPLIST_TESTS_SUPPORT_LISTS_H_

#include <cstdint>
#include <string>

#include "crdt/list_state.h"

namespace shoplist::testing {

// A fresh random list id, as crdt::NewListId makes them.
std::string ListId();

// The wanted quantity of the item keyed `name` in `state`, or -1 when the
// state has no such item.
int64_t WantedOf(const crdt::ListState& state, const std::string& name);

}  // namespace shoplist::testing

#endif  // SHOPLIST_TESTS_SUPPORT_LISTS_H_
