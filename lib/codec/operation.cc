#include "codec/operation.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "text/text.h"

namespace shoplist::codec {

absl::StatusOr<std::string> CleanName(absl::string_view typed,
                                      absl::string_view what) {
  std::string name = text::TrimSpace(typed);
  if (name.empty()) {
    return absl::InvalidArgumentError(
        typed.empty() ? absl::StrCat(what, " is empty")
                      : absl::StrCat(what, " is only blanks"));
  }
  if (absl::Status s = crdt::ValidateName(name, what); !s.ok()) return s;
  return name;
}

absl::StatusOr<crdt::ListState> ApplyOperation(const v1::Operation& operation,
                                               crdt::Writer writer,
                                               uint64_t now_micros,
                                               crdt::ListState& state) {
  // Every kind but delete names an item or a title; clean it first.
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
    case v1::Operation::kDelete:
      return state.Delete();
    case v1::Operation::KIND_NOT_SET:
      return absl::InvalidArgumentError(
          "operation: set one of create, add, remove, remove_item, buy, "
          "rename, delete");
  }
  absl::StatusOr<std::string> name = CleanName(typed, what);
  if (!name.ok()) return name.status();
  switch (operation.kind_case()) {
    case v1::Operation::kCreate:
      return state.Create(writer, *name, now_micros);
    case v1::Operation::kRename:
      return state.Rename(writer, *name, now_micros);
    case v1::Operation::kAdd:
      return state.Add(writer, *name, operation.add().count());
    case v1::Operation::kRemove:
      return state.Remove(writer, *name, operation.remove().count());
    case v1::Operation::kRemoveItem:
      return state.RemoveItem(writer, *name);
    case v1::Operation::kBuy:
      return state.Buy(writer, *name, operation.buy().count());
    default:
      return absl::InternalError("unreachable");
  }
}

}  // namespace shoplist::codec
