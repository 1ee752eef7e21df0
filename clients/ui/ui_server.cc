#include "clients/ui/ui_server.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "access/capability.h"
#include "clients/core/json.h"
#include "clients/core/status_codes.h"
#include "clients/core/suggest.h"
#include "clients/ui/ui_assets.h"
#include "httplib.h"

namespace shoplist::ui {

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

namespace {

constexpr char kJson[] = "application/json";

void ReplyError(const absl::Status& status, httplib::Response& res) {
  res.status = client::HttpStatus(status);
  res.set_content(client::ErrorJson(status).dump(), kJson);
}

// The document of a list and of something read about it (its history,
// what was bought on it before): `read()` gives the second.
template <typename Read, typename Encode>
void ReplyAbout(client::Home& home, const std::string& id, Read read,
                Encode encode, httplib::Response& res) {
  absl::StatusOr<client::ListInfo> list = home.Show(id);
  if (!list.ok()) return ReplyError(list.status(), res);
  auto about = read();
  if (!about.ok()) return ReplyError(about.status(), res);
  res.set_content(encode(*list, *about).dump(), kJson);
}

// Encodes `result` (or its error). On success, tells pages that `changed`
// changed (a list id, "*" for the list of lists, empty for nothing).
template <typename T, typename Encode>
void Reply(const absl::StatusOr<T>& result, Encode encode,
           httplib::Response& res, EventHub& hub, const std::string& changed) {
  if (!result.ok()) return ReplyError(result.status(), res);
  res.set_content(encode(*result).dump(), kJson);
  if (!changed.empty()) hub.Publish("changed", changed);
}

// The optional `count` parameter: nullopt when absent or empty.
absl::StatusOr<std::optional<int64_t>> Count(const httplib::Request& req) {
  if (!req.has_param("count") || req.get_param_value("count").empty()) {
    return std::nullopt;
  }
  int64_t n = 0;
  if (!absl::SimpleAtoi(req.get_param_value("count"), &n)) {
    return absl::InvalidArgumentError("count must be a whole number");
  }
  return n;
}

// `result` as the JSON `encode` makes of it, or its error.
template <typename T, typename Encode>
absl::StatusOr<client::Json> Encoded(const absl::StatusOr<T>& result,
                                     Encode encode) {
  if (!result.ok()) return result.status();
  return encode(*result);
}

// A change to the item named by the request's `item`, with its `count`.
using ItemChange = absl::StatusOr<client::ChangeResult> (client::Home::*)(
    absl::string_view list, absl::string_view item,
    std::optional<int64_t> count);

absl::StatusOr<client::Json> CountedChange(client::Home& home,
                                           const std::string& id,
                                           const httplib::Request& req,
                                           ItemChange change) {
  absl::StatusOr<std::optional<int64_t>> count = Count(req);
  if (!count.ok()) return count.status();
  return Encoded((home.*change)(id, req.get_param_value("item"), *count),
                 client::ChangeJson);
}

// `gives`: read, edit or owner; empty for the default (edit, or read for a
// home that holds only read).
absl::StatusOr<client::Json> ShareList(client::Home& home,
                                       const std::string& id,
                                       const httplib::Request& req) {
  const std::string gives = req.get_param_value("gives");
  std::optional<access::Capability> wanted;
  if (gives == "read") wanted = access::Capability::kRead;
  if (gives == "edit") wanted = access::Capability::kEdit;
  if (gives == "owner") wanted = access::Capability::kOwner;
  if (!gives.empty() && !wanted) {
    return absl::InvalidArgumentError("gives must be read, edit or owner");
  }
  return Encoded(home.Share(id, wanted), client::ShareJson);
}

// One action on a list: POST /api/lists/<id>/<name>, one call to the home.
struct ListAction {
  const char* name;
  // What open pages hear changed: the list, every list, or nothing.
  enum class Changes { kList, kLists, kNothing } changes;
  absl::StatusOr<client::Json> (*run)(client::Home& home, const std::string& id,
                                      const httplib::Request& req);
};

using Req = const httplib::Request&;
const ListAction kListActions[] = {
    {"add", ListAction::Changes::kList,
     [](client::Home& home, const std::string& id, Req req) {
       absl::StatusOr<std::optional<int64_t>> count = Count(req);
       if (!count.ok()) return absl::StatusOr<client::Json>(count.status());
       return Encoded(
           home.Add(id, req.get_param_value("item"), count->value_or(1)),
           client::ChangeJson);
     }},
    {"remove", ListAction::Changes::kList,
     [](client::Home& home, const std::string& id, Req req) {
       return CountedChange(home, id, req, &client::Home::Remove);
     }},
    {"buy", ListAction::Changes::kList,
     [](client::Home& home, const std::string& id, Req req) {
       return CountedChange(home, id, req, &client::Home::Buy);
     }},
    {"unbuy", ListAction::Changes::kList,
     [](client::Home& home, const std::string& id, Req req) {
       return CountedChange(home, id, req, &client::Home::Unbuy);
     }},
    {"note", ListAction::Changes::kList,
     [](client::Home& home, const std::string& id, Req req) {
       return Encoded(home.SetNote(id, req.get_param_value("item"),
                                   req.get_param_value("note")),
                      client::ChangeJson);
     }},
    {"category", ListAction::Changes::kList,
     [](client::Home& home, const std::string& id, Req req) {
       return Encoded(home.SetCategory(id, req.get_param_value("item"),
                                       req.get_param_value("category")),
                      client::ChangeJson);
     }},
    {"aisles", ListAction::Changes::kList,
     [](client::Home& home, const std::string& id, Req req) {
       // One form field per category, in order.
       std::vector<std::string> order;
       for (size_t i = 0; i < req.get_param_value_count("category"); ++i) {
         order.push_back(req.get_param_value("category", i));
       }
       return Encoded(home.SetAisles(id, order), client::ChangeJson);
     }},
    {"clear", ListAction::Changes::kList,
     [](client::Home& home, const std::string& id, Req) {
       return Encoded(home.Clear(id), client::ChangeJson);
     }},
    {"undo", ListAction::Changes::kList,
     [](client::Home& home, const std::string& id, Req) {
       return Encoded(home.Undo(id), client::ChangeJson);
     }},
    {"rename", ListAction::Changes::kList,
     [](client::Home& home, const std::string& id, Req req) {
       return Encoded(home.Rename(id, req.get_param_value("title")),
                      client::ChangeJson);
     }},
    {"share", ListAction::Changes::kNothing, ShareList},
    {"revoke", ListAction::Changes::kList,
     [](client::Home& home, const std::string& id, Req) {
       return Encoded(home.Revoke(id), client::RevokeJson);
     }},
    // The page asks before it forgets.
    {"forget", ListAction::Changes::kLists,
     [](client::Home& home, const std::string& id, Req) {
       return Encoded(home.Forget(id, /*drop_unsynced=*/true),
                      client::ForgetJson);
     }},
    {"delete", ListAction::Changes::kLists,
     [](client::Home& home, const std::string& id, Req) {
       return Encoded(home.Delete(id), client::DeleteJson);
     }},
};

}  // namespace

UiServer::UiServer(client::Home& home)
    : home_(home),
      hub_(std::make_unique<EventHub>()),
      http_(std::make_unique<httplib::Server>()) {}

UiServer::~UiServer() {
  Stop();
  StopWatches();
}

bool UiServer::stopped() const {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

void UiServer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    if (wait_ != nullptr) wait_->TryCancel();
  }
  hub_->Close();
  http_->stop();
  home_.cloud().Wake();
}

void UiServer::Routes() {
  using client::ChangeResult;
  using client::ListInfo;
  httplib::Server& http = *http_;
  EventHub& hub = *hub_;
  client::Home& home = home_;

  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kIndexHtml, "text/html; charset=utf-8");
  });
  http.Get("/app.js", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kAppJs, "text/javascript; charset=utf-8");
  });
  http.Get("/style.css", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kStyleCss, "text/css; charset=utf-8");
  });
  http.Get("/qrcode.js", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kQrcodeJs, "text/javascript; charset=utf-8");
  });
  http.Get("/api/status",
           [&home](const httplib::Request&, httplib::Response& res) {
             client::Json status = {{"online", home.cloud().online()},
                                    {"proxies", home.cloud().addresses()}};
             res.set_content(status.dump(), kJson);
           });
  http.Get("/api/name", [&](const httplib::Request&, httplib::Response& res) {
    Reply(home.PersonName(), client::NameJson, res, hub, "");
  });
  http.Post("/api/name",
            [&](const httplib::Request& req, httplib::Response& res) {
              Reply(home.SetPersonName(req.get_param_value("name")),
                    client::NameJson, res, hub, "");
            });
  http.Get("/api/lists", [&](const httplib::Request&, httplib::Response& res) {
    Reply(home.Lists(), client::ListsJson, res, hub, "");
  });
  http.Post("/api/lists",
            [&](const httplib::Request& req, httplib::Response& res) {
              Reply(home.New(req.get_param_value("title")), client::ChangeJson,
                    res, hub, "*");
            });
  http.Post("/api/join",
            [&](const httplib::Request& req, httplib::Response& res) {
              Reply(home.Join(req.get_param_value("link")), client::JoinJson,
                    res, hub, "*");
            });
  http.Get("/api/suggest", [&](const httplib::Request& req,
                               httplib::Response& res) {
    Reply(home.Suggest(req.get_param_value("text"), req.get_param_value("list"),
                       client::kDefaultSuggestions),
          client::SuggestJson, res, hub, "");
  });
  http.Get(R"(/api/lists/([a-z2-7]+)/again)", [&](const httplib::Request& req,
                                                  httplib::Response& res) {
    const std::string id = req.matches[1];
    ReplyAbout(
        home, id,
        [&] { return home.BoughtBefore(id, client::kDefaultSuggestions); },
        client::AgainJson, res);
  });
  http.Get(R"(/api/lists/([a-z2-7]+))",
           [&](const httplib::Request& req, httplib::Response& res) {
             Reply(home.Show(std::string(req.matches[1])), client::ShowJson,
                   res, hub, "");
           });
  http.Get(R"(/api/lists/([a-z2-7]+)/log)", [&](const httplib::Request& req,
                                                httplib::Response& res) {
    const std::string id = req.matches[1];
    ReplyAbout(
        home, id, [&] { return home.Log(id, 100); }, client::LogJson, res);
  });
  for (const ListAction& action : kListActions) {
    http.Post(absl::StrCat("/api/lists/([a-z2-7]+)/", action.name),
              [&home, &hub, &action](const httplib::Request& req,
                                     httplib::Response& res) {
                const std::string id = req.matches[1];
                // A bad count is refused whatever the action, as ever.
                if (absl::StatusOr<std::optional<int64_t>> count = Count(req);
                    !count.ok()) {
                  return ReplyError(count.status(), res);
                }
                absl::StatusOr<client::Json> result = action.run(home, id, req);
                if (!result.ok()) return ReplyError(result.status(), res);
                res.set_content(result->dump(), kJson);
                switch (action.changes) {
                  case ListAction::Changes::kList:
                    return hub.Publish("changed", id);
                  case ListAction::Changes::kLists:
                    return hub.Publish("changed", "*");
                  case ListAction::Changes::kNothing:
                    return;
                }
              });
  }
  // Matched after every action above.
  http.Post(R"(/api/lists/([a-z2-7]+)/(\w+))",
            [](const httplib::Request&, httplib::Response& res) {
              ReplyError(absl::NotFoundError("no such action"), res);
            });
  http.Get("/events", [&](const httplib::Request&, httplib::Response& res) {
    auto seen = std::make_shared<uint64_t>(hub.last());
    auto first = std::make_shared<bool>(true);
    res.set_header("Cache-Control", "no-store");
    res.set_chunked_content_provider(
        "text/event-stream",
        [&hub, &home, seen, first](size_t, httplib::DataSink& sink) {
          std::string chunk;
          if (*first) {
            *first = false;
            chunk = absl::StrCat("event: status\ndata: ",
                                 home.cloud().online() ? "online" : "offline",
                                 "\n\n");
          } else {
            for (const auto& [type, data] :
                 hub.After(seen.get(), absl::Seconds(15))) {
              chunk += absl::StrCat("event: ", type, "\ndata: ", data, "\n\n");
            }
            if (hub.closed()) {
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

void UiServer::KeepWatches(const std::vector<std::string>& ids) {
  for (auto it = watches_.begin(); it != watches_.end();) {
    const bool present =
        std::find(ids.begin(), ids.end(), it->first) != ids.end();
    if (!present) it->second.watch->Stop();
    if (it->second.done->load()) {
      it->second.thread.join();
      it = watches_.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& id : ids) {
    if (watches_.count(id) > 0) continue;
    EventHub* hub = hub_.get();
    absl::StatusOr<std::unique_ptr<client::ListWatch>> watch =
        home_.Watch(id, [hub, id](const client::WatchEvent& event) {
          hub->Publish("changed", event.deleted ? "*" : id);
        });
    if (!watch.ok()) continue;  // forgotten meanwhile
    RunningWatch running;
    running.watch = *std::move(watch);
    running.done = std::make_shared<std::atomic<bool>>(false);
    client::ListWatch* w = running.watch.get();
    auto done = running.done;
    running.thread = std::thread([w, done, hub] {
      (void)w->Run();  // the loop restarts it while the list is here
      hub->Publish("changed", "*");
      done->store(true);
    });
    watches_.emplace(id, std::move(running));
  }
}

void UiServer::StopWatches() {
  for (auto& [id, running] : watches_) running.watch->Stop();
  for (auto& [id, running] : watches_) running.thread.join();
  watches_.clear();
}

void UiServer::Loop() {
  client::CloudLink& cloud = home_.cloud();
  int failures = 0;
  while (!stopped()) {
    absl::StatusOr<std::vector<client::ListInfo>> lists = home_.Lists();
    std::vector<std::string> ids;
    bool pending = false;
    if (lists.ok()) {
      for (const client::ListInfo& l : *lists) {
        ids.push_back(l.id);
        pending = pending || l.unsynced > 0 || !l.in_cloud;
      }
      KeepWatches(ids);
    }
    bool reached = cloud.online();
    if (!reached && cloud.size() == 0) {
      cloud.Sleep(absl::Seconds(1), [this] { return stopped(); });
      continue;
    }
    if (!reached) {
      // Waits for a proxy (gRPC connects meanwhile), under the policy's
      // back-off; cut short when a page's change or a watch gets through.
      grpc::ClientContext wait;
      {
        absl::MutexLock lock(&mu_);
        if (stopped_) break;
        wait_ = &wait;
      }
      ++failures;
      const size_t proxy = (cloud.preferred() + failures - 1) % cloud.size();
      reached = cloud.AwaitProxy(proxy, client::CloudLink::RetryDelay(failures),
                                 &wait) ||
                cloud.online();
      {
        absl::MutexLock lock(&mu_);
        wait_ = nullptr;
      }
      if (!reached) continue;
    } else if (!pending) {
      // Notices when the cloud goes away.
      reached = home_.Probe();
    }
    if (reached && pending) {
      absl::StatusOr<std::vector<client::SyncReport>> reports =
          home_.Sync(std::nullopt);
      bool offline = false;
      if (reports.ok()) {
        for (const client::SyncReport& r : *reports) {
          offline =
              offline || r.outcome == client::SyncReport::Outcome::kOffline;
        }
        for (const client::SyncReport& r : *reports) {
          if (r.outcome != client::SyncReport::Outcome::kOffline) {
            hub_->Publish("changed", "*");
            break;
          }
        }
      }
      if (offline) {
        // A proxy answered a ping but not the sync (its nodes out of
        // reach, say): wait the policy's delay before trying again, rather
        // than pinging and syncing in a tight loop.
        cloud.Sleep(client::CloudLink::RetryDelay(++failures),
                    [this] { return stopped(); });
        continue;
      }
    }
    if (reached) failures = 0;
    if (cloud.online())
      cloud.Sleep(absl::Seconds(1), [this] { return stopped(); });
  }
  StopWatches();
}

absl::Status UiServer::Serve(int port, std::ostream& out) {
  Routes();
  if (!http_->bind_to_port("127.0.0.1", port)) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve on 127.0.0.1:", port));
  }
  // Tell the pages whenever the home goes online or offline.
  EventHub* hub = hub_.get();
  home_.cloud().SetListener([hub](bool online) {
    hub->Publish("status", online ? "online" : "offline");
  });
  std::thread http([this] { http_->listen_after_bind(); });
  out << "shoplist: http://127.0.0.1:" << port << "/  (home " << home_.dir()
      << "); Ctrl-C to stop" << std::endl;
  Loop();
  http_->stop();
  http.join();
  home_.cloud().SetListener(nullptr);
  return absl::OkStatus();
}

}  // namespace shoplist::ui
