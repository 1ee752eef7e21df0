#include "clients/core/list_resolver.h"

#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "text/text.h"

namespace shoplist::client {

absl::StatusOr<std::string> ResolveList(absl::string_view typed,
                                        const std::vector<ListName>& lists) {
  const std::string name = text::TrimSpace(typed);
  if (name.empty()) {
    return absl::InvalidArgumentError("name a list: its title or its id");
  }
  const std::string folded = text::FoldCase(name);
  std::vector<std::string> folded_titles;
  folded_titles.reserve(lists.size());
  for (const ListName& l : lists)
    folded_titles.push_back(text::FoldCase(l.title));

  using Rule = std::function<bool(size_t)>;
  const Rule rules[] = {
      [&](size_t i) { return lists[i].id == name; },
      [&](size_t i) { return absl::StartsWith(lists[i].id, name); },
      [&](size_t i) { return lists[i].title == name; },
      [&](size_t i) { return folded_titles[i] == folded; },
      [&](size_t i) {
        return !lists[i].title.empty() &&
               absl::StartsWith(folded_titles[i], folded);
      },
  };
  for (const Rule& rule : rules) {
    std::vector<size_t> matches;
    for (size_t i = 0; i < lists.size(); ++i) {
      if (rule(i)) matches.push_back(i);
    }
    if (matches.size() == 1) return lists[matches[0]].id;
    if (matches.size() > 1) {
      std::string names;
      for (size_t i : matches) {
        absl::StrAppend(&names, "\n  ", lists[i].id, "  ", lists[i].title);
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "'", name, "' matches more than one list (", matches.size(),
          "); use more of the title or the id:", names));
    }
  }
  return absl::NotFoundError(absl::StrCat(
      "no list '", name, "' in this home (see: shoplist-cli lists)"));
}

}  // namespace shoplist::client
