// Network partitions between servers on loopback, made with iptables in a
// private network namespace (tests/system/in_netns.sh makes one; nothing
// outside it is touched). Each server runs as a user of its own
// (ClusterOptions::separate_uids). A cut between two servers drops,
// silently and both ways, what each sends the other: packets from one's
// user to the other's port, and its answers on connections the other
// opened (a connection mark set from the opener's user tells those apart).
// Nothing is reset, so a partition looks like a real one: calls hang until a
// deadline or a keepalive notices.
//
// Not thread-safe.
#ifndef SHOPLIST_TESTS_SUPPORT_PARTITION_H_
#define SHOPLIST_TESTS_SUPPORT_PARTITION_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace shoplist::testing {

class Partitioner {
 public:
  struct Endpoint {
    int uid;
    int port;
  };

  // True when run through in_netns.sh, as root.
  static bool Available();

  // Marks the connections every user in `uids` opens. Call before the
  // servers start: a connection opened earlier carries no mark, and the
  // answers on it would cross a cut.
  explicit Partitioner(const std::vector<int>& uids);
  ~Partitioner();  // heals

  // Names a server for Cut.
  void Add(const std::string& name, Endpoint endpoint);

  // Cuts every server named in `a` from every server named in `b`.
  absl::Status Cut(const std::vector<std::string>& a,
                   const std::vector<std::string>& b);
  // Drops what every server in `from` sends to every server in `to`, not
  // the other way: an asymmetric partition.
  absl::Status CutOneWay(const std::vector<std::string>& from,
                         const std::vector<std::string>& to);
  // Removes every cut.
  absl::Status Heal();

 private:
  // Every packet `from` sends `to`.
  absl::Status Drop(const Endpoint& from, const Endpoint& to);
  absl::Status ForEachPair(const std::vector<std::string>& a,
                           const std::vector<std::string>& b, bool both_ways);

  std::map<std::string, Endpoint> endpoints_;
};

// The port of "host:port".
int PortOf(const std::string& address);

}  // namespace shoplist::testing

#endif  // SHOPLIST_TESTS_SUPPORT_PARTITION_H_
