#include "clients/admin/backup_sets.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace shoplist::admin {
namespace {

constexpr char kFormat[] = "%Y%m%dT%H%M%SZ";

}  // namespace

std::string BackupSetName(absl::Time start) {
  return absl::FormatTime(kFormat, start, absl::UTCTimeZone());
}

bool IsBackupSetName(const std::string& name) {
  if (name.size() != 16 || name[8] != 'T' || name[15] != 'Z') return false;
  for (size_t i : {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14}) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(name[i]))) {
      return false;
    }
  }
  // Parsed with separators (a bare %Y would take every digit), then it
  // must format back to itself: month 13 or hour 25 do not.
  const std::string spaced = absl::StrCat(
      name.substr(0, 4), "-", name.substr(4, 2), "-", name.substr(6, 2), " ",
      name.substr(9, 2), ":", name.substr(11, 2), ":", name.substr(13, 2));
  absl::Time parsed;
  std::string error;
  return absl::ParseTime("%Y-%m-%d %H:%M:%S", spaced, absl::UTCTimeZone(),
                         &parsed, &error) &&
         BackupSetName(parsed) == name;
}

std::string BackupSetMarker(const std::string& set, uint64_t ring_version,
                            const std::map<std::string, std::string>& nodes,
                            bool complete) {
  const nlohmann::ordered_json marker = {{"set", set},
                                         {"ring_version", ring_version},
                                         {"complete", complete},
                                         {"nodes", nodes}};
  return marker.dump(2) + "\n";
}

bool MarkerSaysComplete(const std::string& text) {
  const nlohmann::json marker =
      nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!marker.is_object()) return false;
  const auto complete = marker.find("complete");
  return complete != marker.end() && complete->is_boolean() &&
         complete->get<bool>();
}

std::vector<std::string> BackupSetsToRemove(std::vector<BackupSet> sets,
                                            size_t keep) {
  sets.erase(std::remove_if(
                 sets.begin(), sets.end(),
                 [](const BackupSet& s) { return !IsBackupSetName(s.name); }),
             sets.end());
  // Newest first.
  std::sort(
      sets.begin(), sets.end(),
      [](const BackupSet& a, const BackupSet& b) { return a.name > b.name; });
  size_t complete = 0;
  size_t cut = sets.size();  // sets from here on go
  for (size_t i = 0; i < sets.size(); ++i) {
    if (sets[i].complete && ++complete == std::max<size_t>(keep, 1)) {
      cut = i + 1;
      break;
    }
  }
  std::vector<std::string> gone;
  for (size_t i = sets.size(); i > cut; --i) gone.push_back(sets[i - 1].name);
  return gone;
}

}  // namespace shoplist::admin
