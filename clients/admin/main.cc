// shoplist-admin: what the people who run a shoplist cloud ask of it
// (README, "Operating a cluster"; the JSON in docs/admin.md). It asks a
// proxy for the ring view and each node for its own figures
// (AdminService), with the cluster token and TLS the servers use.
//
// Exit codes: 0 done; 1 the cluster could not be asked or the task failed
// (no proxy answered, it refused, a node failed its part); 2 bad input (a
// bad command line, unreadable TLS/token files, an unknown node, a
// directory in use).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "clients/admin/backup_sets.h"
#include "clients/admin/cluster.h"
#include "nlohmann/json.hpp"
#include "ring/ring.h"
#include "services/common/channels.h"
#include "services/common/ring_view.h"
#include "services/common/security.h"

namespace shoplist::admin {
namespace {

// Keys in the order docs/admin.md gives them.
using json = nlohmann::ordered_json;

struct Flags {
  std::string proxy;
  bool json = false;
  double timeout_s = 5;
  // `ring`: replicas of each list; 0 asks the nodes.
  uint32_t replicas = 0;
  // `repair`: the node's id; empty: every member that is up. `backup`:
  // the node's id.
  std::string node;
  // `backup`: where to; `backup-all`: the sets' folder; `restore`: from
  // where, and the data directory.
  std::string dir;
  // `backup-all`: complete sets to keep.
  size_t keep = 7;
  std::string data_dir;
  // `replace`: where the new node serves. `replace`, `leave`: how long to
  // wait for the node to join, or to stop.
  std::string address;
  double wait_s = 300;
};

const char* StateName(v1::Member::State state) {
  return state == v1::Member::UP ? "up" : "down";
}

// "leaving" for a node that left the ring and still hands off.
const char* StateOf(const MemberReport& r) {
  return r.left ? "leaving" : StateName(r.member.state());
}

// "3m ago" for a Unix millisecond time; "-" for none.
std::string Ago(int64_t unix_ms, absl::Time now) {
  if (unix_ms <= 0) return "-";
  const absl::Duration d = now - absl::FromUnixMillis(unix_ms);
  if (d < absl::Seconds(1)) return "now";
  if (d < absl::Minutes(1))
    return absl::StrCat(absl::ToInt64Seconds(d), "s ago");
  if (d < absl::Hours(1)) return absl::StrCat(absl::ToInt64Minutes(d), "m ago");
  if (d < absl::Hours(48)) return absl::StrCat(absl::ToInt64Hours(d), "h ago");
  return absl::StrCat(absl::ToInt64Hours(d) / 24, "d ago");
}

std::string Bytes(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  if (bytes < (1 << 20)) return absl::StrFormat("%.1f KiB", bytes / 1024.0);
  if (bytes < (1ull << 30)) {
    return absl::StrFormat("%.1f MiB", bytes / 1048576.0);
  }
  return absl::StrFormat("%.1f GiB", bytes / 1073741824.0);
}

json RoundJson(const v1::AntiEntropyRound& r) {
  return {{"finished_unix_ms", r.finished_unix_ms()},
          {"duration_ms", r.duration_ms()},
          {"peers", r.peers()},
          {"ranges", r.ranges()},
          {"lists_repaired", r.lists_repaired()}};
}

// The node's failed replica calls by peer, sorted by peer (a proto map has
// no order).
std::map<std::string, uint64_t> FailuresByPeer(const v1::NodeStatus& s) {
  return {s.replica_failures().begin(), s.replica_failures().end()};
}

json HandOffJson(const v1::HandOff& h) {
  return {
      {"lists", h.lists()}, {"sent", h.sent()}, {"delivered", h.delivered()}};
}

json NodeJson(const v1::NodeStatus& s) {
  json node = {{"ring_version", s.ring_version()},
               {"ring_proxy", s.ring_proxy()},
               {"replicas", s.replicas()},
               {"lists", s.lists()},
               {"hints", s.hints()},
               {"disk_bytes", s.disk_bytes()},
               {"draining", s.draining()},
               {"started_unix_ms", s.started_unix_ms()},
               {"lists_repaired_total", s.lists_repaired_total()},
               {"replica_id", s.replica_id()},
               {"oldest_hint_unix_ms", s.oldest_hint_unix_ms()},
               {"handoff", nullptr},
               {"replica_failures", json::object()},
               {"last_round", nullptr}};
  for (const auto& [peer, n] : FailuresByPeer(s)) {
    node["replica_failures"][peer] = n;
  }
  if (s.has_last_round()) node["last_round"] = RoundJson(s.last_round());
  if (s.has_handoff()) node["handoff"] = HandOffJson(s.handoff());
  return node;
}

// A task that could not be done: its message (as JSON with --json), and
// exit 2 for bad input (INVALID_ARGUMENT: a directory in use, no proxy
// given), else 1.
int Fail(const Flags& flags, const absl::Status& status) {
  if (flags.json) {
    std::cout << json{{"error", std::string(status.message())},
                      {"code", absl::StatusCodeToString(status.code())}}
                     .dump()
              << "\n";
  } else {
    std::cerr << "shoplist-admin: " << status.message() << "\n";
  }
  return absl::IsInvalidArgument(status) ? 2 : 1;
}

// Bad input: the message, and exit 2.
int BadInput(absl::string_view message) {
  std::cerr << "shoplist-admin: " << message << "\n";
  return 2;
}

// The member of `view` with this id, or null.
const v1::Member* FindMember(const v1::RingView& view, const std::string& id) {
  for (const v1::Member& m : view.members()) {
    if (m.node().id() == id) return &m;
  }
  return nullptr;
}

int NotAMember(const std::string& id) {
  return BadInput(absl::StrCat(id, " is not a member of the ring"));
}

// The ids of the members `view` counts up, sorted.
std::vector<std::string> UpIn(const v1::RingView& view) {
  std::vector<std::string> up;
  for (const v1::Member& m : view.members()) {
    if (m.state() == v1::Member::UP) up.push_back(m.node().id());
  }
  std::sort(up.begin(), up.end());
  return up;
}

int Status(const Flags& flags) {
  const absl::Duration timeout = absl::Seconds(flags.timeout_s);
  // Every proxy's view: each keeps its own membership. The report follows
  // the first that answers; the others are compared with it.
  const std::vector<ProxyView> views = FetchViews(flags.proxy, timeout);
  const ProxyView* first = nullptr;
  for (const ProxyView& v : views) {
    if (v.view.ok()) {
      first = &v;
      break;
    }
  }
  if (first == nullptr) {
    return Fail(flags, views.empty()
                           ? absl::InvalidArgumentError("no proxy given")
                           : views.back().view.status());
  }
  const absl::StatusOr<v1::RingView>& view = first->view;
  // A proxy agrees when it has the same members at the same addresses,
  // counts the same ones up and the same ones left (versions are each
  // proxy's own count of changes: they differ between proxies).
  auto membership = [](const v1::RingView& v) {
    std::vector<std::string> m;
    for (const v1::Member& member : v.members()) {
      m.push_back(absl::StrCat(member.node().id(), "@", member.node().address(),
                               ":", StateName(member.state())));
    }
    std::sort(m.begin(), m.end());
    std::vector<std::string> left(v.left().begin(), v.left().end());
    std::sort(left.begin(), left.end());
    return std::make_pair(m, left);
  };
  const auto reference = membership(*view);
  auto agrees = [&](const v1::RingView& other) {
    return membership(other) == reference;
  };
  // A node is behind when the proxy it routes by has a newer view than the
  // node's (versions count each proxy's own changes: only that proxy's view
  // compares); unknown when that proxy was not asked or did not answer.
  auto behind = [&](const v1::NodeStatus& s) {
    for (const ProxyView& v : views) {
      if (v.view.ok() && v.view->proxy() == s.ring_proxy()) {
        return s.ring_version() < v.view->version();
      }
    }
    return false;
  };
  const std::vector<MemberReport> reports = AskMembers(*view, timeout);
  if (flags.json) {
    json proxies = json::array();
    for (const ProxyView& v : views) {
      if (!v.view.ok()) {
        proxies.push_back({{"address", v.proxy},
                           {"ring_version", nullptr},
                           {"up", nullptr},
                           {"agrees", nullptr},
                           {"error", std::string(v.view.status().message())}});
        continue;
      }
      proxies.push_back({{"address", v.proxy},
                         {"ring_version", v.view->version()},
                         {"up", UpIn(*v.view)},
                         {"agrees", agrees(*v.view)},
                         {"error", nullptr}});
    }
    json members = json::array();
    for (const MemberReport& r : reports) {
      members.push_back(
          {{"id", r.member.node().id()},
           {"address", r.member.node().address()},
           {"state", StateOf(r)},
           {"since_unix_ms", r.member.since_unix_ms()},
           {"node", r.status.ok() ? NodeJson(*r.status) : json(nullptr)},
           {"ring_behind", r.status.ok() && behind(*r.status)},
           {"error", r.status.ok()
                         ? json(nullptr)
                         : json(std::string(r.status.status().message()))}});
    }
    json left = json::array();
    for (const std::string& id : view->left()) left.push_back(id);
    std::cout << json{{"ring_version", view->version()},
                      {"proxy", view->proxy()},
                      {"members", members},
                      {"left", left},
                      {"proxies", proxies}}
                     .dump()
              << "\n";
    return 0;
  }
  const absl::Time now = absl::Now();
  std::cout << "ring version " << view->version() << " (proxy " << view->proxy()
            << "), " << view->members_size() << " members";
  if (view->left_size() > 0) {
    std::cout << "; left:";
    for (const std::string& id : view->left()) std::cout << " " << id;
  }
  std::cout << "\n";
  if (views.size() > 1) {
    for (const ProxyView& v : views) {
      std::cout << "  proxy " << v.proxy << ": ";
      if (!v.view.ok()) {
        std::cout << "unreachable: " << v.view.status().message() << "\n";
        continue;
      }
      std::cout << "ring version " << v.view->version()
                << ", up: " << absl::StrJoin(UpIn(*v.view), " ")
                << (agrees(*v.view) ? ""
                                    : "  (disagrees: views converge "
                                      "within heartbeats; if not, "
                                      "check the network between them)")
                << "\n";
    }
  }
  std::cout << absl::StrFormat(
      "%-12s %-22s %-6s %-9s %5s %9s %6s %-11s %10s  %s\n", "NODE", "ADDRESS",
      "STATE", "SINCE", "RING", "LISTS", "HINTS", "OLDEST HINT", "DISK",
      "LAST REPAIR ROUND");
  std::vector<std::string> failures;
  for (const MemberReport& r : reports) {
    const std::string state = StateOf(r);
    if (!r.status.ok()) {
      std::cout << absl::StrFormat(
          "%-12s %-22s %-6s %-9s  unreachable: %s\n", r.member.node().id(),
          r.member.node().address(), state, Ago(r.member.since_unix_ms(), now),
          r.status.status().message());
      continue;
    }
    const v1::NodeStatus& s = *r.status;
    std::string round = "none yet";
    if (s.has_last_round()) {
      const v1::AntiEntropyRound& l = s.last_round();
      round =
          absl::StrCat(Ago(l.finished_unix_ms(), now), ", ", l.lists_repaired(),
                       " repaired in ", l.duration_ms(), " ms");
    }
    if (s.has_handoff()) {
      round = absl::StrCat("handing off: ", s.handoff().sent(), " of ",
                           s.handoff().lists(), " lists sent");
    }
    std::cout << absl::StrFormat(
        "%-12s %-22s %-6s %-9s %5d %9d %6d %-11s %10s  %s%s\n",
        r.member.node().id(), r.member.node().address(),
        s.draining() && !r.left ? "drain" : state,
        Ago(r.member.since_unix_ms(), now), s.ring_version(), s.lists(),
        s.hints(), Ago(s.oldest_hint_unix_ms(), now), Bytes(s.disk_bytes()),
        round, behind(s) ? "  (ring behind)" : "");
    for (const auto& [peer, n] : FailuresByPeer(s)) {
      failures.push_back(
          absl::StrCat(r.member.node().id(), " -> ", peer, ": ", n));
    }
  }
  if (!failures.empty()) {
    std::cout << "replica calls failed since each node started: "
              << absl::StrJoin(failures, ", ") << "\n";
  }
  return 0;
}

int Ring(const Flags& flags) {
  const absl::Duration timeout = absl::Seconds(flags.timeout_s);
  absl::StatusOr<v1::RingView> view = FetchView(flags.proxy, timeout);
  if (!view.ok()) return Fail(flags, view.status());
  uint32_t replicas = flags.replicas;
  if (replicas == 0) {  // what the nodes place
    for (const MemberReport& r : AskMembers(*view, timeout)) {
      if (r.status.ok() && r.status->replicas() > 0) {
        replicas = r.status->replicas();
        break;
      }
    }
  }
  if (replicas == 0) replicas = 3;
  const std::vector<ring::Share> shares = ring::Shares(RingOf(*view), replicas);
  // Load is what a node holds (its replica share); between equal holders,
  // what it coordinates (its primary share).
  auto lighter = [](const ring::Share& a, const ring::Share& b) {
    return a.replica != b.replica ? a.replica < b.replica
                                  : a.primary < b.primary;
  };
  const ring::Share* most = nullptr;
  const ring::Share* least = nullptr;
  for (const ring::Share& s : shares) {
    if (most == nullptr || lighter(*most, s)) most = &s;
    if (least == nullptr || lighter(s, *least)) least = &s;
  }
  const auto [fewest, most_coordinated] =
      std::minmax_element(shares.begin(), shares.end(),
                          [](const ring::Share& a, const ring::Share& b) {
                            return a.primary < b.primary;
                          });
  const double imbalance = least != nullptr && least->replica > 0
                               ? most->replica / least->replica
                               : 0;
  const double primary_imbalance =
      !shares.empty() && fewest->primary > 0
          ? most_coordinated->primary / fewest->primary
          : 0;
  if (flags.json) {
    json members = json::array();
    for (const ring::Share& s : shares) {
      members.push_back(
          {{"id", s.id}, {"primary", s.primary}, {"replica", s.replica}});
    }
    std::cout << json{{"ring_version", view->version()},
                      {"replicas", replicas},
                      {"vnodes", view->vnodes()},
                      {"members", members},
                      {"most_loaded", most ? json(most->id) : json(nullptr)},
                      {"least_loaded", least ? json(least->id) : json(nullptr)},
                      {"imbalance", imbalance},
                      {"primary_imbalance", primary_imbalance}}
                     .dump()
              << "\n";
    return 0;
  }
  std::cout << "ring version " << view->version() << ", " << shares.size()
            << " members, " << view->vnodes() << " virtual nodes each, "
            << replicas << " replicas of each list\n";
  std::cout << absl::StrFormat("%-12s %8s %8s\n", "NODE", "PRIMARY", "HOLDS");
  for (const ring::Share& s : shares) {
    std::cout << absl::StrFormat("%-12s %7.1f%% %7.1f%%\n", s.id,
                                 100 * s.primary, 100 * s.replica);
  }
  if (most != nullptr) {
    std::cout << absl::StrFormat(
        "most loaded %s, least loaded %s: %.2fx the data held, %.2fx the "
        "lists coordinated (most over least)\n",
        most->id, least->id, imbalance, primary_imbalance);
  }
  return 0;
}

// A bar on a terminal, redrawn in place:
// "node-0 [#####.....] 5/10 steps, 2 repaired" (`what` after the counts).
void DrawBar(const std::string& label, uint64_t done, uint64_t total,
             const std::string& what) {
  constexpr int kWidth = 30;
  const int filled =
      total == 0 ? kWidth
                 : static_cast<int>(kWidth * std::min(done, total) / total);
  std::cerr << "\r" << label << " [" << std::string(filled, '#')
            << std::string(kWidth - filled, '.') << "] " << done << "/" << total
            << " " << what << std::flush;
}

// One node's repair round, its progress and its summary printed; false
// when it failed.
bool RepairOne(const Flags& flags, const std::string& id,
               const std::string& address) {
  const bool bar = !flags.json && isatty(fileno(stderr));
  absl::StatusOr<v1::RepairProgress> last =
      RepairNode(address, [&](const v1::RepairProgress& p) {
        if (flags.json && !p.done()) {
          std::cout << json{{"node", id},
                            {"done", false},
                            {"steps_done", p.steps_done()},
                            {"steps", p.steps()},
                            {"lists_repaired", p.lists_repaired()}}
                           .dump()
                    << std::endl;
        } else if (bar) {
          DrawBar(id, p.steps_done(), p.steps(),
                  absl::StrCat("steps, ", p.lists_repaired(), " repaired"));
        }
      });
  if (bar) std::cerr << "\n";
  if (!last.ok()) {
    if (flags.json) {
      std::cout << json{{"node", id},
                        {"done", true},
                        {"error", std::string(last.status().message())}}
                       .dump()
                << std::endl;
    } else {
      std::cerr << "shoplist-admin: " << id << ": " << last.status().message()
                << "\n";
    }
    return false;
  }
  const v1::AntiEntropyRound& r = last->round();
  if (flags.json) {
    std::cout << json{{"node", id},
                      {"done", true},
                      {"error", nullptr},
                      {"round", RoundJson(r)}}
                     .dump()
              << std::endl;
  } else {
    std::cout << absl::StrFormat(
        "%s: %d ranges compared with %d peers, %d lists repaired in %d ms\n",
        id, r.ranges(), r.peers(), r.lists_repaired(), r.duration_ms());
  }
  return true;
}

int Repair(const Flags& flags) {
  absl::StatusOr<v1::RingView> view =
      FetchView(flags.proxy, absl::Seconds(flags.timeout_s));
  if (!view.ok()) return Fail(flags, view.status());
  std::vector<v1::Member> targets;
  if (flags.node.empty()) {
    for (const v1::Member& m : view->members()) {
      if (m.state() == v1::Member::UP) targets.push_back(m);
    }
  } else if (const v1::Member* m = FindMember(*view, flags.node)) {
    targets.push_back(*m);
  } else {
    return NotAMember(flags.node);
  }
  int failed = 0;
  for (const v1::Member& m : targets) {
    if (!RepairOne(flags, m.node().id(), m.node().address())) ++failed;
  }
  return failed == 0 ? 0 : 1;
}

// The ring places a node by its id, so the node that replaces DEAD runs
// under DEAD's id at its own address (as Cassandra's replace_address takes
// the dead node's tokens): this waits until it has joined there, then
// fills it from its peers at once with a repair round.
int Replace(const Flags& flags) {
  const absl::Time deadline = absl::Now() + absl::Seconds(flags.wait_s);
  bool told = false;
  while (true) {
    absl::StatusOr<v1::RingView> view =
        FetchView(flags.proxy, absl::Seconds(flags.timeout_s));
    if (!view.ok()) return Fail(flags, view.status());
    const v1::Member* dead = FindMember(*view, flags.node);
    if (dead == nullptr) return NotAMember(flags.node);
    if (dead->node().address() == flags.address &&
        dead->state() == v1::Member::UP) {
      break;
    }
    if (dead->node().address() != flags.address &&
        dead->state() == v1::Member::UP) {
      return BadInput(absl::StrCat(flags.node, " is up at ",
                                   dead->node().address(),
                                   ": stop it before it is replaced"));
    }
    if (absl::Now() >= deadline) {
      return Fail(flags, absl::DeadlineExceededError(absl::StrCat(
                             flags.node, " did not join at ", flags.address)));
    }
    if (!told && !flags.json) {
      std::cerr << "waiting for " << flags.node << " to join at "
                << flags.address << " (start it there with --id=" << flags.node
                << " on an empty disk)\n";
      told = true;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  return RepairOne(flags, flags.node, flags.address) ? 0 : 1;
}

// A graceful leave: every proxy is told; the node sees itself in the
// view's `left`, sends every list to its new owners, then stops. This
// waits until it has stopped (it no longer answers).
int Leave(const Flags& flags) {
  const absl::Duration timeout = absl::Seconds(flags.timeout_s);
  absl::StatusOr<v1::RingView> view = FetchView(flags.proxy, timeout);
  if (!view.ok()) return Fail(flags, view.status());
  const v1::Member* member = FindMember(*view, flags.node);
  if (member == nullptr) return NotAMember(flags.node);
  const std::string address = member->node().address();
  absl::StatusOr<v1::RingView> left =
      LeaveRing(flags.proxy, flags.node, timeout);
  if (!left.ok()) return Fail(flags, left.status());
  if (!flags.json) {
    std::cerr << flags.node << " left the ring (version " << left->version()
              << "); waiting for it to hand off its lists and stop\n";
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(flags.wait_s);
  const bool bar = !flags.json && isatty(fileno(stderr));
  bool stopped = false;
  v1::HandOff last;  // what the node last said of its hand-off
  while (absl::Now() < deadline) {
    absl::StatusOr<v1::NodeStatus> status = AskNode(address, timeout);
    if (!status.ok()) {
      stopped = true;
      break;
    }
    const v1::HandOff& now = status->handoff();
    if (status->has_handoff() && now.sent() != last.sent()) {
      last = now;
      if (flags.json) {
        json line = {{"node", flags.node}, {"done", false}};
        line.update(HandOffJson(now));
        std::cout << line.dump() << std::endl;
      } else if (bar) {
        DrawBar(flags.node + " handing off", now.sent(), now.lists(), "lists");
      }
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  if (bar && last.lists() > 0) std::cerr << "\n";
  // The last progress seen: a node stops right after its hand-off, so the
  // final figures may not have been seen (its log has them).
  if (flags.json) {
    json summary = {{"node", flags.node},
                    {"done", true},
                    {"left", true},
                    {"ring_version", left->version()},
                    {"stopped", stopped}};
    summary.update(HandOffJson(last));
    std::cout << summary.dump() << "\n";
  } else if (stopped) {
    std::cout << flags.node << " handed off its lists and stopped (last seen: "
              << last.delivered() << " of " << last.lists()
              << " lists delivered)\n";
  } else {
    std::cerr << "shoplist-admin: " << flags.node
              << " still answers: it may still be handing off its lists\n";
  }
  return stopped ? 0 : 1;
}

// One node's backup into `dir`, its progress and its summary printed.
absl::StatusOr<BackupProgress> BackupOne(const Flags& flags,
                                         const std::string& id,
                                         const std::string& address,
                                         const std::string& dir) {
  const bool live = !flags.json && isatty(fileno(stderr));
  const absl::Time start = absl::Now();
  absl::StatusOr<BackupProgress> done =
      BackupNode(address, dir, [&](const BackupProgress& p) {
        if (flags.json) {
          std::cout << json{{"node", id},
                            {"done", false},
                            {"records", p.records},
                            {"bytes", p.bytes}}
                           .dump()
                    << std::endl;
        } else if (live) {
          std::cerr << "\r" << id << ": " << p.records << " records, "
                    << Bytes(p.bytes) << std::flush;
        }
      });
  if (live) std::cerr << "\n";
  if (!done.ok()) return done.status();
  const int64_t ms = absl::ToInt64Milliseconds(absl::Now() - start);
  if (flags.json) {
    std::cout << json{{"node", id},
                      {"done", true},
                      {"records", done->records},
                      {"bytes", done->bytes},
                      {"dir", dir},
                      {"duration_ms", ms}}
                     .dump()
              << std::endl;
  } else {
    std::cout << absl::StrFormat(
        "%s: %d records (%s) backed up into %s in %d ms\n", id, done->records,
        Bytes(done->bytes), dir, ms);
  }
  return done;
}

int Backup(const Flags& flags) {
  absl::StatusOr<v1::RingView> view =
      FetchView(flags.proxy, absl::Seconds(flags.timeout_s));
  if (!view.ok()) return Fail(flags, view.status());
  const v1::Member* target = FindMember(*view, flags.node);
  if (target == nullptr) return NotAMember(flags.node);
  absl::StatusOr<BackupProgress> done =
      BackupOne(flags, flags.node, target->node().address(), flags.dir);
  return done.ok() ? 0 : Fail(flags, done.status());
}

// Every member into ROOT/SET/ID, the set's marker, then the sets
// `--keep` no longer keeps deleted. A member that is down or fails is
// reported and the others are still backed up; the set is then
// incomplete and the run exits 1.
int BackupAll(const Flags& flags) {
  absl::StatusOr<v1::RingView> view =
      FetchView(flags.proxy, absl::Seconds(flags.timeout_s));
  if (!view.ok()) return Fail(flags, view.status());
  const std::filesystem::path root(flags.dir);
  const std::string name = BackupSetName(absl::Now());
  std::error_code error;
  std::filesystem::create_directories(root, error);
  // A set of this second already there (a second run at once) is not
  // written over: its marker would be.
  if (error || !std::filesystem::create_directory(root / name, error)) {
    return Fail(flags, absl::InvalidArgumentError(absl::StrCat(
                           "cannot make ", (root / name).string(), ": ",
                           error ? error.message() : "it exists")));
  }
  std::map<std::string, std::string> nodes;
  std::vector<std::string> failed;
  for (const v1::Member& m : view->members()) {
    const std::string& id = m.node().id();
    absl::Status status = absl::OkStatus();
    if (m.state() != v1::Member::UP) {
      status = absl::UnavailableError(absl::StrCat(id, " is down"));
    } else {
      status =
          BackupOne(flags, id, m.node().address(), (root / name / id).string())
              .status();
    }
    nodes[id] = status.ok() ? "ok" : std::string(status.message());
    if (!status.ok()) {
      failed.push_back(id);
      if (flags.json) {
        std::cout << json{{"node", id},
                          {"done", true},
                          {"error", std::string(status.message())}}
                         .dump()
                  << std::endl;
      } else {
        std::cerr << "shoplist-admin: " << id << ": " << status.message()
                  << "\n";
      }
    }
  }
  const bool complete = failed.empty() && !view->members().empty();
  {
    std::ofstream out(root / name / kBackupSetMarker);
    out << BackupSetMarker(name, view->version(), nodes, complete);
    out.close();
    if (!out) {
      return Fail(flags, absl::InternalError(
                             absl::StrCat("cannot write ", kBackupSetMarker,
                                          " in ", (root / name).string())));
    }
  }
  // Retention: the sets in ROOT and whether their runs were complete
  // (BackupSetsToRemove ignores folders that are not sets).
  std::vector<BackupSet> sets;
  for (std::filesystem::directory_iterator it(root, error), end;
       !error && it != end; it.increment(error)) {
    if (!it->is_directory(error)) continue;
    std::ifstream in(it->path() / kBackupSetMarker);
    const std::string text((std::istreambuf_iterator<char>(in)),
                           std::istreambuf_iterator<char>());
    sets.push_back({it->path().filename().string(), MarkerSaysComplete(text)});
  }
  if (error) {
    return Fail(flags, absl::InternalError(absl::StrCat(
                           "cannot list ", root.string(), ": ", error.message(),
                           " (no old set deleted)")));
  }
  json removed = json::array();
  for (const std::string& set : BackupSetsToRemove(sets, flags.keep)) {
    std::filesystem::remove_all(root / set, error);
    if (error) {
      std::cerr << "shoplist-admin: cannot delete " << (root / set).string()
                << ": " << error.message() << "\n";
      continue;
    }
    removed.push_back(set);
  }
  if (flags.json) {
    std::cout << json{{"set", name},
                      {"dir", (root / name).string()},
                      {"complete", complete},
                      {"failed", failed},
                      {"removed", removed}}
                     .dump()
              << std::endl;
  } else {
    std::cout << "backup set " << (root / name).string() << ": "
              << (complete ? "complete"
                           : absl::StrCat("INCOMPLETE, failed: ",
                                          absl::StrJoin(failed, ", ")))
              << "; " << removed.size() << " older set(s) deleted\n";
  }
  return complete ? 0 : 1;
}

int Restore(const Flags& flags) {
  absl::StatusOr<std::pair<std::string, uint64_t>> restored =
      RestoreBackup(flags.dir, flags.data_dir);
  if (!restored.ok()) {
    return Fail(flags, restored.status());
  }
  if (flags.json) {
    std::cout << json{{"node", restored->first},
                      {"records", restored->second},
                      {"data_dir", flags.data_dir}}
                     .dump()
              << "\n";
  } else {
    std::cout << absl::StrFormat(
        "%d records of %s restored into %s. Start the node on it (--data=%s): "
        "it takes a new replica id, joins, and anti-entropy brings it up to "
        "date.\n",
        restored->second, restored->first, flags.data_dir, flags.data_dir);
  }
  return 0;
}

}  // namespace
}  // namespace shoplist::admin

int main(int argc, char** argv) {
  using shoplist::admin::Flags;
  CLI::App app{"shoplist-admin: run a shoplist cluster"};
  app.require_subcommand(1);
  Flags flags;
  shoplist::SecurityFiles files;
  app.add_option("--proxy", flags.proxy,
                 "The proxies, HOST:PORT[,HOST:PORT...] (default: "
                 "$SHOPLIST_PROXY or 127.0.0.1:7000)");
  app.add_option("--tls-ca", files.ca_file,
                 "Talk TLS, trusting this PEM CA (default: $SHOPLIST_TLS_CA; "
                 "none: plaintext)");
  app.add_option("--tls-cert", files.cert_file,
                 "PEM client certificate (nodes ask for one under TLS)");
  app.add_option("--tls-key", files.key_file, "PEM private key of --tls-cert");
  app.add_option("--cluster-token-file", files.token_file,
                 "The cluster token (default: $SHOPLIST_CLUSTER_TOKEN)");
  app.add_option("--timeout", flags.timeout_s,
                 "Seconds to wait for each answer")
      ->check(CLI::PositiveNumber);
  app.add_flag("--json", flags.json, "Print JSON (docs/admin.md)");
  CLI::App* status = app.add_subcommand(
      "status", "Every member: state, ring, lists, hints, disk, last repair");
  CLI::App* ring = app.add_subcommand(
      "ring", "How much of the ring each node owns, and the imbalance");
  ring->add_option("--replicas", flags.replicas,
                   "Replicas of each list (default: what the nodes use)");
  CLI::App* repair = app.add_subcommand(
      "repair", "A whole anti-entropy round now, on one node or every one up");
  repair->add_option("node", flags.node, "The node's id (default: all up)");
  CLI::App* leave = app.add_subcommand(
      "leave", "A node leaves the ring: hands its lists over, then stops");
  leave->add_option("node", flags.node, "The node's id")->required();
  leave
      ->add_option("--wait", flags.wait_s,
                   "Seconds to wait for it to stop (300)")
      ->check(CLI::PositiveNumber);
  CLI::App* replace = app.add_subcommand(
      "replace", "Fill the node that took a dead one's place (its id)");
  replace->add_option("dead", flags.node, "The dead node's id")->required();
  replace
      ->add_option("new", flags.address, "HOST:PORT the replacement serves at")
      ->required();
  replace
      ->add_option("--wait", flags.wait_s,
                   "Seconds to wait for it to join (300)")
      ->check(CLI::PositiveNumber);
  CLI::App* backup = app.add_subcommand(
      "backup", "Copy a node's data while it serves, into a new directory");
  backup->add_option("node", flags.node, "The node's id")->required();
  backup->add_option("dir", flags.dir, "The new directory")->required();
  CLI::App* backup_all = app.add_subcommand(
      "backup-all",
      "Back every member up into ROOT/<UTC time>/<node>, keeping --keep sets");
  backup_all->add_option("root", flags.dir, "The folder of backup sets")
      ->required();
  backup_all
      ->add_option("--keep", flags.keep,
                   "Complete sets to keep; older ones are deleted (7)")
      ->check(CLI::PositiveNumber);
  CLI::App* restore = app.add_subcommand(
      "restore", "Make a node's data directory from a backup (offline)");
  restore->add_option("backup", flags.dir, "The backup's directory")
      ->required();
  restore
      ->add_option("data_dir", flags.data_dir,
                   "The new node's data directory (new, or empty)")
      ->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (flags.proxy.empty()) {
    const char* env = std::getenv("SHOPLIST_PROXY");
    flags.proxy = env && *env ? env : "127.0.0.1:7000";
  }
  if (files.ca_file.empty()) {
    const char* env = std::getenv("SHOPLIST_TLS_CA");
    if (env != nullptr) files.ca_file = env;
  }
  absl::StatusOr<shoplist::SecurityOptions> security =
      shoplist::LoadSecurityOptions(files);
  if (!security.ok()) {
    std::cerr << "shoplist-admin: " << security.status().message() << "\n";
    return 2;
  }
  shoplist::SetChannelSecurity(*security);
  if (status->parsed()) return shoplist::admin::Status(flags);
  if (repair->parsed()) return shoplist::admin::Repair(flags);
  if (leave->parsed()) return shoplist::admin::Leave(flags);
  if (replace->parsed()) return shoplist::admin::Replace(flags);
  if (backup->parsed()) return shoplist::admin::Backup(flags);
  if (backup_all->parsed()) return shoplist::admin::BackupAll(flags);
  if (restore->parsed()) return shoplist::admin::Restore(flags);
  return shoplist::admin::Ring(flags);
}
