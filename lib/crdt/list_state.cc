#include "crdt/list_state.h"

#include <algorithm>
#include <tuple>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "crdt/limits.h"
#include "crdt/utf8.h"
#include "text/text.h"

namespace shoplist::crdt {
namespace {

// Entries of one writer are totally ordered by counter; the tuple order
// keeps the join deterministic even for malformed equal-counter pairs.
void JoinEntry(ItemEntry& into, const ItemEntry& from) {
  if (std::tie(from.counter, from.timestamp_micros, from.wanted, from.bought) >
      std::tie(into.counter, into.timestamp_micros, into.wanted, into.bought)) {
    into.counter = from.counter;
    into.timestamp_micros = from.timestamp_micros;
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

bool RegisterBefore(const Register& a, const Register& b) {
  return std::tie(a.timestamp_micros, a.dot, a.value) <
         std::tie(b.timestamp_micros, b.dot, b.value);
}

// Every entry as observed now becomes its writer's reset: the item is off
// the list until someone changes it after what this replica saw.
void ResetObserved(Item& item) {
  for (const auto& [r, e] : item.entries()) {
    ItemEntry observed = e;
    observed.reset_counter = e.counter;
    observed.reset_wanted = e.wanted;
    observed.reset_bought = e.bought;
    JoinEntry(*item.Find(r), observed);
  }
}

bool IsAccessRecord(absl::string_view value) {
  return value.size() == kAccessChars &&
         std::all_of(value.begin(), value.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// `item` names the item the register belongs to, if any (messages are
// built only on failure: Validate runs on every decoded state).
absl::Status ValidateRegisterDot(const Register& reg,
                                 const CausalContext& context,
                                 absl::string_view what,
                                 absl::string_view item = {}) {
  auto error = [&](absl::string_view problem) {
    return absl::InvalidArgumentError(
        item.empty() ? absl::StrCat(what, problem)
                     : absl::StrCat("item '", item, "': ", what, problem));
  };
  if (!reg.set()) {
    if (!reg.value.empty() || reg.timestamp_micros != 0) {
      return error(" has a value but no dot");
    }
    return absl::OkStatus();
  }
  if (!context.Contains(reg.dot)) {
    return error("'s dot is outside the context");
  }
  return absl::OkStatus();
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

absl::Status ValidateNote(absl::string_view note) {
  if (note.size() > kMaxNoteBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "note is ", note.size(), " bytes; the limit is ", kMaxNoteBytes));
  }
  if (!IsValidUtf8(note)) {
    return absl::InvalidArgumentError("note is not valid UTF-8");
  }
  return absl::OkStatus();
}

void Register::Join(const Register& other) {
  if (other.set() && (!set() || RegisterBefore(*this, other))) *this = other;
}

namespace {
// Buy and Unbuy take 0 for "all of them".
absl::Status ValidateCountOrAll(int64_t count) {
  return count == 0 ? absl::OkStatus() : ValidateCount(count, "count");
}
}  // namespace

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

Item::Item(const Item& other)
    : entries_(other.entries_),
      registers_(other.registers_ == nullptr
                     ? nullptr
                     : std::make_unique<RegisterSet>(*other.registers_)) {}

Item& Item::operator=(const Item& other) {
  if (this != &other) *this = Item(other);
  return *this;
}

const Register& Item::display() const {
  static const Register* const unset = new Register();
  return registers_ == nullptr ? *unset : registers_->display;
}
const Register& Item::note() const {
  return registers_ == nullptr ? display() : registers_->note;
}
const Register& Item::category() const {
  return registers_ == nullptr ? display() : registers_->category;
}

Item::RegisterSet& Item::Registers() {
  if (registers_ == nullptr) registers_ = std::make_unique<RegisterSet>();
  return *registers_;
}

std::pair<ReplicaId, uint64_t> Item::LastChange() const {
  std::pair<uint64_t, ReplicaId> last{0, 0};
  for (const auto& [r, e] : entries_) {
    last = std::max(last, {e.timestamp_micros, r});
  }
  for (const Register* reg : {&display(), &note(), &category()}) {
    if (reg->set())
      last = std::max(last, {reg->timestamp_micros, reg->dot.replica});
  }
  return {last.second, last.first};
}

void Item::Merge(const Item& other) {
  if (other.registers_ != nullptr) {
    RegisterSet& mine = Registers();
    mine.display.Join(other.registers_->display);
    mine.note.Join(other.registers_->note);
    mine.category.Join(other.registers_->category);
  }
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

absl::StatusOr<ListState> ListState::FromParts(Parts parts) {
  ListState state;
  state.context_ = std::move(parts.context);
  state.title_ = std::move(parts.title);
  state.items_ = std::move(parts.items);
  state.aisles_ = std::move(parts.aisles);
  state.authors_ = std::move(parts.authors);
  state.access_ = std::move(parts.access);
  state.deleted_ = parts.deleted;
  for (const auto& [key, item] : state.items_) {
    if (!text::IsItemKey(key)) {
      state.legacy_keys_.maybe = true;
      break;
    }
  }
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
    if (title_ || !items_.empty() || !context_.empty() || aisles_.set() ||
        !authors_.empty() || access_.set()) {
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
  if (absl::Status s = ValidateRegisterDot(aisles_, context_, "aisle order");
      !s.ok()) {
    return s;
  }
  if (aisles_.value.size() > kMaxAisles * (kMaxNameBytes + 1) ||
      !IsValidUtf8(aisles_.value)) {
    return absl::InvalidArgumentError("aisle order is too long or not UTF-8");
  }
  if (absl::Status s = ValidateRegisterDot(access_, context_, "access record");
      !s.ok()) {
    return s;
  }
  if (access_.set() ? !IsAccessRecord(access_.value) : !access_.value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an access record holds ", kAccessChars, " lowercase hex digits"));
  }
  if (authors_.size() > kMaxReplicas) {
    return absl::InvalidArgumentError("too many author names");
  }
  for (const auto& [replica, reg] : authors_) {
    if (!reg.set() || reg.dot.replica != replica) {
      return absl::InvalidArgumentError(
          "an author's name was not written by that author");
    }
    if (absl::Status s = ValidateRegisterDot(reg, context_, "author name");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ValidateName(reg.value, "author name", true);
        !s.ok()) {
      return s;
    }
  }
  for (const auto& [name, item] : items_) {
    if (absl::Status s = ValidateName(name, "item name"); !s.ok()) return s;
    for (const auto& [reg, what] : {std::pair{&item.display(), "display name"},
                                    std::pair{&item.note(), "note"},
                                    std::pair{&item.category(), "category"}}) {
      if (absl::Status s = ValidateRegisterDot(*reg, context_, what, name);
          !s.ok()) {
        return s;
      }
    }
    if (item.display().set()) {
      if (absl::Status s = ValidateName(item.display().value, "display name");
          !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = ValidateNote(item.note().value); !s.ok()) return s;
    if (absl::Status s = ValidateName(item.category().value, "category", true);
        !s.ok()) {
      return s;
    }
    if (item.entries().empty() && !item.display().set() && !item.note().set() &&
        !item.category().set()) {
      return absl::InvalidArgumentError(
          absl::StrCat("item '", name, "' has no entries or registers"));
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
  // Every local change makes a dot first: the one place to drop the index.
  dot_index_.dots.reset();
  Dot dot = context_.Next(writer.replica);
  dot.counter = std::max(dot.counter, writer.reserved_counter);
  context_.Add(dot);
  return dot;
}

void ListState::WriteRegister(const Writer& writer, Dot dot, Register& reg,
                              absl::string_view value) {
  uint64_t timestamp = writer.now_micros;
  // Order after the value this writer saw, even if its clock is behind.
  if (reg.set() && reg.timestamp_micros >= timestamp) {
    timestamp = reg.timestamp_micros + 1;
  }
  reg = Register{std::string(value), timestamp, dot};
}

void ListState::RecordAuthor(const Writer& writer, ListState& delta) {
  if (writer.name.empty()) return;
  auto it = authors_.find(writer.replica);
  if (it != authors_.end() && it->second.value == writer.name) return;
  Register reg = it == authors_.end() ? Register{} : it->second;
  WriteRegister(writer, NewDot(writer), reg, writer.name);
  authors_[writer.replica] = reg;
  delta.authors_[writer.replica] = reg;
  delta.context_.Add(reg.dot);
}

absl::StatusOr<ListState::Items::iterator> ListState::FindVisible(
    absl::string_view name) {
  auto it = items_.find(KeyOf(name));
  if (it == items_.end() || !it->second.Visible()) {
    return absl::NotFoundError(
        absl::StrCat("no item '", name, "' on the list"));
  }
  return it;
}

template <typename Change>
ListState ListState::ChangeItem(const Writer& writer, const std::string& key,
                                Change change) {
  Dot dot = NewDot(writer);
  auto it = items_.find(key);
  if (it == items_.end()) it = items_.emplace(key, Item{}).first;
  Item& item = it->second;
  if (change(item, dot)) {
    ItemEntry& entry = item.FindOrAdd(writer.replica);
    entry.counter = dot.counter;
    entry.timestamp_micros = writer.now_micros;
  }

  // The delta holds the whole item, so the removals it has seen travel
  // with every later change, and names every dot it reflects.
  ListState delta;
  item.ForEachDot([&](Dot d) { delta.context_.Add(d); });
  delta.items_.emplace(it->first, item);
  RecordAuthor(writer, delta);
  return delta;
}

ListState ListState::ChangeRegister(const Writer& writer,
                                    const std::string& key,
                                    Register& (Item::*field)(),
                                    absl::string_view value) {
  const Dot dot = NewDot(writer);
  Item& item = items_.find(key)->second;
  Register& reg = (item.*field)();
  WriteRegister(writer, dot, reg, value);
  // Registers do not interact with removals: the delta is the register
  // alone, not the whole item.
  ListState delta;
  Item part;
  (part.*field)() = reg;
  delta.context_.Add(dot);
  delta.items_.emplace(key, std::move(part));
  RecordAuthor(writer, delta);
  return delta;
}

absl::StatusOr<ListState> ListState::SetTitle(Writer writer,
                                              absl::string_view title,
                                              uint64_t now_micros) {
  if (absl::Status s = ValidateName(title, "title", true); !s.ok()) return s;
  const Dot dot = NewDot(writer);
  writer.now_micros = now_micros;
  Register reg = title_.value_or(Register{});
  WriteRegister(writer, dot, reg, title);
  title_ = reg;
  ListState delta;
  delta.context_.Add(reg.dot);
  delta.title_ = title_;
  RecordAuthor(writer, delta);
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
                                         int64_t count,
                                         absl::string_view category) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (absl::Status s = ValidateName(name, "item name"); !s.ok()) return s;
  if (absl::Status s = ValidateCount(count, "count"); !s.ok()) return s;
  if (absl::Status s = ValidateName(category, "category", true); !s.ok()) {
    return s;
  }
  const std::string key = KeyOf(name);
  auto it = items_.find(key);
  bool visible = it != items_.end() && it->second.Visible();
  // Counting the visible items walks the list: only a list that has
  // recorded kMaxItems names can be full.
  if (!visible && items_.size() >= kMaxItems && VisibleItems() >= kMaxItems) {
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
  return ChangeItem(writer, key, [&](Item& item, Dot dot) {
    item.FindOrAdd(writer.replica).wanted += more;
    const std::string& shown =
        item.display().set() ? item.display().value : key;
    if (shown != name) WriteRegister(writer, dot, item.mutable_display(), name);
    if (!category.empty() &&
        (!item.category().set() || item.category().value.empty())) {
      WriteRegister(writer, dot, item.mutable_category(), category);
    }
    return true;
  });
}

absl::StatusOr<ListState> ListState::Remove(Writer writer,
                                            absl::string_view name,
                                            int64_t count,
                                            bool take_off_when_none) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (absl::Status s = ValidateCount(count, "count"); !s.ok()) return s;
  absl::StatusOr<Items::iterator> it = FindVisible(name);
  if (!it.ok()) return it.status();
  const Item& item = (*it)->second;
  const int64_t wanted = ClampToZero(item.Wanted());
  const int64_t removable = std::min(count, wanted);
  const bool take_off = take_off_when_none && wanted - removable == 0 &&
                        ClampToZero(item.Bought()) == 0;
  if (removable == 0 && !take_off) return ListState();
  if (absl::Status s = CheckEntryAfter(&item, writer.replica, -removable, 0);
      !s.ok()) {
    return s;
  }
  return ChangeItem(writer, (*it)->first, [&](Item& changed, Dot dot) {
    ItemEntry& entry = changed.FindOrAdd(writer.replica);
    entry.counter = dot.counter;
    entry.wanted -= removable;
    if (take_off) ResetObserved(changed);
    return true;
  });
}

absl::StatusOr<ListState> ListState::RemoveItem(Writer writer,
                                                absl::string_view name) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  absl::StatusOr<Items::iterator> it = FindVisible(name);
  if (!it.ok()) return it.status();
  return ChangeItem(writer, (*it)->first, [&](Item& item, Dot dot) {
    TakeOff(writer, dot, item);
    return false;
  });
}

void ListState::TakeOff(const Writer& writer, Dot dot, Item& item) {
  // This replica's own entry (with its new counter) is reset too.
  ItemEntry& entry = item.FindOrAdd(writer.replica);
  entry.counter = dot.counter;
  entry.timestamp_micros = writer.now_micros;
  ResetObserved(item);
  if (!item.note().value.empty()) {
    WriteRegister(writer, dot, item.mutable_note(), "");
  }
}

absl::StatusOr<ListState> ListState::Buy(Writer writer, absl::string_view name,
                                         int64_t count) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (absl::Status s = ValidateCountOrAll(count); !s.ok()) return s;
  absl::StatusOr<Items::iterator> it = FindVisible(name);
  if (!it.ok()) return it.status();
  const Item& item = (*it)->second;
  if (count == 0) {
    count = ClampToZero(item.Wanted()) - ClampToZero(item.Bought());
    if (count <= 0) return ListState();
  }
  const int64_t more = count + ClampToZero(-item.Bought());
  if (absl::Status s = CheckEntryAfter(&item, writer.replica, 0, more);
      !s.ok()) {
    return s;
  }
  return ChangeItem(writer, (*it)->first, [&](Item& changed, Dot) {
    changed.FindOrAdd(writer.replica).bought += more;
    return true;
  });
}

absl::StatusOr<ListState> ListState::Unbuy(Writer writer,
                                           absl::string_view name,
                                           int64_t count) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (absl::Status s = ValidateCountOrAll(count); !s.ok()) return s;
  absl::StatusOr<Items::iterator> it = FindVisible(name);
  if (!it.ok()) return it.status();
  const Item& item = (*it)->second;
  const int64_t bought = ClampToZero(item.Bought());
  const int64_t fewer = count == 0 ? bought : std::min(count, bought);
  if (fewer == 0) return ListState();
  if (absl::Status s = CheckEntryAfter(&item, writer.replica, 0, -fewer);
      !s.ok()) {
    return s;
  }
  return ChangeItem(writer, (*it)->first, [&](Item& changed, Dot) {
    changed.FindOrAdd(writer.replica).bought -= fewer;
    return true;
  });
}

absl::StatusOr<ListState> ListState::SetNote(Writer writer,
                                             absl::string_view name,
                                             absl::string_view note) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (absl::Status s = ValidateNote(note); !s.ok()) return s;
  absl::StatusOr<Items::iterator> it = FindVisible(name);
  if (!it.ok()) return it.status();
  if ((*it)->second.note().value == note) return ListState();
  return ChangeRegister(writer, (*it)->first, &Item::mutable_note, note);
}

absl::StatusOr<ListState> ListState::SetCategory(Writer writer,
                                                 absl::string_view name,
                                                 absl::string_view category) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (absl::Status s = ValidateName(category, "category", true); !s.ok()) {
    return s;
  }
  absl::StatusOr<Items::iterator> it = FindVisible(name);
  if (!it.ok()) return it.status();
  if ((*it)->second.category().value == category) return ListState();
  return ChangeRegister(writer, (*it)->first, &Item::mutable_category,
                        category);
}

absl::StatusOr<ListState> ListState::SetAisles(
    Writer writer, const std::vector<std::string>& aisles) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (aisles.size() > kMaxAisles) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an aisle order holds at most ", kMaxAisles, " categories"));
  }
  std::vector<std::string> keys;
  for (const std::string& aisle : aisles) {
    if (absl::Status s = ValidateName(aisle, "category"); !s.ok()) return s;
    if (aisle.find('\n') != std::string::npos) {
      return absl::InvalidArgumentError("a category holds no line break");
    }
    keys.push_back(text::ItemKey(aisle));
  }
  std::sort(keys.begin(), keys.end());
  if (auto dup = std::adjacent_find(keys.begin(), keys.end());
      dup != keys.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("category '", *dup, "' is in the order twice"));
  }
  const std::string joined = absl::StrJoin(aisles, "\n");
  if (aisles_.value == joined && (aisles_.set() || joined.empty())) {
    return ListState();
  }
  return ChangeListRegister(writer, &ListState::aisles_, joined);
}

absl::StatusOr<ListState> ListState::SetAccess(Writer writer,
                                               absl::string_view grants) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (!IsAccessRecord(grants)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an access record holds ", kAccessChars, " lowercase hex digits"));
  }
  return ChangeListRegister(writer, &ListState::access_, grants);
}

ListState ListState::ChangeListRegister(const Writer& writer,
                                        Register ListState::*field,
                                        absl::string_view value) {
  Register& reg = this->*field;
  WriteRegister(writer, NewDot(writer), reg, value);
  ListState delta;
  delta.context_.Add(reg.dot);
  delta.*field = reg;
  RecordAuthor(writer, delta);
  return delta;
}

std::vector<std::string> ListState::DoneKeys() const {
  std::vector<std::string> done;
  for (const auto& [key, item] : items_) {
    const int64_t wanted = ClampToZero(item.Wanted());
    if (item.Visible() && wanted > 0 && ClampToZero(item.Bought()) >= wanted) {
      done.push_back(key);
    }
  }
  return done;
}

absl::StatusOr<ListState> ListState::Clear(Writer writer) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  const std::vector<std::string> done = DoneKeys();
  ListState delta;
  // A dot of its own for each item: a dot names the change of one item, so
  // a replica that holds an item's entry at that dot holds all of its
  // change. A shared dot would let a delta of another cleared item carry
  // the dot without this one, and DeltaSince would then never send it.
  for (const std::string& key : done) {
    const Dot dot = NewDot(writer);
    Item& item = items_.find(key)->second;
    TakeOff(writer, dot, item);
    item.ForEachDot([&](Dot d) { delta.context_.Add(d); });
    delta.items_.emplace_hint(delta.items_.end(), key, item);
  }
  if (!done.empty()) RecordAuthor(writer, delta);
  return delta;
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
  if (other.title_ && (!title_ || RegisterBefore(*title_, *other.title_))) {
    title_ = other.title_;
  }
  aisles_.Join(other.aisles_);
  access_.Join(other.access_);
  for (const auto& [replica, reg] : other.authors_) {
    authors_[replica].Join(reg);
  }
  if (other.items_.size() * 8 < items_.size()) {
    // A small delta into a large state: O(d log n).
    DotIndex* dots = dot_index_.dots.get();
    for (const auto& [name, item] : other.items_) {
      auto [it, inserted] = items_.try_emplace(name, item);
      if (!inserted) {
        if (dots) dots->Remove(it->first, it->second);
        it->second.Merge(item);
      } else if (!legacy_keys_.maybe && !text::IsItemKey(name)) {
        legacy_keys_.maybe = true;
      }
      if (dots) dots->Add(it->first, it->second);
    }
    return;
  }
  // Comparable sizes: one linear pass over both sorted maps, costing what
  // rebuilding the index would.
  dot_index_.dots.reset();
  auto it = items_.begin();
  for (const auto& [name, item] : other.items_) {
    while (it != items_.end() && it->first < name) ++it;
    if (it != items_.end() && it->first == name) {
      it->second.Merge(item);
      ++it;
    } else {
      // Insertion invalidates btree iterators: continue from the new one.
      it = std::next(items_.emplace_hint(it, name, item));
      if (!legacy_keys_.maybe && !text::IsItemKey(name)) {
        legacy_keys_.maybe = true;
      }
    }
  }
}

ListState ListState::DeltaSince(const CausalContext& known) const {
  if (deleted_) return Tombstone();
  ListState delta;
  delta.context_ = context_;
  if (title_ && !known.Contains(title_->dot)) delta.title_ = title_;
  if (aisles_.set() && !known.Contains(aisles_.dot)) delta.aisles_ = aisles_;
  if (access_.set() && !known.Contains(access_.dot)) delta.access_ = access_;
  for (const auto& [replica, reg] : authors_) {
    if (!known.Contains(reg.dot)) delta.authors_.emplace(replica, reg);
  }
  if (const DotIndex* dots = dot_index_.dots.get()) {
    dots->ForEachUnknown(known, [&](const std::string& key) {
      if (!delta.items_.contains(key)) {
        delta.items_.emplace(key, items_.find(key)->second);
      }
    });
    return delta;
  }
  for (const auto& [name, item] : items_) {
    bool unknown = false;
    item.ForEachDot([&](Dot d) { unknown = unknown || !known.Contains(d); });
    if (unknown) delta.items_.emplace_hint(delta.items_.end(), name, item);
  }
  return delta;
}

namespace {

// Each dot of every item, with the item's key: (writer, counter, key).
// Legacy states may share a dot between items, so the key is part of it.
class DotSetIndex final : public ListState::DotIndex {
 public:
  void Add(const std::string& key, const Item& item) override {
    item.ForEachDot([&](Dot d) { dots_.emplace(d.replica, d.counter, key); });
  }
  void Remove(const std::string& key, const Item& item) override {
    item.ForEachDot([&](Dot d) { dots_.erase({d.replica, d.counter, key}); });
  }
  void ForEachUnknown(
      const CausalContext& known,
      const std::function<void(const std::string&)>& unknown) const override {
    // Only a dot past what `known` has of its writer can be unknown: for
    // each writer, from there on.
    auto it = dots_.begin();
    while (it != dots_.end()) {
      const ReplicaId writer = std::get<0>(*it);
      auto seen = known.vector().find(writer);
      const uint64_t from = seen == known.vector().end() ? 1 : seen->second + 1;
      for (it = dots_.lower_bound({writer, from, std::string()});
           it != dots_.end() && std::get<0>(*it) == writer; ++it) {
        const auto& [replica, counter, key] = *it;
        if (!known.Contains(Dot{replica, counter})) unknown(key);
      }
    }
  }

 private:
  absl::btree_set<std::tuple<ReplicaId, uint64_t, std::string>> dots_;
};

}  // namespace

void ListState::IndexDots() {
  auto dots = std::make_unique<DotSetIndex>();
  for (const auto& [key, item] : items_) dots->Add(key, item);
  dot_index_.dots = std::move(dots);
}

std::vector<std::string> ListState::Aisles() const {
  if (aisles_.value.empty()) return {};
  return absl::StrSplit(aisles_.value, '\n');
}

std::string ListState::KeyOf(absl::string_view name) const {
  std::string key = text::ItemKey(name);
  auto it = items_.find(key);
  if (!legacy_keys_.maybe || (it != items_.end() && it->second.Visible())) {
    return key;
  }
  // Keys stored before names were normalized: the visible one first.
  std::optional<std::string> legacy;
  for (const auto& [stored, item] : items_) {
    if (stored == key || text::ItemKey(stored) != key) continue;
    if (item.Visible()) return stored;
    if (!legacy && it == items_.end()) legacy = stored;
  }
  return legacy.value_or(key);
}

ItemView ListState::ViewOf(const std::string& key, const Item& item) const {
  ItemView v;
  v.key = key;
  v.name = item.display().set() ? item.display().value : key;
  v.wanted = ClampToZero(item.Wanted());
  v.bought = ClampToZero(item.Bought());
  v.note = item.note().value;
  v.category = item.category().value.empty() ? std::string(kDefaultCategory)
                                             : item.category().value;
  v.visible = item.Visible();
  std::tie(v.changed_by, v.changed_at_micros) = item.LastChange();
  if (auto a = authors_.find(v.changed_by); a != authors_.end()) {
    v.changed_by_name = a->second.value;
  }
  return v;
}

std::optional<ItemView> ListState::ItemViewOf(absl::string_view name) const {
  return ItemAt(KeyOf(name));
}

std::optional<ItemView> ListState::ItemAt(const std::string& key) const {
  auto it = items_.find(key);
  if (it == items_.end()) return std::nullopt;
  return ViewOf(key, it->second);
}

ListView ListState::View() const {
  ListView view;
  view.deleted = deleted_;
  if (title_) view.title = title_->value;
  view.aisles = Aisles();
  absl::flat_hash_map<std::string, size_t> aisle_rank;
  for (size_t i = 0; i < view.aisles.size(); ++i) {
    aisle_rank.emplace(text::ItemKey(view.aisles[i]), i);
  }
  const std::string other_key = text::ItemKey(kDefaultCategory);

  struct Group {
    size_t rank;
    std::string sort_key;
    std::string spelling;  // how the group's name is shown
  };
  absl::flat_hash_map<std::string, Group> groups;
  struct Row {
    ItemView view;
    const Group* group;
    std::string sort_key;
  };
  std::vector<Row> rows;
  for (const auto& [key, item] : items_) {
    if (!item.Visible()) continue;
    rows.push_back({ViewOf(key, item), nullptr, {}});
  }
  for (Row& row : rows) {
    const std::string group_key = text::ItemKey(row.view.category);
    auto [it, inserted] = groups.try_emplace(group_key);
    Group& g = it->second;
    if (inserted) {
      auto ranked = aisle_rank.find(group_key);
      if (ranked != aisle_rank.end()) {
        g.rank = ranked->second;
        g.spelling = view.aisles[ranked->second];
      } else {
        g.rank = view.aisles.size() + (group_key == other_key ? 1 : 0);
        g.spelling = row.view.category;
      }
    } else if (g.rank >= view.aisles.size() &&
               std::tie(row.view.category) < std::tie(g.spelling)) {
      // Unordered categories spelled two ways show one spelling.
      g.spelling = row.view.category;
    }
  }
  // One batch for every name shown: the WebAssembly build collates in
  // JavaScript, and one call there is cheaper than one per name.
  std::vector<absl::string_view> names;
  names.reserve(rows.size() + groups.size());
  for (const Row& row : rows) names.push_back(row.view.name);
  for (const auto& [key, g] : groups) names.push_back(g.spelling);
  std::vector<std::string> sort_keys = text::SortKeys(names);
  auto next_key = sort_keys.begin();
  for (Row& row : rows) row.sort_key = std::move(*next_key++);
  for (auto& [key, g] : groups) g.sort_key = std::move(*next_key++);
  for (Row& row : rows) {
    row.group = &groups.find(text::ItemKey(row.view.category))->second;
    row.view.category = row.group->spelling;
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::forward_as_tuple(a.view.done(), a.group->rank,
                                 a.group->sort_key, a.sort_key, a.view.key) <
           std::forward_as_tuple(b.view.done(), b.group->rank,
                                 b.group->sort_key, b.sort_key, b.view.key);
  });
  view.items.reserve(rows.size());
  for (Row& row : rows) view.items.push_back(std::move(row.view));
  return view;
}

size_t ListState::VisibleItems() const {
  size_t n = 0;
  for (const auto& [name, item] : items_) n += item.Visible() ? 1 : 0;
  return n;
}

}  // namespace shoplist::crdt
