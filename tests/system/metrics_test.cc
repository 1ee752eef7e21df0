// The Prometheus endpoints of a real proxy and node: RPCs are counted by
// method and status code with latency histograms, and the values computed
// at scrape time (lists held, ring version, members) follow the cluster.
// The alert rules and the Grafana dashboard in monitoring/ name only
// metrics that the servers export.
#include "services/common/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crdt/list_id.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "shoplist/v1/list_service.grpc.pb.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace shoplist::testing {
namespace {

// GET http://127.0.0.1:port/metrics; empty on any failure.
std::string Scrape(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string body;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request =
        "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, request.data(), request.size()) ==
        static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = read(fd, buf, sizeof buf)) > 0) body.append(buf, n);
    }
  }
  close(fd);
  size_t start = body.find("\r\n\r\n");
  return start == std::string::npos ? "" : body.substr(start + 4);
}

// The value of the sample line that starts with `series`, or -1.
double Sample(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, series + " ")) continue;
    double value = -1;
    if (absl::SimpleAtod(line.substr(series.size() + 1), &value)) return value;
  }
  return -1;
}

// The text of `path` under the source tree; empty if it cannot be read.
std::string SourceFile(const std::string& path) {
  std::ifstream in(std::string(SHOPLIST_SOURCE_DIR) + "/" + path);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

// The distinct shoplist_ metric names in `text`, and those of them that
// no scrape in `scrapes` exports. A name is exported when a scrape has its
// family (the text format's HELP line carries a counter's _total), or
// when it is the _bucket, _sum or _count series of an exported histogram.
struct NamedMetrics {
  std::set<std::string> named;
  std::set<std::string> unexported;
};
NamedMetrics MetricsNamedIn(const std::string& text,
                            const std::vector<std::string>& scrapes) {
  auto exports = [&](const std::string& line) {
    for (const std::string& scrape : scrapes) {
      if (absl::StrContains(scrape, line)) return true;
    }
    return false;
  };
  NamedMetrics result;
  const std::regex metric("shoplist_[a-z0-9_]+");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), metric);
       it != std::sregex_iterator(); ++it) {
    const std::string name = it->str();
    if (!result.named.insert(name).second) continue;
    if (exports("# HELP " + name + " ")) continue;
    bool histogram_series = false;
    for (absl::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (absl::EndsWith(name, suffix)) {
        const std::string family = name.substr(0, name.size() - suffix.size());
        histogram_series = exports("# TYPE " + family + " histogram\n");
      }
    }
    if (!histogram_series) result.unexported.insert(name);
  }
  return result;
}

TEST(MetricsTest, ServersExposeRpcAndClusterFigures) {
  TempDir dir;
  const std::string proxy = "127.0.0.1:" + std::to_string(FreePort());
  const int proxy_metrics = FreePort();
  const int node_metrics = FreePort();
  ChildProcess proxy_process(
      {SHOPLIST_PROXY_BINARY, "--listen=" + proxy, "--data=" + dir.Sub("p"),
       "--replicas=1",
       "--metrics-listen=127.0.0.1:" + std::to_string(proxy_metrics)},
      dir.Sub("proxy.log"));
  ChildProcess node_process(
      {SHOPLIST_NODE_BINARY, "--id=node-0",
       "--listen=127.0.0.1:" + std::to_string(FreePort()), "--proxy=" + proxy,
       "--data=" + dir.Sub("n"), "--replicas=1", "--read-quorum=1",
       "--write-quorum=1",
       "--metrics-listen=127.0.0.1:" + std::to_string(node_metrics)},
      dir.Sub("node.log"));
  ASSERT_TRUE(WaitFor(
      absl::Seconds(20),
      [&] {
        // The node coordinates only once it holds the
        // ring, a moment after the proxy counts it up.
        return Sample(Scrape(proxy_metrics), "shoplist_members_up") == 1 &&
               Sample(Scrape(node_metrics), "shoplist_ring_version") >= 1;
      }))
      << "logs in " << dir.path();

  auto lists = v1::ListService::NewStub(FastChannel(proxy));
  const std::string id = *crdt::NewListId();
  v1::ApplyRequest create;
  create.set_list_id(id);
  create.mutable_operation()->mutable_create()->set_title("groceries");
  v1::ApplyResponse applied;
  const grpc::Status created =
      lists->Apply(Context(absl::Seconds(10), true).get(), create, &applied);
  ASSERT_TRUE(created.ok())
      << created.error_code() << ": " << created.error_message() << "; logs in "
      << dir.path();
  v1::GetRequest bad;
  bad.set_list_id("NOT-AN-ID");
  v1::GetResponse got;
  EXPECT_FALSE(lists->Get(Context(absl::Seconds(10)).get(), bad, &got).ok());

  const std::string node = Scrape(node_metrics);
  const std::string apply =
      "{code=\"OK\",method=\"/shoplist.v1.ListService/Apply\"}";
  EXPECT_EQ(Sample(node, "shoplist_rpc_requests_total" + apply), 1) << node;
  EXPECT_EQ(Sample(node,
                   "shoplist_rpc_latency_seconds_count{method=\"/"
                   "shoplist.v1.ListService/Apply\"}"),
            1);
  EXPECT_EQ(Sample(node, "shoplist_lists"), 1);
  EXPECT_GE(Sample(node, "shoplist_ring_version"), 1);
  EXPECT_EQ(Sample(node, "shoplist_hints_pending"), 0);
  // One series per peer that failed; one node alone has none.
  EXPECT_TRUE(absl::StrContains(
      node, "# TYPE shoplist_replica_failures_total counter"));
  EXPECT_EQ(Sample(node, "shoplist_hints_oldest_age_seconds"), 0);
  EXPECT_EQ(Sample(node, "shoplist_anti_entropy_repairs_total"), 0);
  EXPECT_GE(Sample(node, "shoplist_anti_entropy_last_round_timestamp_seconds"),
            0);
  EXPECT_GE(Sample(node, "shoplist_anti_entropy_last_round_seconds"), 0);
  EXPECT_EQ(Sample(node, "shoplist_draining"), 0);
  EXPECT_GT(Sample(node, "shoplist_data_bytes"), 0);
  const double free_bytes = Sample(node, "shoplist_disk_free_bytes");
  EXPECT_GT(free_bytes, 0);
  EXPECT_GE(Sample(node, "shoplist_disk_size_bytes"), free_bytes);

  const std::string at_proxy = Scrape(proxy_metrics);
  EXPECT_EQ(Sample(at_proxy, "shoplist_rpc_requests_total" + apply), 1)
      << at_proxy;
  EXPECT_EQ(Sample(at_proxy,
                   "shoplist_rpc_requests_total{code=\"INVALID_ARGUMENT\","
                   "method=\"/shoplist.v1.ListService/Get\"}"),
            1);
  EXPECT_GE(Sample(at_proxy,
                   "shoplist_rpc_requests_total{code=\"OK\",method=\"/"
                   "shoplist.v1.MembershipService/Join\"}"),
            1);
  EXPECT_EQ(Sample(at_proxy, "shoplist_members_down"), 0);

  // The alert rules and the dashboard name only metrics the servers
  // export (a floor on how many they name catches a file that went empty).
  for (const auto& [path, floor] :
       {std::pair{"monitoring/alerts.yml", size_t{9}},
        std::pair{"monitoring/grafana/shoplist.json", size_t{15}}}) {
    const std::string text = SourceFile(path);
    ASSERT_FALSE(text.empty()) << path;
    const NamedMetrics metrics = MetricsNamedIn(text, {node, at_proxy});
    EXPECT_GE(metrics.named.size(), floor) << path;
    EXPECT_THAT(metrics.unexported, ::testing::IsEmpty())
        << "in " << path << " but exported by no server";
  }

  // A node that stops is counted down once its heartbeats stop.
  node_process.Kill();
  EXPECT_TRUE(WaitFor(absl::Seconds(20), [&] {
    return Sample(Scrape(proxy_metrics), "shoplist_members_down") == 1;
  }));
  // The metrics endpoint does not stand in the way of a clean stop.
  proxy_process.Signal(SIGTERM);
  EXPECT_EQ(proxy_process.Wait(absl::Seconds(10)), 0);
  EXPECT_TRUE(Scrape(proxy_metrics).empty());
}

// What Grafana's import needs of monitoring/grafana/shoplist.json: JSON
// with panels of distinct ids, each querying the dashboard's data source
// variable with a PromQL expression.
TEST(MetricsTest, DashboardIsImportableGrafanaJson) {
  const std::string path = "monitoring/grafana/shoplist.json";
  const nlohmann::json dashboard = nlohmann::json::parse(
      SourceFile(path), nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(dashboard.is_discarded()) << path << " is not JSON";
  ASSERT_TRUE(dashboard.is_object());
  EXPECT_GE(dashboard.value("schemaVersion", 0), 36);
  EXPECT_FALSE(dashboard.value("uid", "").empty());
  bool datasource_variable = false;
  for (const nlohmann::json& variable : dashboard.at("templating").at("list")) {
    datasource_variable =
        datasource_variable || (variable.value("name", "") == "datasource" &&
                                variable.value("type", "") == "datasource" &&
                                variable.value("query", "") == "prometheus");
  }
  EXPECT_TRUE(datasource_variable) << "no Prometheus data source variable";
  const nlohmann::json& panels = dashboard.at("panels");
  ASSERT_TRUE(panels.is_array());
  std::set<int> ids;
  int queries = 0;
  for (const nlohmann::json& panel : panels) {
    const std::string title = panel.value("title", "");
    EXPECT_TRUE(ids.insert(panel.value("id", 0)).second)
        << "panel id repeated: " << title;
    if (panel.value("type", "") == "row") continue;
    EXPECT_EQ(panel.at("datasource").value("uid", ""), "${datasource}")
        << title;
    ASSERT_TRUE(panel.contains("targets")) << title;
    for (const nlohmann::json& target : panel.at("targets")) {
      EXPECT_FALSE(target.value("expr", "").empty()) << title;
      ++queries;
    }
  }
  EXPECT_GE(queries, 20);
}

TEST(MetricsTest, LabeledValuesAreOneSeriesPerLabelValue) {
  // What shoplist_replica_failures_total{peer} is made with.
  absl::StatusOr<std::unique_ptr<ServerMetrics>> metrics =
      ServerMetrics::Start("127.0.0.1:0");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  ServerMetrics::Labeled by_peer = {{"node-1", 3}, {"node-2", 0.5}};
  (*metrics)->AddLabeledValues("shoplist_test_failures_total", "Test",
                               ServerMetrics::Kind::kCounter, "peer",
                               [&by_peer] { return by_peer; });
  (*metrics)->AddLabeledValues("shoplist_test_none", "Test",
                               ServerMetrics::Kind::kGauge, "peer",
                               [] { return ServerMetrics::Labeled(); });
  std::string text = Scrape((*metrics)->port());
  EXPECT_EQ(Sample(text, "shoplist_test_failures_total{peer=\"node-1\"}"), 3)
      << text;
  EXPECT_EQ(Sample(text, "shoplist_test_failures_total{peer=\"node-2\"}"), 0.5);
  EXPECT_TRUE(
      absl::StrContains(text, "# TYPE shoplist_test_failures_total counter"));
  // A family with no value yet is declared, with no series.
  EXPECT_TRUE(absl::StrContains(text, "# TYPE shoplist_test_none gauge"));
  EXPECT_FALSE(absl::StrContains(text, "shoplist_test_none{"));
  // Read at each scrape.
  by_peer = {{"node-1", 4}};
  text = Scrape((*metrics)->port());
  EXPECT_EQ(Sample(text, "shoplist_test_failures_total{peer=\"node-1\"}"), 4);
  EXPECT_EQ(Sample(text, "shoplist_test_failures_total{peer=\"node-2\"}"), -1);
}

TEST(MetricsTest, ABusyMetricsPortIsAClearError) {
  TempDir dir;
  const int port = FreePort();
  ChildProcess first({SHOPLIST_PROXY_BINARY,
                      "--listen=127.0.0.1:" + std::to_string(FreePort()),
                      "--data=" + dir.Sub("a"),
                      "--metrics-listen=127.0.0.1:" + std::to_string(port)},
                     dir.Sub("a.log"));
  ASSERT_TRUE(
      WaitFor(absl::Seconds(10), [&] { return !Scrape(port).empty(); }));
  CommandResult second =
      RunCommand({SHOPLIST_PROXY_BINARY,
                  "--listen=127.0.0.1:" + std::to_string(FreePort()),
                  "--data=" + dir.Sub("b"),
                  "--metrics-listen=127.0.0.1:" + std::to_string(port)},
                 absl::Seconds(10));
  EXPECT_NE(second.exit_code, 0);
  EXPECT_NE(second.err.find("cannot serve metrics"), std::string::npos)
      << second.err;
}

TEST(LoggingTest, JsonLinesOnRequestAndBadSettingsRefused) {
  TempDir dir;
  {
    ChildProcess proxy({SHOPLIST_PROXY_BINARY,
                        "--listen=127.0.0.1:" + std::to_string(FreePort()),
                        "--data=" + dir.Sub("p"), "--log-format=json"},
                       dir.Sub("proxy.log"));
    ASSERT_TRUE(WaitFor(absl::Seconds(10), [&] {
      std::ifstream in(proxy.log_path());
      std::string text((std::istreambuf_iterator<char>(in)), {});
      return text.find("serving on") != std::string::npos;
    }));
    proxy.Signal(SIGTERM);
    ASSERT_EQ(proxy.Wait(absl::Seconds(10)), 0);
  }
  std::ifstream in(dir.Sub("proxy.log"));
  std::string line;
  int lines = 0;
  bool stopped = false;
  while (std::getline(in, line)) {
    ++lines;
    EXPECT_TRUE(absl::StartsWith(line, "{\"ts\":\"") &&
                absl::EndsWith(line, "\"}"))
        << line;
    EXPECT_NE(line.find("\"level\":\"info\""), std::string::npos) << line;
    stopped = stopped || line.find("stopped cleanly") != std::string::npos;
  }
  EXPECT_GE(lines, 3);
  EXPECT_TRUE(stopped);

  for (const std::string& bad :
       {std::string("--log-level=loud"), std::string("--log-format=xml")}) {
    CommandResult r =
        RunCommand({SHOPLIST_NODE_BINARY, "--id=n", "--members=n=127.0.0.1:1",
                    "--data=" + dir.Sub("n"), bad},
                   absl::Seconds(10));
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find("must be"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace shoplist::testing
