#include "crdt/list_state.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "crdt/limits.h"
#include "crdt/utf8.h"

namespace shoplist::crdt {
namespace {

// Entries of one writer are totally ordered by counter; the tuple order
// keeps the join deterministic even for malformed equal-counter pairs.
void JoinEntry(ItemEntry& into, const ItemEntry& from) {
  if (std::tie(from.counter, from.wanted, from.bought) >
      std::tie(into.counter, into.wanted, into.bought)) {
    into.counter = from.counter;
    into.wanted = from.wanted;
    into.bought = from.bought;
  }
  if (std::tie(from.reset_counter, from.reset_wanted, from.reset_bought) >
      std::tie(into.reset_counter, into.reset_wanted, into.reset_bought)) {
    into.reset_counter = from.reset_counter;
    into.reset_wanted = from.reset_wanted;
    into.reset_bought = from.reset_bought;
  }
}

bool TitleBefore(const Title& a, const Title& b) {
  return std::tie(a.timestamp_micros, a.dot, a.value) <
         std::tie(b.timestamp_micros, b.dot, b.value);
}

int64_t ClampToZero(int64_t v) { return v < 0 ? 0 : v; }

// A change must leave its writer's entry within kMaxAbsQuantity, or every
// replica would refuse the delta (Validate). Sums cannot overflow: entries
// are bounded by 2^40 and counts by 10^6.
absl::Status CheckEntryAfter(const Item* item, ReplicaId replica,
                             int64_t more_wanted, int64_t more_bought) {
  const ItemEntry* e = item == nullptr ? nullptr : item->Find(replica);
  const int64_t wanted = (e == nullptr ? 0 : e->wanted) + more_wanted;
  const int64_t bought = (e == nullptr ? 0 : e->bought) + more_bought;
  for (int64_t q : {wanted, bought}) {
    if (q > kMaxAbsQuantity || q < -kMaxAbsQuantity) {
      return absl::OutOfRangeError(
          "this change would take the item's quantities out of range");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateName(absl::string_view name, absl::string_view what,
                          bool allow_empty) {
  if (name.empty() && !allow_empty) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  }
  if (name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " is ", name.size(), " bytes; the limit is ", kMaxNameBytes));
  }
  if (!IsValidUtf8(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not valid UTF-8"));
  }
  return absl::OkStatus();
}

absl::Status ValidateCount(int64_t count, absl::string_view what) {
  if (count < 1 || count > kMaxOperationCount) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " must be between 1 and ", kMaxOperationCount, ", got ", count));
  }
  return absl::OkStatus();
}

// --- Item ---

int64_t Item::Wanted() const {
  int64_t sum = 0;
  for (const auto& [replica, e] : entries_) sum += e.wanted - e.reset_wanted;
  return sum;
}

int64_t Item::Bought() const {
  int64_t sum = 0;
  for (const auto& [replica, e] : entries_) sum += e.bought - e.reset_bought;
  return sum;
}

bool Item::Visible() const {
  for (const auto& [replica, e] : entries_) {
    if (e.Live()) return true;
  }
  return false;
}

ItemEntry* Item::Find(ReplicaId replica) {
  auto it = std::lower_bound(
      entries_.begin(), entries_.end(), replica,
      [](const auto& entry, ReplicaId r) { return entry.first < r; });
  return it != entries_.end() && it->first == replica ? &it->second : nullptr;
}

const ItemEntry* Item::Find(ReplicaId replica) const {
  return const_cast<Item*>(this)->Find(replica);
}

ItemEntry& Item::FindOrAdd(ReplicaId replica) {
  auto it = std::lower_bound(
      entries_.begin(), entries_.end(), replica,
      [](const auto& entry, ReplicaId r) { return entry.first < r; });
  if (it == entries_.end() || it->first != replica) {
    it = entries_.insert(it, {replica, ItemEntry{}});
  }
  return it->second;
}

void Item::Merge(const Item& other) {
  auto it = entries_.begin();
  for (const auto& [replica, entry] : other.entries_) {
    while (it != entries_.end() && it->first < replica) ++it;
    if (it != entries_.end() && it->first == replica) {
      JoinEntry(it->second, entry);
    } else {
      it = entries_.insert(it, {replica, entry});
    }
    ++it;
  }
}

// --- ListState: construction and validation ---

absl::StatusOr<ListState> ListState::FromParts(CausalContext context,
                                               std::optional<Title> title,
                                               Items items, bool deleted) {
  ListState state;
  state.context_ = std::move(context);
  state.title_ = std::move(title);
  state.items_ = std::move(items);
  state.deleted_ = deleted;
  if (absl::Status s = state.Validate(); !s.ok()) return s;
  return state;
}

ListState ListState::Tombstone() {
  ListState state;
  state.deleted_ = true;
  return state;
}

absl::Status ListState::Validate() const {
  if (deleted_) {
    if (title_ || !items_.empty() || !context_.empty()) {
      return absl::InvalidArgumentError(
          "a deleted list carries no title, items or context");
    }
    return absl::OkStatus();
  }
  if (items_.size() > kMaxStoredItems) {
    return absl::InvalidArgumentError(absl::StrCat("list holds ", items_.size(),
                                                   " items; the limit is ",
                                                   kMaxStoredItems));
  }
  if (title_) {
    if (absl::Status s = ValidateName(title_->value, "title", true); !s.ok()) {
      return s;
    }
    if (title_->dot.counter == 0 || !context_.Contains(title_->dot)) {
      return absl::InvalidArgumentError("title's dot is outside the context");
    }
  }
  for (const auto& [name, item] : items_) {
    if (absl::Status s = ValidateName(name, "item name"); !s.ok()) return s;
    if (item.entries().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("item '", name, "' has no entries"));
    }
    for (const auto& [replica, e] : item.entries()) {
      if (e.counter == 0 || !context_.Contains(Dot{replica, e.counter})) {
        return absl::InvalidArgumentError(absl::StrCat(
            "item '", name, "': an entry's dot is outside the context"));
      }
      if (e.reset_counter > e.counter) {
        return absl::InvalidArgumentError(
            absl::StrCat("item '", name, "': a reset is ahead of its entry"));
      }
      if (e.reset_counter == 0 &&
          (e.reset_wanted != 0 || e.reset_bought != 0)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "item '", name, "': reset quantities without a reset"));
      }
      for (int64_t q : {e.wanted, e.bought, e.reset_wanted, e.reset_bought}) {
        if (q > kMaxAbsQuantity || q < -kMaxAbsQuantity) {
          return absl::InvalidArgumentError(absl::StrCat(
              "item '", name, "': quantity ", q, " is out of range"));
        }
      }
    }
  }
  return absl::OkStatus();
}

// --- Mutations ---

absl::Status ListState::CheckWritable() const {
  if (deleted_) return absl::FailedPreconditionError("the list was deleted");
  return absl::OkStatus();
}

Dot ListState::NewDot(const Writer& writer) {
  Dot dot = context_.Next(writer.replica);
  dot.counter = std::max(dot.counter, writer.reserved_counter);
  context_.Add(dot);
  return dot;
}

template <typename Change>
ListState ListState::ChangeItem(Writer writer, absl::string_view name,
                                Change change) {
  const ReplicaId replica = writer.replica;
  Dot dot = NewDot(writer);
  auto it = items_.find(name);
  if (it == items_.end()) it = items_.emplace(std::string(name), Item{}).first;
  Item& item = it->second;
  ItemEntry& entry = item.FindOrAdd(replica);
  entry.counter = dot.counter;
  change(item, entry);

  // The delta holds the whole item, so the removals it has seen travel
  // with every later change, and names every dot it reflects.
  ListState delta;
  for (const auto& [r, e] : item.entries()) delta.context_.Add({r, e.counter});
  delta.items_.emplace(it->first, item);
  return delta;
}

absl::StatusOr<ListState> ListState::SetTitle(Writer writer,
                                              absl::string_view title,
                                              uint64_t now_micros) {
  if (absl::Status s = ValidateName(title, "title", true); !s.ok()) return s;
  Dot dot = NewDot(writer);
  uint64_t timestamp = now_micros;
  // Order after the title this writer saw, even if its clock is behind.
  if (title_ && title_->timestamp_micros >= timestamp) {
    timestamp = title_->timestamp_micros + 1;
  }
  title_ = Title{std::string(title), timestamp, dot};
  ListState delta;
  delta.context_.Add(dot);
  delta.title_ = title_;
  return delta;
}

absl::StatusOr<ListState> ListState::Create(Writer writer,
                                            absl::string_view title,
                                            uint64_t now_micros) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (title_) return absl::AlreadyExistsError("the list already exists");
  return SetTitle(writer, title, now_micros);
}

absl::StatusOr<ListState> ListState::Rename(Writer writer,
                                            absl::string_view title,
                                            uint64_t now_micros) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  return SetTitle(writer, title, now_micros);
}

absl::StatusOr<ListState> ListState::Add(Writer writer, absl::string_view name,
                                         int64_t count) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (absl::Status s = ValidateName(name, "item name"); !s.ok()) return s;
  if (absl::Status s = ValidateCount(count, "count"); !s.ok()) return s;
  auto it = items_.find(name);
  bool visible = it != items_.end() && it->second.Visible();
  if (!visible && VisibleItems() >= kMaxItems) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a list holds at most ", kMaxItems, " items"));
  }
  if (!visible && it == items_.end() && items_.size() >= kMaxStoredItems) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "this list has recorded ", kMaxStoredItems,
        " different item names; reuse a name or start a new list"));
  }
  // Add to what people see: a sum driven below zero by concurrent removals
  // shows as zero, and "add 1" must then show 1.
  const Item* current = it == items_.end() ? nullptr : &it->second;
  const int64_t more =
      count + (current == nullptr ? 0 : ClampToZero(-current->Wanted()));
  if (absl::Status s = CheckEntryAfter(current, writer.replica, more, 0);
      !s.ok()) {
    return s;
  }
  return ChangeItem(writer, name,
                    [more](Item&, ItemEntry& entry) { entry.wanted += more; });
}

absl::StatusOr<ListState> ListState::Remove(Writer writer,
                                            absl::string_view name,
                                            int64_t count) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (absl::Status s = ValidateCount(count, "count"); !s.ok()) return s;
  auto it = items_.find(name);
  if (it == items_.end() || !it->second.Visible()) {
    return absl::NotFoundError(
        absl::StrCat("no item '", name, "' on the list"));
  }
  int64_t removable = std::min(count, ClampToZero(it->second.Wanted()));
  if (removable == 0) return ListState();
  if (absl::Status s =
          CheckEntryAfter(&it->second, writer.replica, -removable, 0);
      !s.ok()) {
    return s;
  }
  return ChangeItem(writer, name, [removable](Item&, ItemEntry& entry) {
    entry.wanted -= removable;
  });
}

absl::StatusOr<ListState> ListState::RemoveItem(Writer writer,
                                                absl::string_view name) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  auto it = items_.find(name);
  if (it == items_.end() || !it->second.Visible()) {
    return absl::NotFoundError(
        absl::StrCat("no item '", name, "' on the list"));
  }
  return ChangeItem(writer, name, [](Item& item, ItemEntry&) {
    // Every entry as observed now becomes its writer's reset, this
    // replica's own (with its new counter) included.
    for (const auto& [r, e] : item.entries()) {
      ItemEntry observed = e;
      observed.reset_counter = e.counter;
      observed.reset_wanted = e.wanted;
      observed.reset_bought = e.bought;
      JoinEntry(*item.Find(r), observed);
    }
  });
}

absl::StatusOr<ListState> ListState::Buy(Writer writer, absl::string_view name,
                                         int64_t count) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (count != 0) {
    if (absl::Status s = ValidateCount(count, "count"); !s.ok()) return s;
  }
  auto it = items_.find(name);
  if (it == items_.end() || !it->second.Visible()) {
    return absl::NotFoundError(
        absl::StrCat("no item '", name, "' on the list"));
  }
  const Item& item = it->second;
  if (count == 0) {
    count = ClampToZero(item.Wanted()) - ClampToZero(item.Bought());
    if (count <= 0) return ListState();
  }
  const int64_t more = count + ClampToZero(-item.Bought());
  if (absl::Status s = CheckEntryAfter(&item, writer.replica, 0, more);
      !s.ok()) {
    return s;
  }
  return ChangeItem(writer, name,
                    [more](Item&, ItemEntry& entry) { entry.bought += more; });
}

ListState ListState::Delete() {
  *this = Tombstone();
  return Tombstone();
}

// --- Join and deltas ---

void ListState::Merge(const ListState& other) {
  if (deleted_) return;
  if (other.deleted_) {
    *this = Tombstone();
    return;
  }
  context_.Merge(other.context_);
  if (other.title_ && (!title_ || TitleBefore(*title_, *other.title_))) {
    title_ = other.title_;
  }
  if (other.items_.size() * 8 < items_.size()) {
    // A small delta into a large state: O(d log n).
    for (const auto& [name, item] : other.items_) {
      auto [it, inserted] = items_.try_emplace(name, item);
      if (!inserted) it->second.Merge(item);
    }
    return;
  }
  // Comparable sizes: one linear pass over both sorted maps.
  auto it = items_.begin();
  for (const auto& [name, item] : other.items_) {
    while (it != items_.end() && it->first < name) ++it;
    if (it != items_.end() && it->first == name) {
      it->second.Merge(item);
      ++it;
    } else {
      // Insertion invalidates btree iterators: continue from the new one.
      it = std::next(items_.emplace_hint(it, name, item));
    }
  }
}

ListState ListState::DeltaSince(const CausalContext& known) const {
  if (deleted_) return Tombstone();
  ListState delta;
  delta.context_ = context_;
  if (title_ && !known.Contains(title_->dot)) delta.title_ = title_;
  for (const auto& [name, item] : items_) {
    for (const auto& [replica, e] : item.entries()) {
      if (!known.Contains(Dot{replica, e.counter})) {
        delta.items_.emplace_hint(delta.items_.end(), name, item);
        break;
      }
    }
  }
  return delta;
}

ListView ListState::View() const {
  ListView view;
  view.deleted = deleted_;
  if (title_) view.title = title_->value;
  for (const auto& [name, item] : items_) {
    if (!item.Visible()) continue;
    view.items.push_back(
        {name, ClampToZero(item.Wanted()), ClampToZero(item.Bought())});
  }
  return view;
}

size_t ListState::VisibleItems() const {
  size_t n = 0;
  for (const auto& [name, item] : items_) n += item.Visible() ? 1 : 0;
  return n;
}

}  // namespace shoplist::crdt
