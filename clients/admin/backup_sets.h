// Backup sets: what `shoplist-admin backup-all ROOT` makes and keeps.
//
// Model. A run backs every member of the ring up into ROOT/SET/NODE_ID,
// where SET is the run's start in UTC, "YYYYMMDDTHHMMSSZ", so names sort
// as times do. The run writes ROOT/SET/SHOPLIST-BACKUP-SET last; a set is
// complete when that file says every member was backed up (each list has
// N replicas on N different nodes, so a complete set holds every list).
// Keeping K sets means: the K newest complete sets stay, and so does every
// set newer than the oldest of them (a failed run leaves its partial copies
// until complete runs have made it old); everything older goes.
//
// Pure functions: no disk, no clock. Thread-safe.
#ifndef SHOPLIST_CLIENTS_ADMIN_BACKUP_SETS_H_
#define SHOPLIST_CLIENTS_ADMIN_BACKUP_SETS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace shoplist::admin {

// The name of a set started at `start`.
std::string BackupSetName(absl::Time start);

// Whether `name` is a set's name (the folders of ROOT that are not sets are
// never touched).
bool IsBackupSetName(const std::string& name);

// The file a run writes last in its set's folder.
inline constexpr char kBackupSetMarker[] = "SHOPLIST-BACKUP-SET";

// The marker's text for a run: the set, the ring version it backed up,
// each node's result ("ok" or why it failed) by id, and whether every one
// was backed up.
std::string BackupSetMarker(const std::string& set, uint64_t ring_version,
                            const std::map<std::string, std::string>& nodes,
                            bool complete);

// Whether a marker's text says its set is complete; false for any text
// that is not a marker (damaged, cut short, edited by hand), so such a set
// never counts as a good one.
bool MarkerSaysComplete(const std::string& text);

struct BackupSet {
  std::string name;
  bool complete = false;
};

// The names of the sets to delete when `keep` (at least 1) are kept, oldest
// first. `sets` may come in any order; names that are not set names are
// ignored.
std::vector<std::string> BackupSetsToRemove(std::vector<BackupSet> sets,
                                            size_t keep);

}  // namespace shoplist::admin

#endif  // SHOPLIST_CLIENTS_ADMIN_BACKUP_SETS_H_
