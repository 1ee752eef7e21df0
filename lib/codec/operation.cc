#include "codec/operation.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crdt/utf8.h"
#include "text/text.h"

namespace shoplist::codec {

absl::StatusOr<std::string> CleanName(absl::string_view typed,
                                      absl::string_view what) {
  // Refuse bytes that are not UTF-8 before cleaning would replace them.
  if (!crdt::IsValidUtf8(typed)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not valid UTF-8"));
  }
  std::string name = text::CleanSpace(typed);
  if (name.empty()) {
    return absl::InvalidArgumentError(
        typed.empty() ? absl::StrCat(what, " is empty")
                      : absl::StrCat(what, " is only blanks"));
  }
  if (absl::Status s = crdt::ValidateName(name, what); !s.ok()) return s;
  return name;
}

absl::StatusOr<std::string> CleanNote(absl::string_view typed) {
  if (absl::Status s = crdt::ValidateNote(typed); !s.ok()) return s;
  return text::TrimSpace(typed);
}

namespace {

// A category as typed: cleaned like a name; blank means the default.
absl::StatusOr<std::string> CleanCategory(absl::string_view typed) {
  if (text::TrimSpace(typed).empty()) return std::string();
  return CleanName(typed, "category");
}

}  // namespace

uint64_t DotsNeeded(const v1::Operation& operation,
                    const crdt::ListState& state) {
  if (!operation.has_clear_bought()) return 1;
  return std::max<uint64_t>(1, state.DoneKeys().size());
}

absl::StatusOr<crdt::ListState> ApplyOperation(const v1::Operation& operation,
                                               crdt::Writer writer,
                                               uint64_t now_micros,
                                               crdt::ListState& state) {
  writer.now_micros = now_micros;
  // Every kind but delete, aisles and clear names an item or a title;
  // clean it first.
  absl::string_view typed, what = "item name";
  switch (operation.kind_case()) {
    case v1::Operation::kCreate:
      typed = operation.create().title();
      what = "title";
      break;
    case v1::Operation::kRename:
      typed = operation.rename().title();
      what = "title";
      break;
    case v1::Operation::kAdd:
      typed = operation.add().item();
      break;
    case v1::Operation::kRemove:
      typed = operation.remove().item();
      break;
    case v1::Operation::kRemoveItem:
      typed = operation.remove_item().item();
      break;
    case v1::Operation::kBuy:
      typed = operation.buy().item();
      break;
    case v1::Operation::kUnbuy:
      typed = operation.unbuy().item();
      break;
    case v1::Operation::kNote:
      typed = operation.note().item();
      break;
    case v1::Operation::kCategory:
      typed = operation.category().item();
      break;
    case v1::Operation::kDelete:
      return state.Delete();
    case v1::Operation::kClearBought:
      return state.Clear(writer);
    case v1::Operation::kAisles: {
      std::vector<std::string> aisles;
      for (const std::string& a : operation.aisles().categories()) {
        absl::StatusOr<std::string> clean = CleanName(a, "category");
        if (!clean.ok()) return clean.status();
        aisles.push_back(*std::move(clean));
      }
      return state.SetAisles(writer, aisles);
    }
    case v1::Operation::KIND_NOT_SET:
      return absl::InvalidArgumentError(
          "operation: set one of create, add, remove, remove_item, buy, "
          "unbuy, note, category, aisles, clear_bought, rename, delete");
  }
  absl::StatusOr<std::string> name = CleanName(typed, what);
  if (!name.ok()) return name.status();
  switch (operation.kind_case()) {
    case v1::Operation::kCreate:
      return state.Create(writer, *name, now_micros);
    case v1::Operation::kRename:
      return state.Rename(writer, *name, now_micros);
    case v1::Operation::kAdd: {
      absl::StatusOr<std::string> category =
          CleanCategory(operation.add().category());
      if (!category.ok()) return category.status();
      return state.Add(writer, *name, operation.add().count(), *category);
    }
    case v1::Operation::kRemove:
      return state.Remove(writer, *name, operation.remove().count(),
                          operation.remove().take_off_when_none());
    case v1::Operation::kRemoveItem:
      return state.RemoveItem(writer, *name);
    case v1::Operation::kBuy:
      return state.Buy(writer, *name, operation.buy().count());
    case v1::Operation::kUnbuy:
      return state.Unbuy(writer, *name, operation.unbuy().count());
    case v1::Operation::kNote: {
      absl::StatusOr<std::string> note = CleanNote(operation.note().note());
      if (!note.ok()) return note.status();
      return state.SetNote(writer, *name, *note);
    }
    case v1::Operation::kCategory: {
      absl::StatusOr<std::string> category =
          CleanCategory(operation.category().category());
      if (!category.ok()) return category.status();
      return state.SetCategory(writer, *name, *category);
    }
    default:
      return absl::InternalError("unreachable");
  }
}

std::vector<v1::Operation> UndoOperations(const crdt::ListDiff& diff) {
  std::vector<v1::Operation> ops;
  auto op = [&ops]() -> v1::Operation& { return ops.emplace_back(); };
  if (diff.title_before && !diff.title_before->empty()) {
    op().mutable_rename()->set_title(*diff.title_before);
  }
  if (diff.aisles_before) {
    auto* aisles = op().mutable_aisles();
    for (const std::string& a : *diff.aisles_before) aisles->add_categories(a);
  }
  for (const crdt::ItemChange& change : diff.items) {
    const crdt::ItemView& a = change.after;
    const bool was_on = change.before && change.before->visible;
    if (!was_on && a.visible) {
      // Added (or back): take back what was added.
      if (a.wanted > 0) {
        auto* remove = op().mutable_remove();
        remove->set_item(a.name);
        remove->set_count(a.wanted);
        remove->set_take_off_when_none(true);
      } else {
        op().mutable_remove_item()->set_item(a.name);
      }
      if (change.before && change.before->category != a.category) {
        auto* category = op().mutable_category();
        category->set_item(a.name);
        category->set_category(change.before->category);
      }
      continue;
    }
    if (!was_on) continue;
    const crdt::ItemView& b = *change.before;
    if (!a.visible) {
      // Taken off: back with what it had. Add needs a count; an item that
      // showed 0 wanted comes back as 1, less 1.
      auto* add = op().mutable_add();
      add->set_item(b.name);
      add->set_count(b.wanted > 0 ? b.wanted : 1);
      if (b.wanted == 0) {
        auto* remove = op().mutable_remove();
        remove->set_item(b.name);
        remove->set_count(1);
      }
      if (b.bought > 0) {
        auto* buy = op().mutable_buy();
        buy->set_item(b.name);
        buy->set_count(b.bought);
      }
    } else {
      if (a.wanted > b.wanted) {
        auto* remove = op().mutable_remove();
        remove->set_item(b.name);
        remove->set_count(a.wanted - b.wanted);
      } else if (a.wanted < b.wanted) {
        auto* add = op().mutable_add();
        add->set_item(b.name);
        add->set_count(b.wanted - a.wanted);
      }
      if (a.bought > b.bought) {
        auto* unbuy = op().mutable_unbuy();
        unbuy->set_item(b.name);
        unbuy->set_count(a.bought - b.bought);
      } else if (a.bought < b.bought) {
        auto* buy = op().mutable_buy();
        buy->set_item(b.name);
        buy->set_count(b.bought - a.bought);
      }
    }
    if (a.note != b.note) {
      auto* note = op().mutable_note();
      note->set_item(b.name);
      note->set_note(b.note);
    }
    if (a.category != b.category) {
      auto* category = op().mutable_category();
      category->set_item(b.name);
      category->set_category(b.category);
    }
  }
  return ops;
}

}  // namespace shoplist::codec
