// Keeps gRPC's process-wide callback machinery alive until the test process
// exits, as a gtest environment set up before the first test. A test that
// builds and destroys every gRPC object lets the library wind down and
// start again within one process; gRPC 1.51's callback completion queue
// then aborts now and then ("ref_counted.h: assertion failed: prior > 0" in
// grpc_cq_internal_unref on a callback thread; 2 of 600 runs of a gateway
// test, 0 of 1,200 with this). Servers never do that: they start gRPC once.
// Linked into the tests as an object library, so the registration below
// is not dropped by the linker.
#include <memory>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "shoplist/v1/list_service.grpc.pb.h"

namespace shoplist::testing {
namespace {

// Never destroyed: a channel holds the library and, once it has made a
// callback call, the callback completion queue. Globals, so that
// LeakSanitizer sees them held to the end (scripts/sanitize.sh).
std::shared_ptr<grpc::Channel>* kept_channel = nullptr;
v1::ListService::Stub* kept_stub = nullptr;

class KeepGrpcAlive final : public ::testing::Environment {
 public:
  void SetUp() override {
    kept_channel = new std::shared_ptr<grpc::Channel>(
        grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
    kept_stub = v1::ListService::NewStub(*kept_channel).release();
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now()));
    v1::PingRequest request;
    v1::PingResponse response;
    absl::Notification done;
    kept_stub->async()->Ping(&context, &request, &response,
                             [&done](grpc::Status) { done.Notify(); });
    done.WaitForNotification();
  }
};

[[maybe_unused]] ::testing::Environment* const kKept =
    ::testing::AddGlobalTestEnvironment(new KeepGrpcAlive);

}  // namespace
}  // namespace shoplist::testing
