#include "clients/core/suggest.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "crdt/list_diff.h"
#include "crdt/list_state.h"
#include "text/text.h"

namespace shoplist::client {
namespace {

using Kind = crdt::ListEvent::Kind;

absl::Time TimeOf(const v1::LogEvent& e) {
  return absl::FromUnixMicros(static_cast<int64_t>(e.at_micros()));
}

// An item's category as a list shows it: empty for the default.
std::string Shown(absl::string_view category) {
  return category == crdt::kDefaultCategory ? "" : std::string(category);
}

// What a home's lists and history say of one item key.
struct Seen {
  Suggestion s;
  std::string listed_category;   // on a list now (not the default)
  std::string history_category;  // the last the history gave it
  absl::Time category_at = absl::InfinitePast();
};

std::string CategoryOf(absl::string_view key, const Seen& seen,
                       RememberedCategory remembered) {
  std::string category = remembered(key);
  if (!category.empty()) return category;
  if (!seen.listed_category.empty()) return seen.listed_category;
  return seen.history_category;
}

void NoteCategory(const v1::LogEvent& e, Seen& seen) {
  if (TimeOf(e) >= seen.category_at) {
    seen.history_category = Shown(e.text());
    seen.category_at = TimeOf(e);
  }
}

// 0: `typed` starts the name; 1: it starts a later word; nullopt: neither.
std::optional<int> MatchRank(absl::string_view key, absl::string_view typed) {
  if (absl::StartsWith(key, typed)) return 0;
  for (size_t at = key.find(' '); at != absl::string_view::npos;
       at = key.find(' ', at + 1)) {
    if (absl::StartsWith(key.substr(at + 1), typed)) return 1;
  }
  return std::nullopt;
}

}  // namespace

std::vector<Suggestion> Suggest(absl::string_view typed,
                                absl::Span<const ListHistory> lists,
                                absl::string_view adding_to,
                                RememberedCategory remembered, size_t limit) {
  const std::string wanted = text::ItemKey(typed);
  if (wanted.empty() || limit == 0) return {};
  std::map<std::string, Seen, std::less<>> seen;
  std::map<std::string, bool, std::less<>> there;  // to buy on adding_to
  for (const ListHistory& h : lists) {
    for (const v1::LogEvent* e : h.events) {
      const std::optional<Kind> kind = crdt::KindFromName(e->kind());
      if (!kind || e->item().empty()) continue;
      Seen& item = seen[text::ItemKey(e->item())];
      if (*kind == Kind::kCategory) NoteCategory(*e, item);
      if (*kind != Kind::kAdd) continue;
      ++item.s.uses;
      if (TimeOf(*e) >= item.s.last) {
        item.s.name = e->item();
        item.s.count = e->count();
        item.s.last = TimeOf(*e);
      }
    }
    if (h.list == nullptr) continue;
    for (const ItemInfo& i : h.list->items) {
      Seen& item = seen[i.key];
      if (item.s.name.empty()) {
        item.s.name = i.name;
        item.s.count = i.wanted;
        item.s.last = i.changed_at;
      }
      if (!Shown(i.category).empty()) item.listed_category = Shown(i.category);
      if (h.list->id == adding_to && i.bought < i.wanted) there[i.key] = true;
    }
  }
  std::vector<std::tuple<int, Suggestion>> found;
  for (const auto& [key, item] : seen) {
    if (item.s.name.empty() || there.contains(key)) continue;
    const std::optional<int> rank = MatchRank(key, wanted);
    if (!rank) continue;
    Suggestion s = item.s;
    s.category = CategoryOf(key, item, remembered);
    found.emplace_back(*rank, std::move(s));
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    const auto& [ra, sa] = a;
    const auto& [rb, sb] = b;
    return std::tie(ra, sb.uses, sb.last, sa.name) <
           std::tie(rb, sa.uses, sa.last, sb.name);
  });
  std::vector<Suggestion> out;
  for (auto& [rank, s] : found) {
    if (out.size() == limit) break;
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Suggestion> BoughtBefore(const ListHistory& list,
                                     RememberedCategory remembered,
                                     size_t limit) {
  struct Trip {
    Seen seen;
    int64_t bought = 0;  // in the trip under way
  };
  std::map<std::string, Trip, std::less<>> trips;
  for (const v1::LogEvent* e : list.events) {
    const std::optional<Kind> kind = crdt::KindFromName(e->kind());
    if (!kind || e->item().empty()) continue;
    Trip& t = trips[text::ItemKey(e->item())];
    switch (*kind) {
      case Kind::kBuy:
        t.bought += e->count();
        ++t.seen.s.uses;
        t.seen.s.name = e->item();
        t.seen.s.last = TimeOf(*e);
        break;
      case Kind::kUnbuy:
        t.bought = std::max<int64_t>(0, t.bought - e->count());
        break;
      case Kind::kTakeOff:
        if (t.bought > 0) t.seen.s.count = t.bought;
        t.bought = 0;
        break;
      case Kind::kCategory:
        NoteCategory(*e, t.seen);
        break;
      default:
        break;
    }
  }
  std::map<std::string, bool, std::less<>> on_list;
  if (list.list != nullptr) {
    for (const ItemInfo& i : list.list->items) on_list[i.key] = true;
  }
  std::vector<Suggestion> out;
  for (auto& [key, t] : trips) {
    // Bought and still there: the list shows it already.
    if (on_list.contains(key) || t.seen.s.count == 0) continue;
    Suggestion s = t.seen.s;
    s.category = CategoryOf(key, t.seen, remembered);
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(b.last, a.name) < std::tie(a.last, b.name);
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace shoplist::client
