#include "crdt/list_diff.h"

#include <utility>

#include "absl/strings/str_join.h"

namespace shoplist::crdt {
namespace {

bool SameForPeople(const ItemView& a, const ItemView& b) {
  return a.visible == b.visible &&
         (!a.visible || (a.wanted == b.wanted && a.bought == b.bought &&
                         a.note == b.note && a.category == b.category));
}

}  // namespace

ListDiff Diff(const ListState& before, const ListState& after,
              const ListState& delta) {
  ListDiff diff;
  if (after.deleted()) return diff;
  const std::string title_before =
      before.title() ? before.title()->value : std::string();
  diff.title_after = after.title() ? after.title()->value : std::string();
  if (before.title() != after.title() && after.title() &&
      title_before != diff.title_after) {
    diff.title_before = title_before;
    diff.title_by = after.title()->dot.replica;
    diff.title_at_micros = after.title()->timestamp_micros;
  }
  diff.aisles_after = after.Aisles();
  if (std::vector<std::string> was = before.Aisles();
      was != diff.aisles_after) {
    diff.aisles_before = std::move(was);
    diff.aisles_by = after.aisles().dot.replica;
    diff.aisles_at_micros = after.aisles().timestamp_micros;
  }
  if (after.access().set() && before.access().value != after.access().value) {
    diff.access_changed = true;
    diff.access_by = after.access().dot.replica;
    diff.access_at_micros = after.access().timestamp_micros;
  }
  for (const auto& [key, unused] : delta.items()) {
    std::optional<ItemView> now = after.ItemAt(key);
    if (!now) continue;
    std::optional<ItemView> was = before.ItemAt(key);
    if (was ? SameForPeople(*was, *now) : !now->visible) continue;
    diff.items.push_back({std::move(was), *std::move(now)});
  }
  return diff;
}

std::vector<ListEvent> EventsOf(const ListDiff& diff, const ListState& after) {
  auto name_of = [&](ReplicaId r) {
    auto it = after.authors().find(r);
    return it == after.authors().end() ? std::string() : it->second.value;
  };
  std::vector<ListEvent> events;
  auto list_event = [&](ListEvent::Kind kind, std::string text, ReplicaId by,
                        uint64_t at) {
    events.push_back({kind, "", 0, std::move(text), by, name_of(by), at});
  };
  if (diff.title_before) {
    list_event(ListEvent::Kind::kRename, diff.title_after, diff.title_by,
               diff.title_at_micros);
  }
  if (diff.aisles_before) {
    list_event(ListEvent::Kind::kAisles, absl::StrJoin(diff.aisles_after, ", "),
               diff.aisles_by, diff.aisles_at_micros);
  }
  if (diff.access_changed) {
    list_event(ListEvent::Kind::kAccess, "", diff.access_by,
               diff.access_at_micros);
  }
  for (const ItemChange& change : diff.items) {
    const ItemView& a = change.after;
    auto item_event = [&](ListEvent::Kind kind, int64_t count,
                          std::string text = {}) {
      events.push_back({kind, a.name, count, std::move(text), a.changed_by,
                        a.changed_by_name, a.changed_at_micros});
    };
    const bool was_on = change.before && change.before->visible;
    if (!a.visible) {
      if (was_on) item_event(ListEvent::Kind::kTakeOff, 0);
      continue;
    }
    ItemView none;
    none.category = a.category;
    const ItemView& b = was_on ? *change.before : none;
    if (a.wanted > b.wanted || !was_on) {
      item_event(ListEvent::Kind::kAdd, a.wanted - b.wanted);
    } else if (a.wanted < b.wanted) {
      item_event(ListEvent::Kind::kRemove, b.wanted - a.wanted);
    }
    if (a.bought > b.bought) {
      item_event(ListEvent::Kind::kBuy, a.bought - b.bought);
    } else if (a.bought < b.bought) {
      item_event(ListEvent::Kind::kUnbuy, b.bought - a.bought);
    }
    if (a.note != b.note && (was_on || !a.note.empty())) {
      item_event(ListEvent::Kind::kNote, 0, a.note);
    }
    if (a.category != b.category) {
      item_event(ListEvent::Kind::kCategory, 0, a.category);
    }
  }
  return events;
}

namespace {
constexpr std::pair<ListEvent::Kind, const char*> kKindNames[] = {
    {ListEvent::Kind::kAdd, "add"},
    {ListEvent::Kind::kRemove, "remove"},
    {ListEvent::Kind::kTakeOff, "take_off"},
    {ListEvent::Kind::kBuy, "buy"},
    {ListEvent::Kind::kUnbuy, "unbuy"},
    {ListEvent::Kind::kNote, "note"},
    {ListEvent::Kind::kCategory, "category"},
    {ListEvent::Kind::kRename, "rename"},
    {ListEvent::Kind::kAisles, "aisles"},
    {ListEvent::Kind::kAccess, "access"},
};
}  // namespace

const char* KindName(ListEvent::Kind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) return name;
  }
  return "unknown";
}

std::optional<ListEvent::Kind> KindFromName(absl::string_view name) {
  for (const auto& [k, n] : kKindNames) {
    if (name == n) return k;
  }
  return std::nullopt;
}

}  // namespace shoplist::crdt
