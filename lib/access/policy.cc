#include "access/policy.h"

namespace shoplist::access {
namespace {

bool ChangesContent(const crdt::ListState& delta) {
  return delta.title().has_value() || !delta.items().empty() ||
         delta.aisles().set() || !delta.authors().empty();
}

}  // namespace

Capability Held(const crdt::ListState& list, const SecretHash& proof) {
  if (!list.access().set()) return Capability::kOwner;
  // A stored record is always well formed (ListState::Validate); a record
  // that were not would grant nothing rather than everything.
  absl::StatusOr<Grants> grants = DecodeGrants(list.access().value);
  if (!grants.ok()) return Capability::kNone;
  return Prove(*grants, proof);
}

absl::Status CheckRead(const crdt::ListState& list, const SecretHash& proof) {
  if (Held(list, proof) >= Capability::kRead) return absl::OkStatus();
  return absl::NotFoundError("list not found");
}

absl::Status CheckWrite(const crdt::ListState& list,
                        const crdt::ListState& delta, const SecretHash& proof) {
  const Capability held = Held(list, proof);
  if (held < Capability::kRead) return absl::NotFoundError("list not found");
  if ((delta.access().set() || delta.deleted()) && held < Capability::kOwner) {
    return absl::PermissionDeniedError(
        delta.deleted()
            ? "deleting this list needs its owner link"
            : "changing who may use this list needs its owner link");
  }
  if (ChangesContent(delta) && held < Capability::kEdit) {
    return absl::PermissionDeniedError(
        "this link can only read the list; changing it needs an edit link");
  }
  return absl::OkStatus();
}

}  // namespace shoplist::access
