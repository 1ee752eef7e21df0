#include "tests/support/partition.h"

#include <unistd.h>

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/support/process.h"

namespace shoplist::testing {
namespace {

constexpr char kChain[] = "SHOPLIST_CUTS";

absl::Status Iptables(std::vector<std::string> args) {
  args.insert(args.begin(), "/usr/sbin/iptables");
  CommandResult r = RunCommand(args, absl::Seconds(10));
  if (r.exit_code != 0) {
    return absl::InternalError(
        absl::StrCat(absl::StrJoin(args, " "), ": ", r.err));
  }
  return absl::OkStatus();
}

}  // namespace

int PortOf(const std::string& address) {
  int port = 0;
  (void)absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port);
  return port;
}

bool Partitioner::Available() {
  const char* netns = std::getenv("SHOPLIST_NETNS");
  return geteuid() == 0 && netns != nullptr && std::string(netns) == "1" &&
         access("/usr/sbin/iptables", X_OK) == 0;
}

Partitioner::Partitioner(const std::vector<int>& uids) {
  (void)Iptables({"-N", kChain});
  (void)Iptables({"-A", "OUTPUT", "-j", kChain});
  for (int uid : uids) {
    (void)Iptables({"-t", "mangle", "-A", "OUTPUT", "-m", "owner",
                    "--uid-owner", absl::StrCat(uid), "-m", "conntrack",
                    "--ctstate", "NEW", "-j", "CONNMARK", "--set-mark",
                    absl::StrCat(uid)});
  }
}

void Partitioner::Add(const std::string& name, Endpoint endpoint) {
  endpoints_[name] = endpoint;
}

Partitioner::~Partitioner() { (void)Heal(); }

absl::Status Partitioner::Drop(const Endpoint& from, const Endpoint& to) {
  // What `from` sends to `to`'s port...
  if (absl::Status s = Iptables({"-A", kChain, "-m", "owner", "--uid-owner",
                                 absl::StrCat(from.uid), "-p", "tcp", "--dport",
                                 absl::StrCat(to.port), "-j", "DROP"});
      !s.ok()) {
    return s;
  }
  // ...and its answers on the connections `to` opened.
  return Iptables({"-A", kChain, "-m", "owner", "--uid-owner",
                   absl::StrCat(from.uid), "-m", "connmark", "--mark",
                   absl::StrCat(to.uid), "-j", "DROP"});
}

absl::Status Partitioner::ForEachPair(const std::vector<std::string>& a,
                                      const std::vector<std::string>& b,
                                      bool both_ways) {
  for (const std::string& x : a) {
    for (const std::string& y : b) {
      auto ex = endpoints_.find(x);
      auto ey = endpoints_.find(y);
      if (ex == endpoints_.end() || ey == endpoints_.end()) {
        return absl::InvalidArgumentError(absl::StrCat(x, " or ", y));
      }
      if (absl::Status s = Drop(ex->second, ey->second); !s.ok()) return s;
      if (!both_ways) continue;
      if (absl::Status s = Drop(ey->second, ex->second); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Partitioner::Cut(const std::vector<std::string>& a,
                              const std::vector<std::string>& b) {
  return ForEachPair(a, b, /*both_ways=*/true);
}

absl::Status Partitioner::CutOneWay(const std::vector<std::string>& from,
                                    const std::vector<std::string>& to) {
  return ForEachPair(from, to, /*both_ways=*/false);
}

absl::Status Partitioner::Heal() { return Iptables({"-F", kChain}); }

}  // namespace shoplist::testing
