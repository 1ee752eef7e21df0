#include "clients/cli/ui_server.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <streambuf>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/cli/local_store.h"
#include "clients/cli/sync_engine.h"
#include "clients/cli/ui_assets.h"
#include "httplib.h"

namespace shoplist::cli {
namespace {

// Server-sent events for every open page: a growing sequence of events,
// each page's stream sending those after the last it sent.
class EventHub {
 public:
  void Publish(const std::string& type, const std::string& data) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back({++last_, type, data});
      if (events_.size() > 256) events_.pop_front();
    }
    cv_.notify_all();
  }
  uint64_t last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }
  // Events after `seen`, waiting up to `wait` for one.
  std::vector<std::pair<std::string, std::string>> After(uint64_t* seen,
                                                         absl::Duration wait) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, absl::ToChronoMilliseconds(wait),
                 [&] { return last_ > *seen || closed_; });
    std::vector<std::pair<std::string, std::string>> out;
    for (const Event& e : events_) {
      if (e.seq > *seen) out.push_back({e.type, e.data});
    }
    *seen = last_;
    return out;
  }
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  bool closed() {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

 private:
  struct Event {
    uint64_t seq;
    std::string type, data;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  uint64_t last_ = 0;
  bool closed_ = false;
};

// An output stream that calls `on_line` after each complete line: what
// Cli::Watch prints becomes a "changed" event.
class LineSignal : public std::streambuf {
 public:
  explicit LineSignal(std::function<void()> on_line)
      : on_line_(std::move(on_line)) {}

 protected:
  int_type overflow(int_type c) override {
    if (c == '\n') on_line_();
    return c;
  }

 private:
  std::function<void()> on_line_;
};

// Whether the JSON of `shoplist-cli lists` shows any unsynced change.
bool AnyUnsynced(const std::string& lists_json) {
  const std::string key = "\"unsynced\": ";
  for (size_t at = lists_json.find(key); at != std::string::npos;
       at = lists_json.find(key, at + 1)) {
    char first = lists_json[at + key.size()];
    if (first >= '1' && first <= '9') return true;
  }
  return false;
}

struct CommandResult {
  int code = 0;
  std::string out, err;
};

class UiServer {
 public:
  UiServer(const CliOptions& options, std::ostream& err)
      : options_(options), log_(err) {
    options_.json = true;
    options_.yes = true;  // the page asks before deleting
  }

  // Runs one CLI command the way the terminal would.
  CommandResult Run(const std::function<int(Cli&)>& command) {
    std::ostringstream out, err;
    std::istringstream in;
    Cli cli(options_, out, err, in);
    CommandResult r;
    r.code = command(cli);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  void Reply(const CommandResult& r, httplib::Response& res,
             const std::string& notify_list) {
    if (r.code == 0) {
      res.set_content(r.out.empty() ? "{}" : r.out, "application/json");
      if (!notify_list.empty()) hub_.Publish("changed", notify_list);
      return;
    }
    std::string message = r.err;
    while (!message.empty() && message.back() == '\n') message.pop_back();
    const std::string prefix = "shoplist-cli: ";
    if (message.rfind(prefix, 0) == 0) message = message.substr(prefix.size());
    res.status = r.code == 2 ? 400 : 409;
    // A change saved locally but not synced is not an error for the page.
    if (r.code == 1 && !r.out.empty()) {
      res.status = 200;
      res.set_content(r.out, "application/json");
      if (!notify_list.empty()) hub_.Publish("changed", notify_list);
      return;
    }
    res.set_content(absl::StrCat("{\"error\": ", JsonString(message), "}"),
                    "application/json");
  }

  int Serve(int port, const std::function<bool()>& stop, std::ostream& out);

 private:
  void Routes();
  void WatchLoop(const std::function<bool()>& stop);
  void SyncLoop(const std::function<bool()>& stop);
  std::vector<std::string> ListIds();

  CliOptions options_;
  std::ostream& log_;
  EventHub hub_;
  httplib::Server http_;
  std::atomic<bool> online_{false};
};

std::vector<std::string> UiServer::ListIds() {
  absl::StatusOr<std::unique_ptr<LocalStore>> store =
      LocalStore::Open(options_.home);
  if (!store.ok()) return {};
  absl::StatusOr<std::vector<std::string>> ids = (*store)->ListIds();
  return ids.ok() ? *ids : std::vector<std::string>();
}

// One Cli::Watch per list of the home; lists that appear get one, a watch
// that ends (the list was forgotten or deleted) is not restarted unless
// the list is still there.
void UiServer::WatchLoop(const std::function<bool()>& stop) {
  struct Watcher {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done, cancel;
    std::unique_ptr<LineSignal> signal;
    std::unique_ptr<std::ostream> out;
    std::unique_ptr<std::ostringstream> err;
  };
  std::map<std::string, Watcher> watchers;
  while (!stop()) {
    std::vector<std::string> ids = ListIds();
    for (auto it = watchers.begin(); it != watchers.end();) {
      bool present = std::find(ids.begin(), ids.end(), it->first) != ids.end();
      if (!present) it->second.cancel->store(true);
      if (it->second.done->load()) {
        it->second.thread.join();
        it = watchers.erase(it);
      } else {
        ++it;
      }
    }
    for (const std::string& id : ids) {
      if (watchers.count(id)) continue;
      Watcher w;
      w.done = std::make_shared<std::atomic<bool>>(false);
      w.cancel = std::make_shared<std::atomic<bool>>(false);
      w.signal = std::make_unique<LineSignal>(
          [this, id] { hub_.Publish("changed", id); });
      w.out = std::make_unique<std::ostream>(w.signal.get());
      w.err = std::make_unique<std::ostringstream>();
      std::ostream* out = w.out.get();
      std::ostream* err = w.err.get();
      auto done = w.done;
      auto cancel = w.cancel;
      w.thread = std::thread([this, id, out, err, done, cancel, &stop] {
        std::istringstream in;
        Cli cli(options_, *out, *err, in);
        cli.Watch(id, [&] { return stop() || cancel->load(); });
        hub_.Publish("changed", id);
        done->store(true);
      });
      watchers.emplace(id, std::move(w));
    }
    absl::SleepFor(absl::Milliseconds(500));
  }
  for (auto& [id, w] : watchers) {
    w.cancel->store(true);
    w.thread.join();
  }
}

// Pushes pending changes and tells pages whether the proxies answer.
void UiServer::SyncLoop(const std::function<bool()>& stop) {
  auto stubs = NewListStubs(options_.proxies);
  while (!stop()) {
    bool online = false;
    for (auto& stub : stubs) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
      v1::PingResponse pong;
      if (stub->Ping(&context, v1::PingRequest(), &pong).ok()) {
        online = true;
        break;
      }
    }
    if (online && AnyUnsynced(Run([](Cli& cli) { return cli.Lists(); }).out)) {
      if (Run([](Cli& cli) { return cli.Sync(""); }).code == 0) {
        hub_.Publish("changed", "*");
      }
    }
    if (online != online_.exchange(online)) {
      hub_.Publish("status", online ? "online" : "offline");
    }
    for (int i = 0; i < 10 && !stop(); ++i) {
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
}

void UiServer::Routes() {
  http_.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kIndexHtml, "text/html; charset=utf-8");
  });
  http_.Get("/app.js", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kAppJs, "text/javascript; charset=utf-8");
  });
  http_.Get("/style.css", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kStyleCss, "text/css; charset=utf-8");
  });
  http_.Get(
      "/api/status", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(
            absl::StrCat("{\"online\": ", online_ ? "true" : "false",
                         ", \"proxies\": ", JsonString(options_.proxies), "}"),
            "application/json");
      });
  http_.Get("/api/lists",
            [this](const httplib::Request&, httplib::Response& res) {
              Reply(Run([](Cli& cli) { return cli.Lists(); }), res, "");
            });
  http_.Post("/api/lists",
             [this](const httplib::Request& req, httplib::Response& res) {
               std::string title = req.get_param_value("title");
               Reply(Run([&](Cli& cli) { return cli.New(title); }), res, "*");
             });
  http_.Post("/api/join",
             [this](const httplib::Request& req, httplib::Response& res) {
               std::string id = req.get_param_value("id");
               Reply(Run([&](Cli& cli) { return cli.Join(id); }), res, "*");
             });
  http_.Get(R"(/api/lists/([a-z2-7]+))",
            [this](const httplib::Request& req, httplib::Response& res) {
              std::string id = req.matches[1];
              Reply(Run([&](Cli& cli) { return cli.Show(id); }), res, "");
            });
  http_.Post(R"(/api/lists/([a-z2-7]+)/(\w+))", [this](
                                                    const httplib::Request& req,
                                                    httplib::Response& res) {
    const std::string id = req.matches[1];
    const std::string action = req.matches[2];
    const std::string item = req.get_param_value("item");
    std::optional<int64_t> count;
    if (req.has_param("count") && !req.get_param_value("count").empty()) {
      int64_t n = 0;
      if (!absl::SimpleAtoi(req.get_param_value("count"), &n)) {
        res.status = 400;
        res.set_content(R"({"error": "count must be a whole number"})",
                        "application/json");
        return;
      }
      count = n;
    }
    if (action == "add") {
      Reply(Run([&](Cli& cli) { return cli.Add(id, item, count.value_or(1)); }),
            res, id);
    } else if (action == "remove") {
      Reply(Run([&](Cli& cli) { return cli.Remove(id, item, count); }), res,
            id);
    } else if (action == "buy") {
      Reply(Run([&](Cli& cli) { return cli.Buy(id, item, count); }), res, id);
    } else if (action == "rename") {
      std::string title = req.get_param_value("title");
      Reply(Run([&](Cli& cli) { return cli.Rename(id, title); }), res, id);
    } else if (action == "forget") {
      Reply(Run([&](Cli& cli) { return cli.Forget(id); }), res, "*");
    } else if (action == "delete") {
      Reply(Run([&](Cli& cli) { return cli.Delete(id); }), res, "*");
    } else {
      res.status = 404;
      res.set_content(R"({"error": "no such action"})", "application/json");
    }
  });
  http_.Get("/events", [this](const httplib::Request&, httplib::Response& res) {
    auto seen = std::make_shared<uint64_t>(hub_.last());
    res.set_header("Cache-Control", "no-store");
    auto first = std::make_shared<bool>(true);
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, seen, first](size_t, httplib::DataSink& sink) {
          std::string chunk;
          if (*first) {
            *first = false;
            chunk = absl::StrCat("event: status\ndata: ",
                                 online_ ? "online" : "offline", "\n\n");
          } else {
            for (const auto& [type, data] :
                 hub_.After(seen.get(), absl::Seconds(15))) {
              chunk += absl::StrCat("event: ", type, "\ndata: ", data, "\n\n");
            }
            if (hub_.closed()) {
              sink.done();
              return true;
            }
            // A comment keeps the connection from timing out.
            if (chunk.empty()) chunk = ": keep-alive\n\n";
          }
          return sink.write(chunk.data(), chunk.size());
        });
  });
}

int UiServer::Serve(int port, const std::function<bool()>& stop,
                    std::ostream& out) {
  Routes();
  if (!http_.bind_to_port("127.0.0.1", port)) {
    log_ << "shoplist-cli: cannot serve on 127.0.0.1:" << port << "\n";
    return 1;
  }
  std::thread http([this] { http_.listen_after_bind(); });
  out << "shoplist: http://127.0.0.1:" << port << "/  (home " << options_.home
      << "); Ctrl-C to stop" << std::endl;
  std::thread watches([this, &stop] { WatchLoop(stop); });
  std::thread syncs([this, &stop] { SyncLoop(stop); });
  while (!stop()) absl::SleepFor(absl::Milliseconds(100));
  hub_.Close();
  http_.stop();
  http.join();
  watches.join();
  syncs.join();
  return 0;
}

}  // namespace

int ServeUi(const CliOptions& options, int port,
            const std::function<bool()>& stop, std::ostream& out,
            std::ostream& err) {
  if (port < 1 || port > 65535) {
    err << "shoplist-cli: --port must be between 1 and 65535\n";
    return 2;
  }
  UiServer server(options, err);
  return server.Serve(port, stop, out);
}

}  // namespace shoplist::cli
