// A leveldb::Env over the real disk that knows what a power loss would
// keep, and can fill the disk. Modelled on LevelDB's own
// db/fault_injection_test.cc:
//
// - Power loss: every file opened for writing remembers its size at its
//   last Sync, and whether it was created since its directory was last
//   synced (syncing a new file syncs its directory, as LevelDB's posix Env
//   does for a MANIFEST). After PowerOff, writes still reach the files (the
//   process does not know yet), but removals and renames are ignored (a
//   rename before it is as durable as the renamed file), and
//   DropUnsyncedData, with every database closed, cuts each file back to
//   its last synced size and deletes the files that were never made
//   durable. What survives is what an fsync promised.
// - A full disk: while SetFull(true), creating, appending to and syncing
//   files fail with an IOError "No space left on device".
//
// Thread-safe.
#ifndef SHOPLIST_TESTS_SUPPORT_FAULT_ENV_H_
#define SHOPLIST_TESTS_SUPPORT_FAULT_ENV_H_

#include <atomic>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "leveldb/env.h"

namespace shoplist::testing {

class FaultEnv : public leveldb::EnvWrapper {
 public:
  FaultEnv() : EnvWrapper(leveldb::Env::Default()) {}

  // From now on nothing written is made durable.
  void PowerOff();
  // Powers off at the start of the `n`-th Sync from now (n >= 1): that
  // sync and every later one promise nothing.
  void PowerOffAtSync(int n);
  bool powered_off() const { return off_.load(); }
  // The Syncs that reached the disk so far.
  int syncs() const { return syncs_.load(); }
  // Cuts every tracked file back to what its last Sync made durable and
  // deletes the files that never were; then forgets them and powers on.
  // Call with every database on this env closed.
  leveldb::Status DropUnsyncedData();

  void SetFull(bool full) { full_.store(full); }

  leveldb::Status NewWritableFile(const std::string& name,
                                  leveldb::WritableFile** result) override;
  leveldb::Status NewAppendableFile(const std::string& name,
                                    leveldb::WritableFile** result) override;
  leveldb::Status RemoveFile(const std::string& name) override;
  leveldb::Status RenameFile(const std::string& from,
                             const std::string& to) override;

 private:
  class File;
  struct Tracked {
    uint64_t size = 0;         // bytes appended
    uint64_t synced_size = 0;  // bytes a Sync made durable
    bool new_since_dir_sync = false;
  };
  friend class File;

  leveldb::Status Full() const;
  // Called by File; each returns whether the disk is writable.
  bool OnAppend(const std::string& name, size_t n);
  bool OnSync(const std::string& name);

  std::atomic<bool> off_{false};
  std::atomic<bool> full_{false};
  std::atomic<int> syncs_{0};
  std::atomic<int> off_at_sync_{0};  // 0: not armed
  absl::Mutex mu_;
  std::map<std::string, Tracked> files_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoplist::testing

#endif  // SHOPLIST_TESTS_SUPPORT_FAULT_ENV_H_
