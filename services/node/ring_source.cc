#include "services/node/ring_source.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace shoplist::node {

absl::Status ValidateNodeId(absl::string_view id) {
  if (id.empty() || id.size() > 64) {
    return absl::InvalidArgumentError("node id must be 1..64 characters");
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node id '", id, "' may contain only A-Z a-z 0-9 . _ -"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ring::Member>> ParseMembers(absl::string_view text) {
  std::vector<ring::Member> members;
  absl::flat_hash_set<std::string> seen;
  for (absl::string_view entry : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> parts = absl::StrSplit(entry, '=');
    if (absl::Status s = ValidateNodeId(parts.first); !s.ok()) return s;
    if (parts.second.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("member '", entry, "' needs the form id=host:port"));
    }
    if (!seen.insert(parts.first).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("member '", parts.first, "' appears twice"));
    }
    members.push_back({parts.first, parts.second, true});
  }
  return members;
}

}  // namespace shoplist::node
