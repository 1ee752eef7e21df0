// The home's way to the cloud, and the one connectivity policy that every
// sync, watch and background loop of a home follows.
//
// A CloudLink holds one ListService stub per proxy (one channel each,
// shared by everything the home does) and what the home knows of them:
//   - Calls start at the proxy that answered last (preferred()) and move on
//     to the next when a proxy is unreachable (UNAVAILABLE or
//     DEADLINE_EXCEEDED). Every call's outcome is reported with Reached or
//     Unreachable; the home is online while the last report was Reached.
//   - After a failed attempt a caller waits for the proxy instead of
//     sleeping: AwaitProxy resets gRPC's connection back-off (which would
//     otherwise wait up to 2 s between connection attempts) and pings with
//     wait_for_ready for up to RetryDelay(failures) (100 ms, doubling,
//     capped at 1 s). gRPC keeps trying to connect meanwhile, so the wait
//     ends within moments of the proxy's return; a proxy that stays away
//     costs a few refused connections a second, so the CPU stays bounded
//     however long the outage.
//   - When any call reaches a proxy after the home was offline, every
//     waiting AwaitProxy is cut short, so its caller tries again at once:
//     one success (a sync, a probe, a change made in the page) brings
//     every watch back.
//
// Thread-safe. The stubs are used concurrently (gRPC stubs are).
#ifndef SHOPLIST_CLIENTS_CORE_CLOUD_LINK_H_
#define SHOPLIST_CLIENTS_CORE_CLOUD_LINK_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "shoplist/v1/list_service.grpc.pb.h"

namespace shoplist::client {

class CloudLink {
 public:
  using Stub = v1::ListService::StubInterface;

  // Channels to `addresses` ("host:port,host:port"), opened with the
  // process's channel settings (services/common/channels.h) on first use,
  // so commands that never call the cloud do not start gRPC. No address
  // gives a link that is always offline.
  static std::shared_ptr<CloudLink> Connect(const std::string& addresses);

  // A link over given stubs (tests pass gMock stubs). `channels`, when
  // given, are the stubs' channels, index by index, whose back-off Probe
  // resets; without them Probe only pings. `addresses` is for messages.
  explicit CloudLink(std::vector<std::unique_ptr<Stub>> stubs,
                     std::vector<std::shared_ptr<grpc::Channel>> channels = {},
                     std::string addresses = "");

  CloudLink(const CloudLink&) = delete;
  CloudLink& operator=(const CloudLink&) = delete;

  size_t size() const { return size_; }
  // REQUIRES: i < size().
  Stub& stub(size_t i);
  // The proxies, as given ("host:port,..."), for messages.
  const std::string& addresses() const { return addresses_; }

  // The proxy to try first: the one a call reached last.
  size_t preferred() const;
  bool online() const;
  // Counts the times the home came back online; see WaitToRetry.
  uint64_t reconnects() const;

  // A call reached proxy `i` (it answered, whatever it answered, except
  // UNAVAILABLE). Wakes every waiter when the home was offline.
  void Reached(size_t i);
  // A call could not reach proxy `i`.
  void Unreachable(size_t i);
  // Reports `status` of a call to proxy `i` (Reached unless IsUnreachable)
  // and returns whether it was reached.
  bool Report(size_t i, const grpc::Status& status);

  // Resets proxy `i`'s connection back-off and pings it, waiting up to
  // `wait` for a connection. `context` is fresh and the caller's, so it can
  // cancel the wait (TryCancel). The wait also ends, without a report, when
  // another call brings the home back online. Otherwise reports the
  // outcome; a failure that comes early (a proxy that refuses at once)
  // still waits out `wait`, so callers are paced. True when the proxy
  // answered.
  bool AwaitProxy(size_t i, absl::Duration wait, grpc::ClientContext* context);
  // AwaitProxy on every proxy in turn from preferred(), `wait` each, until
  // one answers.
  bool ProbeAny(absl::Duration wait = kProbeWait);

  // Sleeps `delay`, or less: when Wake() is called or a call brings the
  // home back online, and `stop` is null or returns true.
  void Sleep(absl::Duration delay, const std::function<bool()>& stop);
  // Wakes every Sleep so it checks its `stop`.
  void Wake();

  // Called with the new state whenever the home goes online or offline
  // (outside the link's lock, on the reporting thread). One listener.
  void SetListener(std::function<void(bool online)> listener);

  // 100 ms after the first failure, doubling, capped at 1 s; 0 for none.
  static absl::Duration RetryDelay(int failures);
  // UNAVAILABLE and DEADLINE_EXCEEDED: the proxy was not reached (or could
  // not reach the cloud behind it); another proxy may do better.
  static bool IsUnreachable(const grpc::Status& status);

  static constexpr absl::Duration kProbeWait = absl::Milliseconds(300);

 private:
  void Set(size_t i, bool reached);
  void OpenChannels();

  const std::string addresses_;
  size_t size_ = 0;
  // Filled once: by the constructor, or by OpenChannels on first use.
  absl::once_flag opened_;
  std::vector<std::unique_ptr<Stub>> stubs_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;

  mutable absl::Mutex mu_;
  size_t preferred_ ABSL_GUARDED_BY(mu_) = 0;
  bool online_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t reconnects_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t wakes_ ABSL_GUARDED_BY(mu_) = 0;
  // The contexts of AwaitProxy calls in flight.
  absl::flat_hash_set<grpc::ClientContext*> waits_ ABSL_GUARDED_BY(mu_);

  // Held while telling the listener, so it hears changes in order.
  absl::Mutex listener_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::function<void(bool)> listener_ ABSL_GUARDED_BY(listener_mu_);
  bool told_online_ ABSL_GUARDED_BY(listener_mu_) = false;
};

}  // namespace shoplist::client

#endif  // SHOPLIST_CLIENTS_CORE_CLOUD_LINK_H_
