#include "tests/support/fault_env.h"

#include <unistd.h>

#include <memory>
#include <utility>
#include <vector>

namespace shoplist::testing {
namespace {

std::string DirOf(const std::string& name) {
  size_t slash = name.rfind('/');
  return slash == std::string::npos ? "" : name.substr(0, slash);
}

}  // namespace

// Forwards to the real file and reports sizes and syncs to the env.
class FaultEnv::File : public leveldb::WritableFile {
 public:
  File(FaultEnv* env, std::string name, leveldb::WritableFile* target)
      : env_(env), name_(std::move(name)), target_(target) {}

  leveldb::Status Append(const leveldb::Slice& data) override {
    if (!env_->OnAppend(name_, data.size())) return env_->Full();
    return target_->Append(data);
  }
  leveldb::Status Close() override { return target_->Close(); }
  leveldb::Status Flush() override {
    if (env_->full_.load()) return env_->Full();
    return target_->Flush();
  }
  leveldb::Status Sync() override {
    if (env_->full_.load()) return env_->Full();
    // Reach the disk first: a sync is durable only once fsync returned.
    leveldb::Status s = target_->Sync();
    if (s.ok()) env_->OnSync(name_);
    return s;
  }

 private:
  FaultEnv* const env_;
  const std::string name_;
  std::unique_ptr<leveldb::WritableFile> target_;
};

void FaultEnv::PowerOff() { off_.store(true); }

void FaultEnv::PowerOffAtSync(int n) { off_at_sync_.store(syncs_.load() + n); }

leveldb::Status FaultEnv::Full() const {
  return leveldb::Status::IOError("No space left on device");
}

bool FaultEnv::OnAppend(const std::string& name, size_t n) {
  if (full_.load()) return false;
  absl::MutexLock lock(&mu_);
  files_[name].size += n;
  return true;
}

bool FaultEnv::OnSync(const std::string& name) {
  const int armed = off_at_sync_.load();
  if (armed != 0 && syncs_.load() + 1 >= armed) off_.store(true);
  if (off_.load()) return true;
  ++syncs_;
  absl::MutexLock lock(&mu_);
  Tracked& file = files_[name];
  file.synced_size = file.size;
  if (file.new_since_dir_sync) {
    // Syncing a new file syncs its directory: everything created there
    // before it is durable too.
    const std::string dir = DirOf(name);
    for (auto& [other, tracked] : files_) {
      if (DirOf(other) == dir) tracked.new_since_dir_sync = false;
    }
  }
  return true;
}

leveldb::Status FaultEnv::NewWritableFile(const std::string& name,
                                          leveldb::WritableFile** result) {
  if (full_.load()) return Full();
  leveldb::WritableFile* real = nullptr;
  leveldb::Status s = target()->NewWritableFile(name, &real);
  if (!s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    files_[name] = Tracked{0, 0, /*new_since_dir_sync=*/true};
  }
  *result = new File(this, name, real);
  return s;
}

leveldb::Status FaultEnv::NewAppendableFile(const std::string& name,
                                            leveldb::WritableFile** result) {
  if (full_.load()) return Full();
  const bool existed = target()->FileExists(name);
  uint64_t size = 0;
  if (existed) target()->GetFileSize(name, &size);
  leveldb::WritableFile* real = nullptr;
  leveldb::Status s = target()->NewAppendableFile(name, &real);
  if (!s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = files_.try_emplace(name);
    if (inserted) it->second = Tracked{size, size, !existed};
  }
  *result = new File(this, name, real);
  return s;
}

leveldb::Status FaultEnv::RemoveFile(const std::string& name) {
  if (off_.load()) return leveldb::Status::OK();  // never reached the disk
  {
    absl::MutexLock lock(&mu_);
    files_.erase(name);
  }
  return target()->RemoveFile(name);
}

leveldb::Status FaultEnv::RenameFile(const std::string& from,
                                     const std::string& to) {
  if (off_.load()) return leveldb::Status::OK();
  leveldb::Status s = target()->RenameFile(from, to);
  if (!s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = files_.find(from);
  if (it != files_.end()) {
    // As in LevelDB's fault injection test, the new name is as durable as
    // the file was (LevelDB renames a synced temporary file to CURRENT).
    Tracked moved = it->second;
    files_.erase(it);
    files_[to] = moved;
  } else {
    files_.erase(to);
  }
  return s;
}

leveldb::Status FaultEnv::DropUnsyncedData() {
  absl::MutexLock lock(&mu_);
  for (const auto& [name, file] : files_) {
    if (file.new_since_dir_sync) {
      target()->RemoveFile(name);
    } else if (file.size != file.synced_size) {
      if (::truncate(name.c_str(), static_cast<off_t>(file.synced_size)) != 0) {
        return leveldb::Status::IOError(name, "cannot truncate");
      }
    }
  }
  files_.clear();
  off_.store(false);
  off_at_sync_.store(0);
  return leveldb::Status::OK();
}

}  // namespace shoplist::testing
