// The Prometheus endpoint: a real scrape over loopback TCP after real traffic.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <initializer_list>
#include <string>

#include "../engine/node_harness.h"
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
