#include "services/node/admin_service.h"

#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/common/status_util.h"
#include "services/common/unary.h"

namespace shoplist::node {

v1::AntiEntropyRound RoundOf(const AntiEntropy::Round& round) {
  v1::AntiEntropyRound out;
  out.set_finished_unix_ms(absl::ToUnixMillis(round.finished));
  out.set_duration_ms(absl::ToInt64Milliseconds(round.duration));
  out.set_peers(static_cast<uint32_t>(round.peers));
  out.set_ranges(static_cast<uint32_t>(round.ranges));
  out.set_lists_repaired(round.lists_repaired);
  return out;
}

namespace {

// A server stream fed by a job on a thread of its own (a repair round, a
// backup's scan). It deletes itself once gRPC is done with it and the job
// has ended, whichever comes last; the job calls Ended() as its last act.
// Subclasses write under mu_, one message at a time (writing_), and hear
// of each write's end in WroteLocked.
template <typename Message>
class JobReactor : public grpc::ServerWriteReactor<Message> {
 public:
  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                "writing the answer failed"));
      return;
    }
    WroteLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    bool last;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      last = ended_;
    }
    if (last) delete this;
  }

 protected:
  virtual void WroteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {}

  // The job's last call: nothing of this object may be used after it.
  void Ended() {
    bool gone;
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
      gone = done_;
    }
    if (gone) delete this;
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    this->Finish(status);
  }

  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;

 private:
  bool done_ ABSL_GUARDED_BY(mu_) = false;   // OnDone ran
  bool ended_ ABSL_GUARDED_BY(mu_) = false;  // the job ended
};

// One Repair call: the newest progress is written whenever the previous
// write is done, then the summary.
class RepairReactor final : public JobReactor<v1::RepairProgress> {
 public:
  explicit RepairReactor(const AdminServiceImpl::RepairSource& repair) {
    std::thread([this, repair] { Run(repair); }).detach();
  }

 private:
  void Run(const AdminServiceImpl::RepairSource& repair) {
    absl::StatusOr<AntiEntropy::Round> round =
        repair([this](size_t done, size_t total, size_t repaired) {
          v1::RepairProgress progress;
          progress.set_steps_done(static_cast<uint32_t>(done));
          progress.set_steps(static_cast<uint32_t>(total));
          progress.set_lists_repaired(repaired);
          Post(std::move(progress), grpc::Status::OK);
        });
    v1::RepairProgress last;
    grpc::Status status = grpc::Status::OK;
    if (round.ok()) {
      last.set_done(true);
      last.set_steps(static_cast<uint32_t>(2 * round->ranges));
      last.set_steps_done(last.steps());
      last.set_lists_repaired(round->lists_repaired);
      *last.mutable_round() = RoundOf(*round);
    } else {
      status = ToGrpc(round.status());
    }
    Post(std::move(last), status, /*end=*/true);
    Ended();
  }

  // The newest progress replaces one not yet written; with `end`, the
  // stream finishes with `status` after it (or without it, when not OK).
  void Post(v1::RepairProgress progress, const grpc::Status& status,
            bool end = false) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (status.ok()) next_ = std::move(progress);
    if (end) {
      end_ = true;
      end_status_ = status;
    }
    WriteLocked();
  }

  void WroteLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    WriteLocked();
  }

  void WriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_) return;
    if (next_) {
      out_ = *std::move(next_);
      next_.reset();
      writing_ = true;
      StartWrite(&out_);
    } else if (end_) {
      FinishLocked(end_status_);
    }
  }

  v1::RepairProgress out_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::RepairProgress> next_ ABSL_GUARDED_BY(mu_);
  bool end_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status end_status_ ABSL_GUARDED_BY(mu_);
};

// One Backup call: a thread reads the records and hands each chunk to the
// stream once the previous one is written.
class BackupReactor final : public JobReactor<v1::BackupChunk> {
 public:
  static constexpr size_t kChunkBytes = 1 << 20;

  BackupReactor(const std::string& node_id,
                const AdminServiceImpl::ExportSource& records) {
    std::thread([this, node_id, records] { Run(node_id, records); }).detach();
  }

 private:
  void Run(const std::string& node_id,
           const AdminServiceImpl::ExportSource& records) {
    v1::BackupChunk chunk;
    size_t bytes = 0;
    uint64_t total = 0;
    absl::Status status =
        records([&](absl::string_view key, absl::string_view value) {
          v1::BackupRecord* record = chunk.add_records();
          record->set_key(std::string(key));
          record->set_value(std::string(value));
          bytes += key.size() + value.size();
          ++total;
          if (bytes < kChunkBytes) return true;
          bytes = 0;
          return Send(chunk);
        });
    if (status.ok()) {
      chunk.set_done(true);
      chunk.set_records_total(total);
      chunk.set_node_id(node_id);
      if (Send(chunk)) End(grpc::Status::OK);
    } else {
      End(ToGrpc(status));
    }
    Ended();
  }

  // Waits until the previous chunk is written, then writes this one
  // (moved out). False once the stream is over.
  bool Send(v1::BackupChunk& chunk) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](BackupReactor* r) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return !r->writing_ || r->finished_;
        },
        this));
    if (finished_) return false;
    out_ = std::move(chunk);
    chunk.Clear();
    writing_ = true;
    StartWrite(&out_);
    return true;
  }

  // Finishes once the last write is done.
  void End(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](BackupReactor* r) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return !r->writing_ || r->finished_;
        },
        this));
    FinishLocked(status);
  }

  v1::BackupChunk out_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::ServerWriteReactor<v1::BackupChunk>* AdminServiceImpl::Backup(
    grpc::CallbackServerContext* context,
    const v1::BackupRequest* /*request*/) {
  if (auto* refused = gate_.RefuseStream<v1::BackupChunk>(context)) {
    return refused;
  }
  return new BackupReactor(node_id_, records_);
}

grpc::ServerUnaryReactor* AdminServiceImpl::Status(
    grpc::CallbackServerContext* context,
    const v1::NodeStatusRequest* /*request*/, v1::NodeStatus* response) {
  if (auto* refused = gate_.RefuseUnary(context)) return refused;
  absl::StatusOr<v1::NodeStatus> status = status_();
  if (!status.ok()) return FinishUnary(context, ToGrpc(status.status()));
  *response = *std::move(status);
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerWriteReactor<v1::RepairProgress>* AdminServiceImpl::Repair(
    grpc::CallbackServerContext* context,
    const v1::RepairRequest* /*request*/) {
  if (auto* refused = gate_.RefuseStream<v1::RepairProgress>(context)) {
    return refused;
  }
  return new RepairReactor(repair_);
}

}  // namespace shoplist::node
