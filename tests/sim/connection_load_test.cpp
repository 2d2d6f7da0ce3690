// Load properties of protocol::Connection over the simulator: the High lane stays fast
// while Bulk saturates the bottleneck, and goodput under loss is a sane share of the link.
// All times are virtual (deterministic), so these are properties, not timing tests.
#include <gtest/gtest.h>

#include "protocol/sim/conn_scenario.h"
#include "sim_test_util.h"

namespace hana::sim {
namespace {

using testing::describe;
using testing::expect_delivery_properties;

constexpr std::uint64_t kLinkBitsPerSec = 100'000'000;  // 100 Mbit/s bottleneck
constexpr std::uint64_t kQueueBytes = 64 * 1024;
constexpr TimeNs kDelayNs = 25 * kNsPerUs;

ConnScenario bottleneck(std::uint64_t seed, double loss) {
  ConnScenario sc;
  sc.seed = seed;
  sc.link.loss = loss;
  sc.link.delay_ns = kDelayNs;
  sc.link.bandwidth_bits_per_sec = kLinkBitsPerSec;
  sc.link.queue_limit_bytes = kQueueBytes;
  return sc;
}

class HighUnderBulk : public ::testing::TestWithParam<double> {};

TEST_P(HighUnderBulk, HighLaneLatencyStaysBoundedWhileBulkSaturates) {
  const double loss = GetParam();
  ConnScenario sc = bottleneck(21, loss);
  // Bulk: ~15 MB offered as fast as the lane queue accepts (about 1.2 s at 100 Mbit/s).
  // High: 1000 small messages at 1 kHz during that time.
  sc.streams = {{Lane::Bulk, Delivery::ReliableOrdered, false, 0, 1000, 4000, 0, 6'000},
                {Lane::High, Delivery::ReliableOrdered, false, 0, 64, 256, 1'000, 1'000}};
  const auto r = run_conn_scenario(sc);
  expect_delivery_properties(r, "high-under-bulk");

  // The bound. Strict priority means a High message never waits behind queued Bulk
  // *messages* at the sender; what it can still wait for is:
  //   queue_ns  the bottleneck's FIFO, which holds at most kQueueBytes of Bulk datagrams
  //             already sent (64 KiB at 100 Mbit/s = 5.24 ms);
  //   rtt_ns    one worst-case round trip (2 x propagation + a full queue + max ack delay),
  //             for a sender whose congestion window is full of Bulk and waits for an ack;
  //   repairs   a lost (tail-dropped or, with loss, randomly dropped) datagram costs at
  //             most ~ one more round trip plus a probe timeout at its floor, doubled once
  //             by backoff. Without random loss we allow one repair; at 5% two (a High
  //             message losing two copies in a row: 0.25% each, a few of the 1000).
  // High's own serialization (< 0.03 ms) is noise at this scale.
  const TimeNs queue_ns = kQueueBytes * 8 * kNsPerSec / kLinkBitsPerSec;
  const TimeNs rtt_ns = 2 * kDelayNs + queue_ns + sc.config.max_ack_delay_us * kNsPerUs;
  const TimeNs repair_ns = rtt_ns + 2 * sc.config.pto_floor_us * kNsPerUs;
  const TimeNs repairs = loss > 0 ? 2 : 1;
  const TimeNs bound_ns = queue_ns + rtt_ns + repairs * repair_ns;  // 18.0 ms / 25.4 ms
  const auto& high = r.lane_latency[static_cast<int>(Lane::High)];
  const auto& bulk = r.lane_latency[static_cast<int>(Lane::Bulk)];
  ASSERT_EQ(high.samples, 1'000u) << describe(r);
  EXPECT_LE(high.max_ns, bound_ns) << "high p50 " << high.p50_ns << " p99 " << high.p99_ns;
  // And the scenario really saturated the link: Bulk waited much longer than High.
  EXPECT_GT(bulk.p50_ns, 10 * high.p99_ns);
  EXPECT_GT(r.goodput_mbps, 0.5 * kLinkBitsPerSec / 1e6);
}

INSTANTIATE_TEST_SUITE_P(Loss, HighUnderBulk, ::testing::Values(0.0, 0.05),
                         [](const auto& info) { return "loss" + std::to_string(static_cast<int>(info.param * 100)); });

TEST(ConnectionLoad, GoodputUnderFivePercentLossIsASaneShareOfTheLink) {
  ConnScenario sc = bottleneck(22, 0.05);
  sc.streams = {{Lane::Bulk, Delivery::ReliableOrdered, false, 0, 4000, 16000, 0, 1'500}};  // ~15 MB
  const auto r = run_conn_scenario(sc);
  expect_delivery_properties(r, "goodput");
  // 5% of datagrams are lost on the wire and have to be sent again (goodput <= 95% of the
  // link before header overhead). On a LAN the bandwidth-delay product is below one
  // datagram, so even a window collapsed to its minimum keeps the bottleneck busy; what
  // a healthy sender loses beyond the 5% is recovery stalls. Half the link is the floor
  // below which the loss response is broken (e.g. a timeout-driven sender), not tuning.
  const double link_mbps = kLinkBitsPerSec / 1e6;
  EXPECT_GT(r.goodput_mbps, 0.5 * link_mbps) << describe(r);
  // Congestion is reported, not only reacted to: recovery entries and exits alternate.
  EXPECT_GT(r.congestion_entered, 0u);
  EXPECT_EQ(r.congestion_order_violations, 0u);
  EXPECT_LE(r.congestion_entered - r.congestion_left, 1u);  // at most one still open at the end
  EXPECT_LT(r.goodput_mbps, 0.95 * link_mbps);  // sanity: it cannot beat the lossy link
}

}  // namespace
}  // namespace hana::sim

namespace hana::sim {
namespace {

TEST(ConnectionLoad, TokenBucketCapsGoodputAtItsRate) {
  // A 10 Mbit/s token bucket on a 1 Gbit/s link. Over any run, what can leave is the
  // initial burst plus rate x time; payload bytes are less than wire bytes, so
  //   received_bytes <= burst + rate * duration.
  // And the bucket is the only limit here, so the sender must not fall far below it:
  // 80% leaves room for datagram headers and acks (~3-5%) and the last ack's round trip.
  ConnScenario sc;
  sc.seed = 23;
  sc.link.bandwidth_bits_per_sec = 1'000'000'000;
  sc.config.token_rate_bytes_per_sec = 1'250'000;
  sc.config.token_burst_bytes = 65'536;
  sc.streams = {{Lane::Bulk, Delivery::ReliableOrdered, false, 0, 1000, 8000, 0, 600}};  // ~2.7 MB
  const auto r = run_conn_scenario(sc);
  expect_delivery_properties(r, "token bucket");
  const double seconds = static_cast<double>(r.duration_ns) / 1e9;
  const double rate = static_cast<double>(sc.config.token_rate_bytes_per_sec);
  const auto bytes = static_cast<double>(r.report.received_bytes);
  EXPECT_LE(bytes, static_cast<double>(sc.config.token_burst_bytes) + rate * seconds);
  EXPECT_GE(bytes, 0.8 * rate * seconds);
  EXPECT_GT(seconds, 1.5);  // ~2.7 MB at 1.25 MB/s: the cap really bound the run
}

}  // namespace
}  // namespace hana::sim
