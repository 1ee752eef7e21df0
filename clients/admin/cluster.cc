#include "clients/admin/cluster.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/blocking_counter.h"
#include "grpcpp/grpcpp.h"
#include "leveldb/db.h"
#include "leveldb/write_batch.h"
#include "nlohmann/json.hpp"
#include "services/common/channels.h"
#include "services/common/status_util.h"
#include "shoplist/v1/admin_service.grpc.pb.h"
#include "shoplist/v1/membership_service.grpc.pb.h"
#include "storage/recovering_db.h"
#include "storage/replica_store.h"

namespace shoplist::admin {
namespace {

absl::Status FromGrpc(const grpc::Status& status, absl::string_view what) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

// The first view of one proxy's Subscribe stream.
absl::StatusOr<v1::RingView> ViewOf(const std::string& proxy,
                                    absl::Duration timeout) {
  auto stub = v1::MembershipService::NewStub(NewChannel(proxy));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::SubscribeRequest request;
  request.set_node_id("shoplist-admin");
  std::unique_ptr<grpc::ClientReader<v1::RingView>> reader =
      stub->Subscribe(&context, request);
  v1::RingView view;
  if (reader->Read(&view)) {
    context.TryCancel();
    reader->Finish();
    return view;
  }
  grpc::Status status = reader->Finish();
  if (status.ok()) {
    status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "no view came");
  }
  return FromGrpc(status, absl::StrCat("the proxy at ", proxy));
}

}  // namespace

absl::StatusOr<v1::RingView> FetchView(const std::string& proxies,
                                       absl::Duration timeout) {
  absl::Status last = absl::InvalidArgumentError("no proxy given");
  for (absl::string_view proxy :
       absl::StrSplit(proxies, ',', absl::SkipEmpty())) {
    absl::StatusOr<v1::RingView> view = ViewOf(std::string(proxy), timeout);
    if (view.ok()) return view;
    last = view.status();
    // A proxy that refuses the token refuses it everywhere.
    if (absl::IsUnauthenticated(last)) return last;
  }
  return last;
}

std::vector<ProxyView> FetchViews(const std::string& proxies,
                                  absl::Duration timeout) {
  std::vector<ProxyView> views;
  for (absl::string_view proxy :
       absl::StrSplit(proxies, ',', absl::SkipEmpty())) {
    views.push_back({std::string(proxy), ViewOf(std::string(proxy), timeout)});
  }
  return views;
}

absl::StatusOr<v1::RingView> LeaveRing(const std::string& proxies,
                                       const std::string& node_id,
                                       absl::Duration timeout) {
  absl::Status first_error;
  std::optional<v1::RingView> newest;
  for (absl::string_view proxy :
       absl::StrSplit(proxies, ',', absl::SkipEmpty())) {
    auto stub = v1::MembershipService::NewStub(NewChannel(std::string(proxy)));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::LeaveRequest request;
    request.set_node_id(node_id);
    v1::LeaveResponse response;
    grpc::Status status = stub->Leave(&context, request, &response);
    if (!status.ok()) {
      if (first_error.ok()) {
        first_error = FromGrpc(status, absl::StrCat("the proxy at ", proxy));
      }
      continue;
    }
    if (!newest || response.view().version() > newest->version()) {
      newest = response.view();
    }
  }
  if (!first_error.ok()) return first_error;
  if (!newest) return absl::InvalidArgumentError("no proxy given");
  return *newest;
}

absl::StatusOr<v1::NodeStatus> AskNode(const std::string& address,
                                       absl::Duration timeout) {
  auto stub = v1::AdminService::NewStub(NewChannel(address));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::NodeStatus status;
  grpc::Status s = stub->Status(&context, v1::NodeStatusRequest(), &status);
  if (!s.ok()) return FromGrpc(s, absl::StrCat("the node at ", address));
  return status;
}

std::vector<MemberReport> AskMembers(const v1::RingView& view,
                                     absl::Duration timeout) {
  // The members, then the nodes that left whose address the proxy kept.
  std::vector<MemberReport> reports;
  for (const v1::Member& m : view.members()) {
    reports.push_back({m, absl::UnknownError(""), /*left=*/false});
  }
  for (const v1::NodeInfo& node : view.left_nodes()) {
    if (node.address().empty()) continue;
    v1::Member m;
    *m.mutable_node() = node;
    m.set_state(v1::Member::DOWN);  // out of the ring
    reports.push_back({std::move(m), absl::UnknownError(""), /*left=*/true});
  }
  struct Call {
    grpc::ClientContext context;
    v1::NodeStatusRequest request;
    v1::NodeStatus response;
    grpc::Status status;
    std::unique_ptr<v1::AdminService::Stub> stub;
  };
  std::vector<Call> calls(reports.size());
  absl::BlockingCounter done(static_cast<int>(reports.size()));
  for (size_t i = 0; i < reports.size(); ++i) {
    Call& call = calls[i];
    call.stub = v1::AdminService::NewStub(
        NewChannel(reports[i].member.node().address()));
    call.context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    call.stub->async()->Status(&call.context, &call.request, &call.response,
                               [&call, &done](grpc::Status status) {
                                 call.status = std::move(status);
                                 done.DecrementCount();
                               });
  }
  done.Wait();
  std::vector<MemberReport> answered;
  for (size_t i = 0; i < reports.size(); ++i) {
    MemberReport& report = reports[i];
    if (report.left &&
        (!calls[i].status.ok() ||
         calls[i].response.node_id() != report.member.node().id())) {
      // It has handed off and stopped (whatever answers at its old address
      // now is another node).
      continue;
    }
    if (calls[i].status.ok()) {
      report.status = std::move(calls[i].response);
    } else {
      report.status = FromGrpc(calls[i].status, report.member.node().id());
    }
    answered.push_back(std::move(report));
  }
  return answered;
}

absl::StatusOr<v1::RepairProgress> RepairNode(
    const std::string& address,
    const std::function<void(const v1::RepairProgress&)>& progress) {
  auto stub = v1::AdminService::NewStub(NewChannel(address));
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::RepairProgress>> reader =
      stub->Repair(&context, v1::RepairRequest());
  v1::RepairProgress message, last;
  while (reader->Read(&message)) {
    progress(message);
    last = message;
  }
  grpc::Status status = reader->Finish();
  if (!status.ok())
    return FromGrpc(status, absl::StrCat("the node at ", address));
  if (!last.done()) {
    return absl::UnavailableError(
        absl::StrCat("the node at ", address, " ended the round unfinished"));
  }
  return last;
}

namespace {

constexpr char kBackupFile[] = "SHOPLIST-BACKUP";

}  // namespace

absl::StatusOr<BackupProgress> BackupNode(
    const std::string& address, const std::string& dir,
    const std::function<void(const BackupProgress&)>& progress) {
  std::error_code error;
  if (std::filesystem::exists(dir, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, " exists: a backup goes into a new directory"));
  }
  leveldb::Options options;
  options.create_if_missing = true;
  options.error_if_exists = true;
  leveldb::DB* raw = nullptr;
  if (leveldb::Status s = leveldb::DB::Open(options, dir, &raw); !s.ok()) {
    return storage::FromLevelDb(s, dir);
  }
  std::unique_ptr<leveldb::DB> db(raw);
  auto stub = v1::AdminService::NewStub(NewChannel(address));
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::BackupChunk>> reader =
      stub->Backup(&context, v1::BackupRequest());
  v1::BackupChunk chunk;
  BackupProgress done;
  std::string node_id;
  bool complete = false;
  while (reader->Read(&chunk)) {
    leveldb::WriteBatch batch;
    for (const v1::BackupRecord& record : chunk.records()) {
      batch.Put(record.key(), record.value());
      done.bytes += record.key().size() + record.value().size();
    }
    done.records += static_cast<uint64_t>(chunk.records_size());
    if (leveldb::Status s = db->Write(leveldb::WriteOptions(), &batch);
        !s.ok()) {
      context.TryCancel();
      reader->Finish();
      return storage::FromLevelDb(s, dir);
    }
    progress(done);
    if (chunk.done()) {
      complete = chunk.records_total() == done.records;
      node_id = chunk.node_id();
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) {
    return FromGrpc(status, absl::StrCat("the node at ", address));
  }
  if (!complete) {
    return absl::DataLossError(absl::StrCat("the backup from ", address,
                                            " ended without all its records"));
  }
  leveldb::WriteOptions sync;
  sync.sync = true;
  leveldb::WriteBatch none;
  if (leveldb::Status s = db->Write(sync, &none); !s.ok()) {
    return storage::FromLevelDb(s, dir);
  }
  db.reset();
  // Written last: a directory with it is a whole backup.
  std::ofstream meta(std::filesystem::path(dir) / kBackupFile);
  meta << nlohmann::ordered_json{{"node_id", node_id},
                                 {"records", done.records},
                                 {"bytes", done.bytes},
                                 {"finished_unix_ms",
                                  absl::ToUnixMillis(absl::Now())}}
              .dump()
       << "\n";
  meta.close();
  if (!meta) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", kBackupFile, " in ", dir));
  }
  return done;
}

absl::StatusOr<std::pair<std::string, uint64_t>> RestoreBackup(
    const std::string& backup_dir, const std::string& data_dir) {
  std::ifstream meta(std::filesystem::path(backup_dir) / kBackupFile);
  const nlohmann::json about = nlohmann::json::parse(meta, nullptr, false);
  if (!meta || !about.is_object() || !about.contains("node_id") ||
      !about.contains("records")) {
    return absl::InvalidArgumentError(absl::StrCat(
        backup_dir, " is not a whole backup (no readable ", kBackupFile, ")"));
  }
  leveldb::Options options;
  leveldb::DB* raw = nullptr;
  if (leveldb::Status s = leveldb::DB::Open(options, backup_dir, &raw);
      !s.ok()) {
    return storage::FromLevelDb(s, backup_dir);
  }
  std::unique_ptr<leveldb::DB> db(raw);
  std::unique_ptr<leveldb::Iterator> it(
      db->NewIterator(leveldb::ReadOptions()));
  it->SeekToFirst();
  absl::StatusOr<uint64_t> restored =
      storage::RestoreData(data_dir, [&](std::string* key, std::string* value) {
        if (!it->Valid()) return false;
        key->assign(it->key().data(), it->key().size());
        value->assign(it->value().data(), it->value().size());
        it->Next();
        return true;
      });
  if (!restored.ok()) return restored.status();
  if (!it->status().ok()) return storage::FromLevelDb(it->status(), backup_dir);
  return std::make_pair(about["node_id"].get<std::string>(), *restored);
}

}  // namespace shoplist::admin
