// What a request may do to a list: the check every server makes before it
// answers a client (docs/sharing.md), given the list as the server knows it
// and the secret the request carries.
//
// Model. A list without an access record is open: knowing its id is
// holding every capability (the rule before capabilities existed). A list
// with one grants what the secret proves (Prove), and nothing to a request
// without a proof, not even the knowledge that the list exists.
//
// Pure: no I/O. Thread-safe (free functions over values).
#ifndef SHOPLIST_ACCESS_POLICY_H_
#define SHOPLIST_ACCESS_POLICY_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "access/capability.h"
#include "crdt/list_state.h"

namespace shoplist::access {

// `proof` is the HashSecret of the secret a request carries (an empty one
// for none): servers pass it on to replicas, which check it in turn.
//
// The capability `proof` holds on `list`: kOwner on an open list, else
// what it proves (kNone for an empty or wrong secret).
Capability Held(const crdt::ListState& list, const SecretHash& proof);

// What merging `delta` needs: kOwner when it carries an access record or
// deletes the list, kEdit when it changes items, the title, the aisle order
// or names, else kRead (a delta that carries nothing is a read).
Capability Needed(const crdt::ListState& delta);

// OK when `proof` holds `needed` on `list`. Errors:
//  - NOT_FOUND when it may not even read the list: the answer an unknown
//    id gets, so a probe learns nothing;
//  - PERMISSION_DENIED when it reads but holds less than `needed`, saying
//    which link it takes.
// On an open list anyone may do anything: the first access record closes
// it and makes its writer the owner.
absl::Status Check(const crdt::ListState& list, const SecretHash& proof,
                   Capability needed);

// The same, given only the list's access record (unset: an open list), as
// a coordinator that keeps the records in memory checks.
Capability Held(const crdt::Register& record, const SecretHash& proof);
absl::Status Check(const crdt::Register& record, const SecretHash& proof,
                   Capability needed);

// Check for kRead, and for what merging `delta` needs. A delta is refused
// whole: an item change cannot carry an access record past an edit link.
absl::Status CheckRead(const crdt::ListState& list, const SecretHash& proof);
absl::Status CheckWrite(const crdt::ListState& list,
                        const crdt::ListState& delta, const SecretHash& proof);

}  // namespace shoplist::access

#endif  // SHOPLIST_ACCESS_POLICY_H_
