// Which list a person means by LIST: the one rule for the CLI and the page.
//
// LIST, trimmed, is tried in this order; the first rule that matches
// anything decides:
//   1. a full list id;
//   2. a prefix of ids;
//   3. a title, exactly;
//   4. a title, without regard to case (Unicode case folding);
//   5. a prefix of titles, without regard to case.
// A rule that matches one list finds it; one that matches several is
// ambiguous, and the error names every candidate.
//
// Pure: no home, no I/O. Thread-safe.
#ifndef SHOPLIST_CLIENTS_CORE_LIST_RESOLVER_H_
#define SHOPLIST_CLIENTS_CORE_LIST_RESOLVER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shoplist::client {

struct ListName {
  std::string id;
  std::string title;
};

// The id of the list `typed` names among `lists`.
// INVALID_ARGUMENT: `typed` is blank.
// NOT_FOUND: nothing matches ("no list 'X' in this home ...").
// FAILED_PRECONDITION: several match; the message lists "id  title" of
// each, one per line, in the order of `lists`.
absl::StatusOr<std::string> ResolveList(absl::string_view typed,
                                        const std::vector<ListName>& lists);

}  // namespace shoplist::client

#endif  // SHOPLIST_CLIENTS_CORE_LIST_RESOLVER_H_
