#include "storage/replica_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "codec/list_codec.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "merkle/state_digest.h"

namespace shoplist::storage {
namespace {

// What stored bytes that do not parse, or parse to nothing valid, are.
absl::Status Unparsable(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("stored ", what, " does not parse"));
}
absl::Status Invalid(absl::string_view what, const absl::Status& why) {
  return absl::DataLossError(
      absl::StrCat("stored ", what, " is invalid: ", why.message()));
}

}  // namespace

absl::StatusOr<crdt::ListState> DecodeStored(absl::string_view bytes,
                                             absl::string_view what) {
  // Parsing on an arena replaces a malloc and free per message of the tree
  // with bump allocation.
  google::protobuf::Arena arena;
  auto* message = google::protobuf::Arena::CreateMessage<v1::ListState>(&arena);
  if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Unparsable(what);
  }
  absl::StatusOr<crdt::ListState> state = codec::DecodeState(*message);
  if (!state.ok()) {
    return Invalid(what, state.status());
  }
  return state;
}

absl::StatusOr<crdt::ListState> DecodeStored(const StoredList& stored,
                                             absl::string_view what) {
  absl::StatusOr<crdt::ListState> state = DecodeStored(stored.base, what);
  if (!state.ok()) return state;
  for (const std::string& delta : stored.log) {
    absl::StatusOr<crdt::ListState> part = DecodeStored(delta, what);
    if (!part.ok()) return part.status();
    state->Merge(*part);
  }
  return state;
}

namespace {

// Parses into `out` only the fields of `bytes` whose numbers `out`'s type
// declares, skipping the others without copying them: protobuf's own
// parser would keep each of them (a list's thousands of items) as an
// unknown field, an allocation and a copy apiece.
bool ParseDeclared(absl::string_view bytes, google::protobuf::Message& out) {
  const google::protobuf::Descriptor* type = out.GetDescriptor();
  google::protobuf::io::CodedInputStream input(
      reinterpret_cast<const uint8_t*>(bytes.data()),
      static_cast<int>(bytes.size()));
  std::string kept;
  for (;;) {
    const int start = input.CurrentPosition();
    const uint32_t tag = input.ReadTag();
    if (tag == 0) break;
    if (!google::protobuf::internal::WireFormatLite::SkipField(&input, tag)) {
      return false;
    }
    const int field = static_cast<int>(
        google::protobuf::internal::WireFormatLite::GetTagFieldNumber(tag));
    if (type->FindFieldByNumber(field) != nullptr) {
      kept.append(bytes.data() + start,
                  static_cast<size_t>(input.CurrentPosition() - start));
    }
  }
  return input.ConsumedEntireMessage() && out.ParseFromString(kept);
}

}  // namespace

namespace {

// The access record of one stored part, and whether it is a tombstone.
absl::StatusOr<crdt::Register> PartAccess(absl::string_view bytes,
                                          absl::string_view what,
                                          bool& deleted) {
  v1::ListStateAccess message;
  if (!ParseDeclared(bytes, message)) {
    return Unparsable(what);
  }
  absl::StatusOr<crdt::Register> access = codec::DecodeAccess(message);
  if (!access.ok()) {
    return Invalid(what, access.status());
  }
  deleted = deleted || message.deleted();
  return access;
}

}  // namespace

absl::StatusOr<crdt::Register> DecodeStoredAccess(absl::string_view bytes,
                                                  absl::string_view what) {
  bool deleted = false;
  return PartAccess(bytes, what, deleted);
}

absl::StatusOr<crdt::Register> DecodeStoredAccess(const StoredList& stored,
                                                  absl::string_view what) {
  bool deleted = false;
  absl::StatusOr<crdt::Register> access =
      PartAccess(stored.base, what, deleted);
  if (!access.ok()) return access;
  for (const std::string& delta : stored.log) {
    absl::StatusOr<crdt::Register> part = PartAccess(delta, what, deleted);
    if (!part.ok()) return part.status();
    access->Join(*part);
  }
  // A tombstone has no record, whatever the parts held (as Merge makes it).
  if (deleted) return crdt::Register();
  return access;
}

namespace {

// The causal context and tombstone flag of one stored part, parsing only
// those.
absl::Status JoinContext(absl::string_view bytes, absl::string_view what,
                         crdt::CausalContext& context, bool& deleted) {
  v1::ListStateContext parts;
  if (!ParseDeclared(bytes, parts)) {
    return Unparsable(what);
  }
  absl::StatusOr<crdt::CausalContext> part =
      codec::DecodeContext(parts.context());
  if (!part.ok()) {
    return Invalid(what, part.status());
  }
  context.Merge(*part);
  deleted = deleted || parts.deleted();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> StoredDigest(absl::string_view bytes,
                                         absl::string_view what) {
  crdt::CausalContext context;
  bool deleted = false;
  if (absl::Status s = JoinContext(bytes, what, context, deleted); !s.ok()) {
    return s;
  }
  return merkle::StateDigest(context, deleted);
}

absl::StatusOr<std::string> StoredDigest(const StoredList& stored,
                                         absl::string_view what) {
  crdt::CausalContext context;
  bool deleted = false;
  if (absl::Status s = JoinContext(stored.base, what, context, deleted);
      !s.ok()) {
    return s;
  }
  for (const std::string& delta : stored.log) {
    if (absl::Status s = JoinContext(delta, what, context, deleted); !s.ok()) {
      return s;
    }
  }
  // A tombstone's context is empty, whatever the parts held.
  if (deleted) context = crdt::CausalContext();
  return merkle::StateDigest(context, deleted);
}

absl::StatusOr<std::optional<StoredCopy>> ReadStoredCopy(
    ReplicaStore& store, absl::string_view list_id,
    const std::function<bool(absl::string_view digest)>& decode_not_needed) {
  absl::StatusOr<StoredList> stored = store.GetStored(list_id);
  if (absl::IsNotFound(stored.status())) return std::nullopt;
  if (!stored.ok()) return stored.status();
  const std::string what = absl::StrCat("list ", list_id);
  StoredCopy copy;
  absl::StatusOr<std::string> digest = StoredDigest(*stored, what);
  if (!digest.ok()) return digest.status();
  copy.digest = *std::move(digest);
  if (decode_not_needed && decode_not_needed(copy.digest)) {
    absl::StatusOr<crdt::Register> access = DecodeStoredAccess(*stored, what);
    if (!access.ok()) return access.status();
    copy.decoded = false;
    copy.access = *std::move(access);
    copy.stored = *std::move(stored);
    return copy;
  }
  absl::StatusOr<crdt::ListState> state = DecodeStored(*stored, what);
  if (!state.ok()) return state.status();
  copy.state = *std::move(state);
  return copy;
}

}  // namespace shoplist::storage
