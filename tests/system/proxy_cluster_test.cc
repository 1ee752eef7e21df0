// Two real proxies and four real nodes on loopback: membership through
// join, leave and failure, ring streams to every subscriber, Locate agreeing
// across proxies, the gateway, and a proxy killed or restarted.
#include <signal.h>

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "crdt/list_id.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "shoplist/v1/list_service.grpc.pb.h"
#include "shoplist/v1/membership_service.grpc.pb.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace shoplist {
namespace {

using testing::ChildProcess;
using testing::Cluster;
using testing::Context;
using testing::TempDir;

// Reads views from one proxy's stream on a thread of its own.
class ViewRecorder {
 public:
  explicit ViewRecorder(v1::MembershipService::Stub& stub)
      : context_(Context(absl::Minutes(5), true)),
        reader_(stub.Subscribe(context_.get(), {})),
        thread_([this] {
          v1::RingView view;
          while (reader_->Read(&view)) {
            absl::MutexLock lock(&mu_);
            views_.push_back(view);
          }
        }) {}
  ~ViewRecorder() {
    context_->TryCancel();
    thread_.join();
    reader_->Finish();
  }
  // Waits for a view satisfying `match`.
  bool WaitFor(const std::function<bool(const v1::RingView&)>& match) {
    return testing::WaitFor(absl::Seconds(20), [&] {
      absl::MutexLock lock(&mu_);
      for (const auto& v : views_) {
        if (match(v)) return true;
      }
      return false;
    });
  }
  std::vector<uint64_t> Versions() {
    absl::MutexLock lock(&mu_);
    std::vector<uint64_t> versions;
    for (const auto& v : views_) versions.push_back(v.version());
    return versions;
  }

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderInterface<v1::RingView>> reader_;
  absl::Mutex mu_;
  std::vector<v1::RingView> views_;
  std::thread thread_;
};

bool HasMember(const v1::RingView& view, const std::string& id,
               v1::Member::State state) {
  for (const auto& m : view.members()) {
    if (m.node().id() == id) return m.state() == state;
  }
  return false;
}

std::vector<std::string> Locate(v1::MembershipService::Stub& stub,
                                const std::string& list_id) {
  v1::LocateRequest request;
  request.set_list_id(list_id);
  v1::LocateResponse response;
  grpc::Status status =
      stub.Locate(Context(absl::Seconds(2)).get(), request, &response);
  // An error is never an answer two proxies can agree on.
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::vector<std::string> ids;
  for (const auto& n : response.preference_list()) ids.push_back(n.id());
  EXPECT_FALSE(ids.empty()) << "no preference list for " << list_id;
  return ids;
}

TEST(ProxyClusterTest, MembershipStreamsLocateAndGatewayAcrossTwoProxies) {
  TempDir dir;
  Cluster cluster(2, 4, dir);
  ASSERT_TRUE(cluster.WaitForView(0, 4, 4));
  ASSERT_TRUE(cluster.WaitForView(1, 4, 4));

  // Same membership, same ring: both proxies agree on every list.
  for (int i = 0; i < 200; ++i) {
    std::string id = *crdt::NewListId();
    std::vector<std::string> a = Locate(cluster.membership(0), id);
    ASSERT_EQ(a.size(), 3u);
    EXPECT_EQ(a, Locate(cluster.membership(1), id));
  }

  // Subscribers see every change, in increasing versions.
  ViewRecorder watch0(cluster.membership(0));
  ViewRecorder watch1(cluster.membership(1));
  int fifth = cluster.AddNode();
  for (ViewRecorder* w : {&watch0, &watch1}) {
    EXPECT_TRUE(w->WaitFor([&](const v1::RingView& v) {
      return v.members_size() == 5 &&
             HasMember(v, cluster.node_id(fifth), v1::Member::UP);
    })) << "join not streamed";
  }
  cluster.node(fifth).Kill();
  for (int p = 0; p < 2; ++p) {
    v1::LeaveRequest leave;
    leave.set_node_id(cluster.node_id(fifth));
    v1::LeaveResponse left;
    ASSERT_TRUE(cluster.membership(p)
                    .Leave(Context(absl::Seconds(2)).get(), leave, &left)
                    .ok());
  }
  for (ViewRecorder* w : {&watch0, &watch1}) {
    EXPECT_TRUE(w->WaitFor([&](const v1::RingView& v) {
      return v.members_size() == 4;
    })) << "leave not streamed";
    std::vector<uint64_t> versions = w->Versions();
    EXPECT_TRUE(std::is_sorted(versions.begin(), versions.end()));
  }

  // The gateway: write through one proxy, read through the other.
  std::string id = *crdt::NewListId();
  v1::ApplyRequest apply;
  apply.set_list_id(id);
  apply.mutable_operation()->mutable_create()->set_title("party");
  v1::ApplyResponse applied;
  grpc::Status status = cluster.gateway(0).Apply(
      Context(absl::Seconds(5)).get(), apply, &applied);
  ASSERT_TRUE(status.ok()) << status.error_message();
  apply.mutable_operation()->mutable_add()->set_item("cake");
  apply.mutable_operation()->mutable_add()->set_count(1);
  ASSERT_TRUE(cluster.gateway(0)
                  .Apply(Context(absl::Seconds(5)).get(), apply, &applied)
                  .ok());
  v1::GetRequest get;
  get.set_list_id(id);
  v1::GetResponse got;
  status = cluster.gateway(1).Get(Context(absl::Seconds(5)).get(), get, &got);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(got.view().title(), "party");
  ASSERT_EQ(got.view().items_size(), 1);
  EXPECT_EQ(got.view().items(0).name(), "cake");

  // A failed node is marked down (by heartbeat time-out or a coordinator's
  // report) but keeps its place: Locate skips it, its ring is unchanged.
  std::vector<std::string> before = Locate(cluster.membership(1), id);
  cluster.node(1).Kill();
  ASSERT_TRUE(cluster.WaitForView(1, 4, 3));
  std::vector<std::string> after = Locate(cluster.membership(1), id);
  EXPECT_EQ(std::count(after.begin(), after.end(), cluster.node_id(1)), 0);
  EXPECT_EQ(after.size(), 3u);
  cluster.StartNode(1);
  ASSERT_TRUE(cluster.WaitForView(1, 4, 4));
  EXPECT_EQ(Locate(cluster.membership(1), id), before);
}

TEST(ProxyClusterTest, KillingOneProxyOfTwoLeavesTheSystemWorking) {
  TempDir dir;
  Cluster cluster(2, 3, dir);
  ASSERT_TRUE(cluster.WaitForView(0, 3, 3));
  ASSERT_TRUE(cluster.WaitForView(1, 3, 3));
  cluster.proxy(0).Kill();

  // Nodes keep coordinating with the other proxy's view; the surviving
  // proxy serves clients.
  for (int i = 0; i < 20; ++i) {
    std::string id = *crdt::NewListId();
    v1::ApplyRequest apply;
    apply.set_list_id(id);
    apply.mutable_operation()->mutable_create()->set_title("after");
    v1::ApplyResponse applied;
    grpc::Status status = cluster.gateway(1).Apply(
        Context(absl::Seconds(5)).get(), apply, &applied);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_GE(applied.acks(), 2u);
  }

  // Membership survives a proxy restart, and the restarted proxy serves the
  // same ring as the one that stayed up.
  cluster.StartProxy(0);
  ASSERT_TRUE(cluster.WaitForView(0, 3, 3));
  for (int i = 0; i < 50; ++i) {
    std::string id = *crdt::NewListId();
    EXPECT_EQ(Locate(cluster.membership(0), id),
              Locate(cluster.membership(1), id));
  }
  cluster.proxy(1).Signal(SIGTERM);
  EXPECT_EQ(cluster.proxy(1).Wait(absl::Seconds(10)), 0);
}

}  // namespace
}  // namespace shoplist
