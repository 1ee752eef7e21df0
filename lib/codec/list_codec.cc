#include "codec/list_codec.h"

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "crdt/limits.h"

namespace shoplist::codec {
namespace {

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("list state: ", what));
}

// Replica ids are written once per state; entries refer to them by index.
class ReplicaTable {
 public:
  explicit ReplicaTable(const crdt::ListState& state) {
    if (state.title()) ids_.push_back(state.title()->dot.replica);
    if (state.aisles().set()) ids_.push_back(state.aisles().dot.replica);
    if (state.access().set()) ids_.push_back(state.access().dot.replica);
    for (const auto& [replica, reg] : state.authors()) ids_.push_back(replica);
    for (const auto& [name, item] : state.items()) {
      item.ForEachDot([&](crdt::Dot d) { ids_.push_back(d.replica); });
    }
    std::sort(ids_.begin(), ids_.end());
    ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
  }
  uint32_t IndexOf(crdt::ReplicaId id) const {
    return static_cast<uint32_t>(
        std::lower_bound(ids_.begin(), ids_.end(), id) - ids_.begin());
  }
  const std::vector<crdt::ReplicaId>& ids() const { return ids_; }

 private:
  std::vector<crdt::ReplicaId> ids_;
};

absl::StatusOr<crdt::ReplicaId> Lookup(
    const google::protobuf::RepeatedField<uint64_t>& replicas, uint32_t index) {
  if (index >= static_cast<uint32_t>(replicas.size())) {
    return Invalid(absl::StrCat("replica index ", index, " is out of range"));
  }
  return replicas.Get(static_cast<int>(index));
}

// Undoes the difference encoding of resets, refusing values whose
// arithmetic would overflow; the rest of the checks are Validate()'s.
absl::StatusOr<crdt::ItemEntry> DecodeEntry(const v1::ItemEntry& pe) {
  crdt::ItemEntry e{pe.counter(),         pe.wanted(), pe.bought(), 0, 0, 0,
                    pe.timestamp_micros()};
  if (!pe.has_reset_gap()) {
    if (pe.wanted_since_reset() != 0 || pe.bought_since_reset() != 0) {
      return absl::InvalidArgumentError("changes since a reset without one");
    }
    return e;
  }
  if (pe.reset_gap() >= pe.counter()) {
    return absl::InvalidArgumentError("a reset is not before its entry");
  }
  const int64_t limit = crdt::kMaxAbsQuantity;
  for (int64_t q : {pe.wanted(), pe.bought(), pe.wanted_since_reset(),
                    pe.bought_since_reset()}) {
    if (q > limit || q < -limit) {
      return absl::InvalidArgumentError(
          absl::StrCat("quantity ", q, " is out of range"));
    }
  }
  e.reset_counter = pe.counter() - pe.reset_gap();
  e.reset_wanted = pe.wanted() - pe.wanted_since_reset();
  e.reset_bought = pe.bought() - pe.bought_since_reset();
  return e;
}

void EncodeRegister(const crdt::Register& reg, const ReplicaTable& table,
                    v1::Register* out) {
  out->set_value(reg.value);
  out->set_timestamp_micros(reg.timestamp_micros);
  out->set_replica(table.IndexOf(reg.dot.replica));
  out->set_counter(reg.dot.counter);
}

absl::StatusOr<crdt::Register> DecodeRegister(
    const v1::Register& in,
    const google::protobuf::RepeatedField<uint64_t>& replicas) {
  absl::StatusOr<crdt::ReplicaId> replica = Lookup(replicas, in.replica());
  if (!replica.ok()) return replica.status();
  if (in.counter() == 0) {
    return absl::InvalidArgumentError("a register without a dot");
  }
  return crdt::Register{
      in.value(), in.timestamp_micros(), {*replica, in.counter()}};
}

}  // namespace

void EncodeContext(const crdt::CausalContext& context, v1::CausalContext* out) {
  out->Clear();
  for (const auto& [replica, counter] : context.vector()) {
    auto* e = out->add_vector();
    e->set_replica(replica);
    e->set_counter(counter);
  }
  for (const crdt::Dot& dot : context.cloud()) {
    auto* d = out->add_cloud();
    d->set_replica(dot.replica);
    d->set_counter(dot.counter);
  }
}

absl::StatusOr<crdt::CausalContext> DecodeContext(const v1::CausalContext& in) {
  if (static_cast<size_t>(in.vector_size()) > crdt::kMaxReplicas ||
      static_cast<size_t>(in.cloud_size()) > crdt::kMaxReplicas) {
    return absl::InvalidArgumentError("causal context is too large");
  }
  crdt::CausalContext::Vector vector;
  for (const auto& e : in.vector()) {
    if (!vector.emplace(e.replica(), e.counter()).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "causal context: replica ", e.replica(), " appears twice"));
    }
  }
  crdt::CausalContext::Cloud cloud;
  for (const auto& d : in.cloud()) cloud.insert({d.replica(), d.counter()});
  return crdt::CausalContext::FromParts(std::move(vector), std::move(cloud));
}

void EncodeState(const crdt::ListState& state, v1::ListState* out) {
  out->Clear();
  if (state.deleted()) {
    out->set_deleted(true);
    return;
  }
  ReplicaTable table(state);
  out->mutable_replicas()->Assign(table.ids().begin(), table.ids().end());
  EncodeContext(state.context(), out->mutable_context());
  if (const auto& title = state.title()) {
    EncodeRegister(*title, table, out->mutable_title());
  }
  if (state.access().set()) {
    EncodeRegister(state.access(), table, out->mutable_access());
  }
  if (state.aisles().set()) {
    EncodeRegister(state.aisles(), table, out->mutable_aisles());
  }
  for (const auto& [replica, reg] : state.authors()) {
    EncodeRegister(reg, table, out->add_authors());
  }
  out->mutable_items()->Reserve(static_cast<int>(state.items().size()));
  for (const auto& [name, item] : state.items()) {
    auto* i = out->add_items();
    i->set_name(name);
    for (const auto& [replica, e] : item.entries()) {
      auto* pe = i->add_entries();
      pe->set_replica(table.IndexOf(replica));
      pe->set_counter(e.counter);
      pe->set_wanted(e.wanted);
      pe->set_bought(e.bought);
      if (e.reset_counter != 0) {
        pe->set_reset_gap(e.counter - e.reset_counter);
        pe->set_wanted_since_reset(e.wanted - e.reset_wanted);
        pe->set_bought_since_reset(e.bought - e.reset_bought);
      }
      pe->set_timestamp_micros(e.timestamp_micros);
    }
    if (item.display().set()) {
      EncodeRegister(item.display(), table, i->mutable_display());
      // A name typed as its key costs no second copy.
      if (item.display().value == name) i->mutable_display()->clear_value();
    }
    if (item.note().set()) {
      EncodeRegister(item.note(), table, i->mutable_note());
    }
    if (item.category().set()) {
      EncodeRegister(item.category(), table, i->mutable_category());
    }
  }
}

absl::StatusOr<crdt::Register> DecodeAccess(const v1::ListStateAccess& in) {
  if (!in.has_access()) return crdt::Register();
  absl::StatusOr<crdt::Register> access =
      DecodeRegister(in.access(), in.replicas());
  if (!access.ok()) {
    return Invalid(absl::StrCat("access: ", access.status().message()));
  }
  return access;
}

absl::StatusOr<crdt::ListState> DecodeState(const v1::ListState& in) {
  if (in.deleted()) {
    if (in.has_title() || in.items_size() > 0 || in.has_context() ||
        in.replicas_size() > 0 || in.has_aisles() || in.authors_size() > 0 ||
        in.has_access()) {
      return Invalid("a deleted list carries no title, items or context");
    }
    return crdt::ListState::Tombstone();
  }
  if (static_cast<size_t>(in.replicas_size()) > crdt::kMaxReplicas) {
    return Invalid("too many replicas");
  }
  {
    std::vector<uint64_t> ids(in.replicas().begin(), in.replicas().end());
    std::sort(ids.begin(), ids.end());
    if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
      return Invalid("a replica id appears twice");
    }
  }
  if (static_cast<size_t>(in.items_size()) > crdt::kMaxStoredItems) {
    return Invalid(absl::StrCat("it holds ", in.items_size(),
                                " items; the limit is ",
                                crdt::kMaxStoredItems));
  }
  absl::StatusOr<crdt::CausalContext> context = DecodeContext(in.context());
  if (!context.ok()) return context.status();

  crdt::ListState::Parts parts;
  parts.context = *std::move(context);
  if (in.has_title()) {
    absl::StatusOr<crdt::Register> title =
        DecodeRegister(in.title(), in.replicas());
    if (!title.ok())
      return Invalid(absl::StrCat("title: ", title.status().message()));
    parts.title = *std::move(title);
  }
  if (in.has_access()) {
    absl::StatusOr<crdt::Register> access =
        DecodeRegister(in.access(), in.replicas());
    if (!access.ok()) {
      return Invalid(absl::StrCat("access: ", access.status().message()));
    }
    parts.access = *std::move(access);
  }
  if (in.has_aisles()) {
    absl::StatusOr<crdt::Register> aisles =
        DecodeRegister(in.aisles(), in.replicas());
    if (!aisles.ok()) {
      return Invalid(absl::StrCat("aisles: ", aisles.status().message()));
    }
    parts.aisles = *std::move(aisles);
  }
  if (static_cast<size_t>(in.authors_size()) > crdt::kMaxReplicas) {
    return Invalid("too many authors");
  }
  for (const auto& a : in.authors()) {
    absl::StatusOr<crdt::Register> author = DecodeRegister(a, in.replicas());
    if (!author.ok()) {
      return Invalid(absl::StrCat("author: ", author.status().message()));
    }
    if (!parts.authors.emplace(author->dot.replica, *author).second) {
      return Invalid("an author is named twice");
    }
  }

  crdt::ListState::Items& items = parts.items;
  const std::string* previous = nullptr;
  for (const auto& i : in.items()) {
    if (previous != nullptr && !(*previous < i.name())) {
      return Invalid(absl::StrCat("items are not sorted or '", i.name(),
                                  "' appears twice"));
    }
    previous = &i.name();
    crdt::Item item;
    for (const auto& pe : i.entries()) {
      absl::StatusOr<crdt::ReplicaId> replica =
          Lookup(in.replicas(), pe.replica());
      if (!replica.ok()) return replica.status();
      if (item.Find(*replica) != nullptr) {
        return Invalid(absl::StrCat("item '", i.name(),
                                    "' has two entries of one replica"));
      }
      absl::StatusOr<crdt::ItemEntry> entry = DecodeEntry(pe);
      if (!entry.ok()) {
        return Invalid(
            absl::StrCat("item '", i.name(), "': ", entry.status().message()));
      }
      item.FindOrAdd(*replica) = *entry;
    }
    for (const auto& [present, from, into] :
         {std::tuple{i.has_display(), &i.display(),
                     &crdt::Item::mutable_display},
          std::tuple{i.has_note(), &i.note(), &crdt::Item::mutable_note},
          std::tuple{i.has_category(), &i.category(),
                     &crdt::Item::mutable_category}}) {
      if (!present) continue;
      absl::StatusOr<crdt::Register> reg = DecodeRegister(*from, in.replicas());
      if (!reg.ok()) {
        return Invalid(
            absl::StrCat("item '", i.name(), "': ", reg.status().message()));
      }
      (item.*into)() = *std::move(reg);
    }
    if (item.display().set() && item.display().value.empty()) {
      item.mutable_display().value = i.name();
    }
    items.emplace_hint(items.end(), i.name(), std::move(item));
  }
  return crdt::ListState::FromParts(std::move(parts));
}

void EncodeView(const crdt::ListView& view, v1::ListView* out) {
  out->Clear();
  out->set_title(view.title);
  out->set_deleted(view.deleted);
  for (const auto& item : view.items) {
    auto* i = out->add_items();
    i->set_name(item.name);
    i->set_wanted(item.wanted);
    i->set_bought(item.bought);
    i->set_note(item.note);
    i->set_category(item.category);
    i->set_changed_by(item.changed_by_name);
    i->set_changed_at_micros(item.changed_at_micros);
  }
  for (const std::string& aisle : view.aisles) out->add_aisles(aisle);
}

}  // namespace shoplist::codec
