#include "clients/core/records.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "codec/list_codec.h"

namespace shoplist::client {

size_t LocalList::UnsyncedChanges() const {
  if (pending.deleted()) return 1;
  return pending.items().size() + (pending.title() ? 1 : 0) +
         (pending.aisles().set() ? 1 : 0) + (pending.access().set() ? 1 : 0);
}

std::string ListKey(absl::string_view id) {
  return absl::StrCat(kListPrefix, id);
}

std::string SettingKey(absl::string_view name) {
  return absl::StrCat(kSettingPrefix, name);
}

std::string LogPrefix(absl::string_view id) {
  return absl::StrCat(kLogPrefix, id, "/");
}

// Zero-padded to 20 digits (all of a uint64), so that keys sort by
// sequence.
std::string LogKey(absl::string_view id, uint64_t seq) {
  std::string digits = absl::StrCat(seq);
  return absl::StrCat(kLogPrefix, id, "/", std::string(20 - digits.size(), '0'),
                      digits);
}

void Batch::Put(std::string key, std::string value) {
  writes.push_back({Write::Kind::kPut, std::move(key), std::move(value)});
}

void Batch::Delete(std::string key) {
  writes.push_back({Write::Kind::kDelete, std::move(key), {}});
}

void Batch::DeletePrefix(std::string prefix) {
  writes.push_back({Write::Kind::kDeletePrefix, std::move(prefix), {}});
}

void SaveList(LocalList& list, absl::Span<const v1::LogEvent> events,
              Batch& batch) {
  for (const v1::LogEvent& event : events) {
    batch.Put(LogKey(list.id, list.log_next), event.SerializeAsString());
    if (list.log_next >= kMaxLogEvents) {
      batch.Delete(LogKey(list.id, list.log_next - kMaxLogEvents));
    }
    ++list.log_next;
  }
  if (list.undo.size() > kMaxUndoSteps) {
    list.undo.erase(list.undo.begin(),
                    list.undo.end() - static_cast<long>(kMaxUndoSteps));
  }
  batch.Put(ListKey(list.id), EncodeList(list));
}

void ForgetList(absl::string_view id, Batch& batch) {
  batch.Delete(ListKey(id));
  batch.DeletePrefix(LogPrefix(id));
}

std::string EncodeList(const LocalList& list) {
  v1::LocalList record;
  record.set_list_id(list.id);
  codec::EncodeState(list.state, record.mutable_state());
  codec::EncodeState(list.pending, record.mutable_pending());
  record.set_on_server(list.on_server);
  record.set_awaiting_fetch(list.awaiting_fetch);
  for (const v1::UndoStep& step : list.undo) *record.add_undo() = step;
  record.set_log_next(list.log_next);
  record.set_secret(list.secret);
  record.set_link_capability(static_cast<uint32_t>(list.link_capability));
  record.set_access_lost(list.access_lost);
  return record.SerializeAsString();
}

absl::StatusOr<LocalList> DecodeList(absl::string_view id,
                                     absl::string_view bytes) {
  v1::LocalList record;
  if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        absl::StrCat("local copy of ", id, " is damaged"));
  }
  LocalList list;
  list.id = std::string(id);
  absl::StatusOr<crdt::ListState> state = codec::DecodeState(record.state());
  absl::StatusOr<crdt::ListState> pending =
      codec::DecodeState(record.pending());
  if (!state.ok() || !pending.ok()) {
    return absl::DataLossError(
        absl::StrCat("local copy of ", id, " is invalid"));
  }
  list.state = *std::move(state);
  list.pending = *std::move(pending);
  list.on_server = record.on_server();
  list.awaiting_fetch = record.awaiting_fetch();
  list.undo.assign(record.undo().begin(), record.undo().end());
  list.log_next = record.log_next();
  list.secret = record.secret();
  list.link_capability =
      record.link_capability() <=
              static_cast<uint32_t>(access::Capability::kOwner)
          ? static_cast<access::Capability>(record.link_capability())
          : access::Capability::kNone;
  list.access_lost = record.access_lost();
  return list;
}

std::string EncodeReplicaId(uint64_t id) {
  std::string bytes(sizeof id, '\0');
  for (size_t i = 0; i < sizeof id; ++i) {
    bytes[i] = static_cast<char>((id >> (8 * i)) & 0xff);
  }
  return bytes;
}

absl::StatusOr<uint64_t> DecodeReplicaId(absl::string_view bytes) {
  uint64_t id = 0;
  if (bytes.size() == sizeof id) {
    for (size_t i = 0; i < sizeof id; ++i) {
      id |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
    }
  }
  if (id == 0) {
    return absl::DataLossError(
        absl::StrCat("stored ", kReplicaIdKey, " is damaged"));
  }
  return id;
}

}  // namespace shoplist::client
