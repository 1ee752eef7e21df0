#include "ring/node_id.h"

#include "absl/strings/str_cat.h"

namespace shoplist::ring {

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

}  // namespace shoplist::ring
