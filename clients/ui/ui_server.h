// `shoplist-cli ui`: a home's lists in a browser, served on 127.0.0.1
// only. A thin front-end over the client library: each HTTP handler
// decodes its parameters, makes one call to the Home and encodes the
// result as the JSON of docs/json.md (the same as `shoplist-cli --json`),
// with the HTTP status of client::HttpStatus for errors.
//
// Beside the handlers run:
//   - one ListWatch per list of the home, merging what others change;
//   - a background loop that follows the home's connectivity policy
//     (CloudLink): it pushes pending changes when a proxy answers, probes
//     while offline (about once a second at most), and so brings every
//     watch back at once when the cloud returns.
// Each change, and each switch between online and offline, is pushed to
// open pages as a server-sent event, so pages never poll.
//
// Thread-safety: Serve() blocks; Stop() may be called from any thread.
#ifndef SHOPLIST_CLIENTS_UI_UI_SERVER_H_
#define SHOPLIST_CLIENTS_UI_UI_SERVER_H_

#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "clients/core/home.h"
#include "grpcpp/client_context.h"

namespace httplib {
class Server;
}

namespace shoplist::ui {

class EventHub;

class UiServer {
 public:
  // `home` must outlive the server.
  explicit UiServer(client::Home& home);
  ~UiServer();

  UiServer(const UiServer&) = delete;
  UiServer& operator=(const UiServer&) = delete;

  // Serves on 127.0.0.1:`port` until Stop(); prints the page's address to
  // `out` once listening. UNAVAILABLE when the port cannot be bound.
  absl::Status Serve(int port, std::ostream& out);
  void Stop();

 private:
  struct RunningWatch {
    std::unique_ptr<client::ListWatch> watch;
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  void Routes();
  // The background loop: sync, probe, watches; until Stop().
  void Loop();
  // One watch per list in `ids`; stops those of lists no longer there.
  void KeepWatches(const std::vector<std::string>& ids);
  void StopWatches();
  bool stopped() const;

  client::Home& home_;
  std::unique_ptr<EventHub> hub_;
  std::unique_ptr<httplib::Server> http_;

  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* wait_ ABSL_GUARDED_BY(mu_) = nullptr;  // the loop's

  // Only the loop's thread touches the watches.
  std::map<std::string, RunningWatch> watches_;
};

}  // namespace shoplist::ui

#endif  // SHOPLIST_CLIENTS_UI_UI_SERVER_H_
