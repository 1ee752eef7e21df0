#include "services/node/ring_source.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ring/node_id.h"

namespace shoplist::node {

absl::StatusOr<std::vector<ring::Member>> ParseMembers(absl::string_view text) {
  std::vector<ring::Member> members;
  absl::flat_hash_set<std::string> seen;
  for (absl::string_view entry : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> parts = absl::StrSplit(entry, '=');
    if (absl::Status s = ring::ValidateNodeId(parts.first); !s.ok()) return s;
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
