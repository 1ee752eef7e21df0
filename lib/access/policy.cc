#include "access/policy.h"

namespace shoplist::access {
namespace {

bool ChangesContent(const crdt::ListState& delta) {
  return delta.title().has_value() || !delta.items().empty() ||
         delta.aisles().set() || !delta.authors().empty();
}

}  // namespace

Capability Held(const crdt::Register& record, const SecretHash& proof) {
  if (!record.set()) return Capability::kOwner;
  // A stored record is always well formed (ListState::Validate); a record
  // that were not would grant nothing rather than everything.
  absl::StatusOr<Grants> grants = DecodeGrants(record.value);
  if (!grants.ok()) return Capability::kNone;
  return Prove(*grants, proof);
}

Capability Held(const crdt::ListState& list, const SecretHash& proof) {
  return Held(list.access(), proof);
}

Capability Needed(const crdt::ListState& delta) {
  if (delta.access().set() || delta.deleted()) return Capability::kOwner;
  if (ChangesContent(delta)) return Capability::kEdit;
  return Capability::kRead;
}

absl::Status Check(const crdt::ListState& list, const SecretHash& proof,
                   Capability needed) {
  return Check(list.access(), proof, needed);
}

absl::Status Check(const crdt::Register& record, const SecretHash& proof,
                   Capability needed) {
  const Capability held = Held(record, proof);
  if (held < Capability::kRead) return absl::NotFoundError("list not found");
  if (held >= needed) return absl::OkStatus();
  if (needed == Capability::kOwner) {
    return absl::PermissionDeniedError(
        "deleting this list, or changing who may use it, needs its owner "
        "link");
  }
  return absl::PermissionDeniedError(
      "this link can only read the list; changing it needs an edit link");
}

absl::Status CheckRead(const crdt::ListState& list, const SecretHash& proof) {
  return Check(list, proof, Capability::kRead);
}

absl::Status CheckWrite(const crdt::ListState& list,
                        const crdt::ListState& delta, const SecretHash& proof) {
  return Check(list, proof, Needed(delta));
}

}  // namespace shoplist::access
