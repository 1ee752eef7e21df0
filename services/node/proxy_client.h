// A node's link to the proxies: registers with and heartbeats to every
// proxy, follows each proxy's ring-view stream (re-opened with back-off
// when it drops), and reports unreachable replicas to all of them.
//
// As a RingSource it serves the newest view of the first proxy whose stream
// is open, so one proxy going away changes nothing for the coordinator.
// Views older than the one already held from a proxy are ignored.
//
// Thread-safe. Uses the synchronous stub API on threads of its own, never
// on a request path; stubs come in as StubInterface so tests can pass the
// generated gMock stubs.
#ifndef SHOPLIST_SERVICES_NODE_PROXY_CLIENT_H_
#define SHOPLIST_SERVICES_NODE_PROXY_CLIENT_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/node/peer_health.h"
#include "services/node/ring_source.h"
#include "shoplist/v1/membership_service.grpc.pb.h"

namespace shoplist::node {

struct ProxyClientOptions {
  absl::Duration heartbeat_interval = absl::Seconds(1);
  absl::Duration call_timeout = absl::Seconds(2);
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(3);
  // Reports about one node are sent at most this often.
  absl::Duration report_interval = absl::Seconds(1);
};

class ProxyClient final : public RingSource, public FailureSink {
 public:
  ProxyClient(v1::NodeInfo self,
              std::vector<std::unique_ptr<v1::MembershipService::StubInterface>>
                  proxies,
              ProxyClientOptions options = {});
  // Stops every thread.
  ~ProxyClient() override;

  // Called once, from a stream thread, with the view that says this node
  // left the ring (a graceful Leave). Set before Start().
  void set_on_left(std::function<void(std::shared_ptr<const RingView>)> f) {
    on_left_ = std::move(f);
  }

  void Start();
  // Blocks until some proxy delivered a view (true) or `timeout` passed.
  bool WaitForView(absl::Duration timeout);

  std::shared_ptr<const RingView> Current() const override;
  void ReportFailure(const std::string& node_id,
                     const std::string& reason) override;

  // Feeds one view from proxy `index` (the stream threads call this).
  // Returns false when it was stale and ignored.
  bool OnView(size_t index, const v1::RingView& view);
  // Stops taking views from proxy `index` until its stream delivers again.
  void Unfollow(size_t index, const grpc::Status& why);

  // One registration round with proxy `index`: Join when not yet joined or
  // when the proxy forgot this node, else Heartbeat. Returns the call's
  // status.
  grpc::Status RegisterOnce(size_t index);
  // Sends the queued failure reports to every proxy.
  void FlushReports();

 private:
  struct Proxy;
  void RegistrationLoop(size_t index);
  void SubscriptionLoop(size_t index);
  void ReportLoop();
  bool Stopping() const;
  // Waits `d` or until Stop; returns false when stopping.
  bool Sleep(absl::Duration d);

  const v1::NodeInfo self_;
  const ProxyClientOptions options_;
  std::vector<std::unique_ptr<Proxy>> proxies_;

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<const RingView> empty_;
  std::deque<std::pair<std::string, std::string>> reports_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::Time> last_report_
      ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
  std::function<void(std::shared_ptr<const RingView>)> on_left_;
  std::atomic<bool> left_{false};
  std::atomic<bool> was_member_{false};
};

// Stubs for proxies at `addresses`, one channel each.
std::vector<std::unique_ptr<v1::MembershipService::StubInterface>>
NewProxyStubs(const std::vector<std::string>& addresses);

}  // namespace shoplist::node

#endif  // SHOPLIST_SERVICES_NODE_PROXY_CLIENT_H_
