#include "codec/operation.h"

namespace shoplist::codec {

absl::StatusOr<crdt::ListState> ApplyOperation(const v1::Operation& operation,
                                               crdt::Writer writer,
                                               uint64_t now_micros,
                                               crdt::ListState& state) {
  switch (operation.kind_case()) {
    case v1::Operation::kCreate:
      return state.Create(writer, operation.create().title(), now_micros);
    case v1::Operation::kAdd:
      return state.Add(writer, operation.add().item(), operation.add().count());
    case v1::Operation::kRemove:
      return state.Remove(writer, operation.remove().item(),
                          operation.remove().count());
    case v1::Operation::kRemoveItem:
      return state.RemoveItem(writer, operation.remove_item().item());
    case v1::Operation::kBuy:
      return state.Buy(writer, operation.buy().item(), operation.buy().count());
    case v1::Operation::kRename:
      return state.Rename(writer, operation.rename().title(), now_micros);
    case v1::Operation::kDelete:
      return state.Delete();
    case v1::Operation::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "operation: set one of create, add, remove, remove_item, buy, rename, "
      "delete");
}

}  // namespace shoplist::codec
