// The Prometheus endpoint: a real scrape over loopback TCP after real traffic.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>

#include "../engine/node_harness.h"
#include "display_harness.h"
#include "hana/metrics_exporter.h"

namespace hana::test {
namespace {

// GET /metrics from 127.0.0.1:port; bounded by a 5 s timeout per read.
std::string scrape(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return ::close(fd), "";
  const std::string req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return ::close(fd), "";
  std::string out;
  char buf[4096];
  for (int i = 0; i < 10000; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

// Value of the first sample of `name` whose labels contain every one of `labels`
// (e.g. {"lane=\"high\""}); -1 if there is none. Plain string search (std::regex trips a
// g++-12 false positive under -fsanitize=address -Werror).
double metric_value(const std::string& text, const std::string& name, std::initializer_list<std::string> labels = {}) {
  std::size_t pos = 0;
  while ((pos = text.find("\n" + name, pos)) != std::string::npos) {
    const std::size_t start = pos + 1;
    const std::size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    pos = start;
    const char after = line.size() > name.size() ? line[name.size()] : '\0';
    if (after != '{' && after != ' ') continue;  // a longer metric name with this prefix
    bool all = true;
    for (const auto& l : labels) all = all && line.find(l) != std::string::npos;
    if (!all) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

TEST(Metrics, ScrapeAfterTrafficShowsNodePeerAndLaneSeries) {
  auto a = start_node(IoBackend::Auto);
  auto b = start_node(IoBackend::Auto);
  ASSERT_TRUE(a && b);
  const auto [b_at_a, a_at_b] = connect_pair(*a, *b);
  ASSERT_NE(b_at_a, 0u);
  const std::uint8_t msg[16] = {};
  int delivered = 0;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(a->send(b_at_a, Lane::High, msg).ok());
  ASSERT_TRUE(pump_until(*a, [&](Event& e) { delivered += e.kind == EventKind::Delivered; },
                         [&] { return delivered == 10; }, kConnectTimeoutNs));

  auto exporter = MetricsExporter::start(*a, "127.0.0.1:0");
  ASSERT_TRUE(exporter.ok()) << exporter.error().message;
  ASSERT_NE((*exporter)->port(), 0);
  const std::string text = scrape((*exporter)->port());
  ASSERT_NE(text.find("200 OK"), std::string::npos) << text.substr(0, 200);
  EXPECT_NE(text.find("# TYPE hana_peer_packets_sent_total counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE hana_peer_rtt_smoothed_seconds gauge"), std::string::npos);
  EXPECT_EQ(metric_value(text, "hana_peers", {"state=\"alive\""}), 1);
  // Per peer and lane: the 10 HIGH messages sent and confirmed.
  EXPECT_EQ(metric_value(text, "hana_lane_messages_sent_total", {"peer=\"", "lane=\"high\""}), 10);
  EXPECT_EQ(metric_value(text, "hana_lane_delivered_total", {"peer=\"", "lane=\"high\""}), 10);
  EXPECT_GT(metric_value(text, "hana_peer_packets_sent_total", {"peer=\""}), 0);
  EXPECT_GT(metric_value(text, "hana_peer_rtt_samples_total", {"peer=\""}), 0);
  EXPECT_GE(metric_value(text, "hana_peer_link_loss_ratio", {"peer=\""}), 0);
  EXPECT_GE(metric_value(text, "hana_peer_link_jitter_seconds", {"peer=\""}), 0);
  EXPECT_EQ(metric_value(text, "hana_peer_transport", {"peer=\"", "transport=\"udp\""}), 1);  // the TCP path unused
  // Families generated from the stats tables (hana/stats.def), the mesh's own counters included.
  EXPECT_GT(metric_value(text, "hana_mesh_datagrams_in_total"), 0);
  EXPECT_GE(metric_value(text, "hana_mesh_suspicions_total"), 0);
  EXPECT_GE(metric_value(text, "hana_mesh_bad_cookies_total"), 0);
  // The hostile-input counters (issue 15), each present.
  for (const char* family : {"rate_limited", "bad_cookies", "refused_peer_limit", "bad_datagrams", "unknown_connection",
                             "wrong_source", "reassembly_refused", "dead_records_evicted", "dials_deferred",
                             "untrusted_gossip"})
    EXPECT_GE(metric_value(text, std::string("hana_mesh_") + family + "_total"), 0) << family;
  // Codec rejects by reason: one labelled series per DecodeError.
  EXPECT_GE(metric_value(text, "hana_mesh_bad_datagrams_by_error_total", {"error=\"bad_checksum\""}), 0);
  EXPECT_GE(metric_value(text, "hana_mesh_bad_datagrams_by_error_total", {"error=\"unknown_header_flags\""}), 0);
  EXPECT_GE(metric_value(text, "hana_peer_acks_sent_total", {"peer=\""}), 0);  // present (the sender of data acks little)
  EXPECT_NE(text.find("# TYPE hana_peer_in_recovery gauge"), std::string::npos);
  // The node's identity, and the maxima as gauges in seconds (not counters in ns).
  EXPECT_EQ(metric_value(text, "hana_node_info", {"id=\"", "version=\"", "backend=\""}), 1);
  EXPECT_NE(text.find("# TYPE hana_engine_loop_cycle_max_seconds gauge"), std::string::npos);
  EXPECT_NE(text.find("# TYPE hana_engine_timer_late_max_seconds gauge"), std::string::npos);
  EXPECT_EQ(text.find("max_ns"), std::string::npos);
  const double cycle_max = metric_value(text, "hana_engine_loop_cycle_max_seconds");
  EXPECT_GT(cycle_max, 0);
  EXPECT_LT(cycle_max, 10);  // seconds, not nanoseconds
  // HELP says what a family is, from the engine's counter table.
  EXPECT_NE(text.find("# HELP hana_engine_datagrams_received_total datagrams read from the socket"), std::string::npos);
  EXPECT_EQ(text.find("Engine counter "), std::string::npos);
}

// The display layer's families: a receiver's counts, deadlines missed and update age,
// scraped from the DisplayState's published copy (the scrape runs on another thread).
TEST(Metrics, DisplayStateFamiliesAreScraped) {
  DisplayNode a = start_display_node();
  ASSERT_TRUE(a.node);
  DisplayNode b = start_display_node({a.node->local_address()});
  ASSERT_TRUE(b.node);
  ASSERT_TRUE(pump_displays({&a, &b}, [&] { return a.node->stats().peers.size() == 1; }));
  auto exporter = MetricsExporter::start(*b.node, "127.0.0.1:0");
  ASSERT_TRUE(exporter.ok()) << exporter.error().message;
  (*exporter)->add_display_state(*b.display);
  auto late = group_at("late", 1);
  late.apply_at_us = 1;  // long past on arrival: a missed deadline
  ASSERT_TRUE(a.display->propagate_group_update(late).ok());
  auto timely = group_at("timely", 2);
  timely.apply_at_us = a.display->mesh_time_us() + 3'600'000'000ull;  // an hour ahead
  ASSERT_TRUE(a.display->propagate_group_update(timely).ok());
  ASSERT_TRUE(pump_displays({&a, &b}, [&] { return b.group("late") && b.group("timely"); }));
  b.display->publish();  // the exporter reads the published copy
  const std::string text = scrape((*exporter)->port());
  EXPECT_EQ(metric_value(text, "hana_display_updates_applied_total"), 2);
  EXPECT_EQ(metric_value(text, "hana_display_deadline_missed_total"), 1);
  EXPECT_EQ(metric_value(text, "hana_display_id_deadline_missed_total", {"id=\"late\""}), 1);
  EXPECT_EQ(metric_value(text, "hana_display_id_deadline_missed_total", {"id=\"timely\""}), 0);
  EXPECT_EQ(metric_value(text, "hana_display_applied_version", {"type=\"group\"", "id=\"timely\""}), 1);
  EXPECT_GE(metric_value(text, "hana_display_update_age_seconds", {"stat=\"p99\""}), 0);
  EXPECT_LT(metric_value(text, "hana_display_update_age_seconds", {"stat=\"max\""}), 60) << "seconds, not µs";
  EXPECT_EQ(metric_value(text, "hana_display_groups"), 2);
  // The node's own families are still there.
  EXPECT_EQ(metric_value(text, "hana_peers", {"state=\"alive\""}), 1);
}

// promtool (Debian's prometheus package; .ci/run installs it) lints the exposition:
// names, types, HELP, units and counter suffixes.
TEST(Metrics, PromtoolAcceptsTheExposition) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "promtool not found (Debian package prometheus: apt-get install --no-install-recommends prometheus; CI installs it)";
  auto a = start_node(IoBackend::Auto);
  auto b = start_node(IoBackend::Auto);
  ASSERT_TRUE(a && b);
  const auto [b_at_a, a_at_b] = connect_pair(*a, *b);
  ASSERT_NE(b_at_a, 0u);
  const auto path = std::filesystem::temp_directory_path() / ("hana-metrics-" + std::to_string(::getpid()) + ".prom");
  DisplayState display(*a);
  auto update = test::group_at("g", 1);
  update.apply_at_us = 1;
  ASSERT_TRUE(display.propagate_group_update(update).ok());  // applied locally: one of each display series
  display.publish();
  std::ofstream(path) << MetricsExporter::render(a->stats()) << MetricsExporter::render(display.published());
  const std::string cmd = "promtool check metrics < " + path.string() + " 2>&1";
  std::string output;
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) output += buf;
  const int status = ::pclose(p);
  std::filesystem::remove(path);
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << "promtool's remarks on the exposition";
}

TEST(Metrics, BadBindAddressIsAClearError) {
  auto a = start_node(IoBackend::Auto);
  ASSERT_TRUE(a);
  auto exporter = MetricsExporter::start(*a, "256.1.1.1:99999");
  ASSERT_FALSE(exporter.ok());
  EXPECT_EQ(exporter.error().code, Errc::Unavailable);
}

}  // namespace
}  // namespace hana::test
