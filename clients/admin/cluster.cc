#include "clients/admin/cluster.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "grpcpp/grpcpp.h"
#include "services/common/channels.h"
#include "services/common/status_util.h"
#include "shoplist/v1/admin_service.grpc.pb.h"
#include "shoplist/v1/membership_service.grpc.pb.h"

namespace shoplist::admin {
namespace {

absl::Status FromGrpc(const grpc::Status& status, absl::string_view what) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

}  // namespace

absl::StatusOr<v1::RingView> FetchView(const std::string& proxy,
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

std::vector<MemberReport> AskMembers(const v1::RingView& view,
                                     absl::Duration timeout) {
  struct Call {
    grpc::ClientContext context;
    v1::NodeStatusRequest request;
    v1::NodeStatus response;
    grpc::Status status;
    std::unique_ptr<v1::AdminService::Stub> stub;
  };
  std::vector<Call> calls(static_cast<size_t>(view.members_size()));
  absl::BlockingCounter done(view.members_size());
  for (int i = 0; i < view.members_size(); ++i) {
    Call& call = calls[static_cast<size_t>(i)];
    call.stub =
        v1::AdminService::NewStub(NewChannel(view.members(i).node().address()));
    call.context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    call.stub->async()->Status(&call.context, &call.request, &call.response,
                               [&call, &done](grpc::Status status) {
                                 call.status = std::move(status);
                                 done.DecrementCount();
                               });
  }
  done.Wait();
  std::vector<MemberReport> reports;
  for (int i = 0; i < view.members_size(); ++i) {
    Call& call = calls[static_cast<size_t>(i)];
    MemberReport& report = reports.emplace_back(
        MemberReport{view.members(i), absl::UnknownError("")});
    if (call.status.ok()) {
      report.status = std::move(call.response);
    } else {
      report.status = FromGrpc(call.status, view.members(i).node().id());
    }
  }
  return reports;
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

}  // namespace shoplist::admin
