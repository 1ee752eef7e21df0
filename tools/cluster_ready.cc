// shoplist-ready: waits until a proxy's ring view has the expected number of
// nodes up and every one of them answers a ping with the ring in hand. Used by
// the local cluster script; exits 0 when ready, 1 on time-out.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "services/common/channels.h"
#include "services/common/flag_names.h"
#include "services/common/security_flags.h"
#include "shoplist/v1/list_service.grpc.pb.h"
#include "shoplist/v1/membership_service.grpc.pb.h"

ABSL_FLAG(std::string, proxy, "127.0.0.1:7000", "Proxy to ask");
ABSL_FLAG(int, nodes, 3, "Nodes that must be up");
ABSL_FLAG(int, timeout_s, 30, "Give up after this many seconds");

namespace {

bool Ready(shoplist::v1::MembershipService::Stub& proxy, int want) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  // Wait for the connection instead of failing fast while it comes up.
  context.set_wait_for_ready(true);
  auto reader = proxy.Subscribe(&context, {});
  shoplist::v1::RingView view;
  if (!reader->Read(&view)) return false;
  context.TryCancel();
  int up = 0;
  for (const auto& m : view.members()) {
    if (m.state() != shoplist::v1::Member::UP) continue;
    auto node = shoplist::v1::ListService::NewStub(
        shoplist::NewChannel(m.node().address()));
    grpc::ClientContext ping_context;
    ping_context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    ping_context.set_wait_for_ready(true);
    shoplist::v1::PingResponse pong;
    // A node coordinates only once it holds the ring.
    if (node->Ping(&ping_context, {}, &pong).ok() && pong.ring_version() > 0) {
      ++up;
    }
  }
  return up >= want;
}

}  // namespace

int main(int argc, char** argv) {
  shoplist::NormalizeFlagNames(argc, argv);
  absl::ParseCommandLine(argc, argv);
  // The ring view is the cluster's own business: it takes the cluster token
  // (and TLS) flags the servers take.
  absl::StatusOr<shoplist::SecurityOptions> security =
      shoplist::UseSecurityFlags();
  if (!security.ok()) {
    std::fprintf(stderr, "shoplist-ready: %s\n",
                 std::string(security.status().message()).c_str());
    return 2;
  }
  auto proxy = shoplist::v1::MembershipService::NewStub(
      shoplist::NewChannel(absl::GetFlag(FLAGS_proxy)));
  absl::Time deadline =
      absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_timeout_s));
  while (absl::Now() < deadline) {
    if (Ready(*proxy, absl::GetFlag(FLAGS_nodes))) return 0;
    absl::SleepFor(absl::Milliseconds(200));
  }
  std::fprintf(stderr, "shoplist-ready: %d node(s) not up at %s after %d s\n",
               absl::GetFlag(FLAGS_nodes), absl::GetFlag(FLAGS_proxy).c_str(),
               absl::GetFlag(FLAGS_timeout_s));
  return 1;
}
