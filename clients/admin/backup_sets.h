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

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace shoplist::admin {

// The name of a set started at `start`.
std::string BackupSetName(absl::Time start);

// Whether `name` is a set's name (the folders of ROOT that are not sets are
// never touched).
bool IsBackupSetName(const std::string& name);

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
