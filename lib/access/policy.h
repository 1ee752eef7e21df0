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

// OK when `proof` may read `list`. NOT_FOUND otherwise: the answer an
// unknown id gets, so a probe learns nothing.
absl::Status CheckRead(const crdt::ListState& list, const SecretHash& proof);

// OK when `proof` may merge `delta` into `list`. Errors:
//  - NOT_FOUND when it may not even read the list;
//  - PERMISSION_DENIED when `delta` changes items, the title, the aisle
//    order or names and `proof` proves less than edit;
//  - PERMISSION_DENIED when `delta` carries an access record or deletes the
//    list and `proof` proves less than owner. On an open list anyone
//    may: the first record closes it and makes its writer the owner.
// A delta that carries nothing (a pure read) needs only read.
absl::Status CheckWrite(const crdt::ListState& list,
                        const crdt::ListState& delta, const SecretHash& proof);

}  // namespace shoplist::access

#endif  // SHOPLIST_ACCESS_POLICY_H_
