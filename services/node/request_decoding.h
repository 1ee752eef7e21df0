// Decoding and validation of the node's requests into domain values: what
// the ReplicaService and ListService handlers do before they touch the
// store or the coordinator. Pure (no gRPC, no I/O), so the fuzz targets in
// fuzz/ reach it without a server. Header-only: the handlers and the fuzz
// targets include it.
#ifndef SHOPLIST_SERVICES_NODE_REQUEST_DECODING_H_
#define SHOPLIST_SERVICES_NODE_REQUEST_DECODING_H_

#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "access/capability.h"
#include "access/policy.h"
#include "codec/list_codec.h"
#include "crdt/causal_context.h"
#include "crdt/list_id.h"
#include "crdt/list_state.h"
#include "ring/node_id.h"
#include "shoplist/v1/list_service.pb.h"
#include "shoplist/v1/types.pb.h"
#include "storage/replica_store.h"

namespace shoplist::node {

// One replica write, validated and decoded: a merge into this node's copy,
// or a hint when it is meant for another node.
struct DecodedWrite {
  std::string list_id;
  crdt::ListState delta;
  std::string hint_owner;  // empty: merge here
  // A client's write: the hash of the secret its coordinator checked, for
  // this replica to check again (StoreRequest.proof).
  std::optional<access::SecretHash> proof;
};

// A write of Store, StoreStream or HandOff (which passes no owner and no
// proof).
inline absl::StatusOr<DecodedWrite> DecodeWrite(
    const std::string& self_id, const std::string& list_id,
    const v1::ListState& delta, const std::string& intended_owner,
    const std::string& proof) {
  if (absl::Status s = crdt::ValidateListId(list_id); !s.ok()) return s;
  absl::StatusOr<crdt::ListState> decoded = codec::DecodeState(delta);
  if (!decoded.ok()) return decoded.status();
  DecodedWrite write{list_id, *std::move(decoded), "", std::nullopt};
  if (!intended_owner.empty() && intended_owner != self_id) {
    if (absl::Status s = ring::ValidateNodeId(intended_owner); !s.ok()) {
      return s;
    }
    write.hint_owner = intended_owner;
  }
  if (!proof.empty()) {
    absl::StatusOr<access::SecretHash> hash = access::ProofFromBytes(proof);
    if (!hash.ok()) return hash.status();
    write.proof = *hash;
  }
  return write;
}

// The check a replica makes as it merges a client's write of `delta`
// proved by `proof`: against its own copy's access record at that moment.
inline storage::ReplicaStore::MergeCheck AccessCheck(
    const access::SecretHash& proof, const crdt::ListState& delta) {
  return
      [proof, needed = access::Needed(delta)](const crdt::ListState& current) {
        return access::Check(current, proof, needed);
      };
}

// AccessCheck for a decoded write; none without a proof (repairs and
// hand-offs carry what a replica already accepted).
inline storage::ReplicaStore::MergeCheck CheckOf(const DecodedWrite& write) {
  if (!write.proof) return nullptr;
  return AccessCheck(*write.proof, write.delta);
}

// A Sync request's delta and known context; its list id is checked first.
struct DecodedSync {
  crdt::ListState delta;
  crdt::CausalContext known;
  access::SecretHash proof;  // of the request's secret
};

inline absl::StatusOr<DecodedSync> DecodeSync(const v1::SyncRequest& request) {
  if (absl::Status s = crdt::ValidateListId(request.list_id()); !s.ok()) {
    return s;
  }
  absl::StatusOr<crdt::ListState> delta = codec::DecodeState(request.delta());
  if (!delta.ok()) return delta.status();
  absl::StatusOr<crdt::CausalContext> known =
      codec::DecodeContext(request.known());
  if (!known.ok()) return known.status();
  return DecodedSync{*std::move(delta), *std::move(known),
                     access::HashSecret(request.secret())};
}

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_REQUEST_DECODING_H_
