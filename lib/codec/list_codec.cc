#include "codec/list_codec.h"

#include <algorithm>
#include <optional>
#include <string>
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
    for (const auto& [name, item] : state.items()) {
      for (const auto& [replica, e] : item.entries()) ids_.push_back(replica);
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
  crdt::ItemEntry e{pe.counter(), pe.wanted(), pe.bought(), 0, 0, 0};
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
    auto* t = out->mutable_title();
    t->set_value(title->value);
    t->set_timestamp_micros(title->timestamp_micros);
    t->set_replica(table.IndexOf(title->dot.replica));
    t->set_counter(title->dot.counter);
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
    }
  }
}

absl::StatusOr<crdt::ListState> DecodeState(const v1::ListState& in) {
  if (in.deleted()) {
    if (in.has_title() || in.items_size() > 0 || in.has_context() ||
        in.replicas_size() > 0) {
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

  std::optional<crdt::Title> title;
  if (in.has_title()) {
    const auto& t = in.title();
    absl::StatusOr<crdt::ReplicaId> replica =
        Lookup(in.replicas(), t.replica());
    if (!replica.ok()) return replica.status();
    title =
        crdt::Title{t.value(), t.timestamp_micros(), {*replica, t.counter()}};
  }

  crdt::ListState::Items items;
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
    items.emplace_hint(items.end(), i.name(), std::move(item));
  }
  return crdt::ListState::FromParts(*std::move(context), std::move(title),
                                    std::move(items), false);
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
  }
}

}  // namespace shoplist::codec
