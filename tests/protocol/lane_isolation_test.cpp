// Lanes isolated below the scheduler (issue 11 §2): while High traffic is active, Bulk
// has only about one BDP in flight ahead of a High message (LaneGuard), and a receiver
// hands a High message over before Bulk messages completed in the same batch.
#include <gtest/gtest.h>

#include <algorithm>

#include "protocol/lane_guard.h"
#include "pair.h"

namespace hana::protocol::test {
namespace {

constexpr std::uint64_t kDatagram = 1452;

TEST(LaneGuard, ActiveOnlyForItsHoldAfterUrgentTraffic) {
  LaneGuard g;
  g.configure(100 * kNsPerMs, 16 * kDatagram, 2.0);
  EXPECT_FALSE(g.active(0));
  g.on_urgent(kNsPerSec);
  EXPECT_TRUE(g.active(kNsPerSec));
  EXPECT_TRUE(g.active(kNsPerSec + 100 * kNsPerMs - 1));
  EXPECT_FALSE(g.active(kNsPerSec + 100 * kNsPerMs));
  LaneGuard off;
  off.configure(0, 16 * kDatagram, 2.0);
  off.on_urgent(kNsPerSec);
  EXPECT_FALSE(off.active(kNsPerSec)) << "hold 0 turns the guard off";
}

TEST(LaneGuard, LimitIsGainTimesDeliveryRateTimesMinRttAboveTheFloor) {
  LaneGuard g;
  g.configure(kNsPerSec, 10 * kDatagram, 2.0);
  EXPECT_EQ(g.limit_bytes(50 * kNsPerUs), 10 * kDatagram) << "no rate sample yet: the floor";
  // 1 GB/s: 50 kB acked per 50 us interval (each interval at least one smoothed RTT).
  const TimeNs srtt = 50 * kNsPerUs;
  TimeNs t = kNsPerSec;
  g.on_acked(0, t, srtt);  // starts the clock
  for (int i = 0; i < 4; ++i) g.on_acked(50'000, t += srtt, srtt);
  EXPECT_EQ(g.delivery_rate_bytes_per_sec(), 1'000'000'000u);
  EXPECT_EQ(g.limit_bytes(40 * kNsPerUs), 80'000u) << "2 x 1 GB/s x 40 us";
  // A slower stretch does not lower the windowed max until it has aged out.
  for (std::size_t i = 0; i < LaneGuard::kRateSamples - 1; ++i) g.on_acked(5'000, t += srtt, srtt);
  EXPECT_EQ(g.delivery_rate_bytes_per_sec(), 1'000'000'000u);
  g.on_acked(5'000, t += srtt, srtt);
  EXPECT_EQ(g.delivery_rate_bytes_per_sec(), 100'000'000u);
  EXPECT_EQ(g.limit_bytes(40 * kNsPerUs), 10 * kDatagram) << "2 x 100 MB/s x 40 us = 8 kB: the floor";
}

// Bulk saturates a connection while a High message goes every 200 us; returns the most
// bytes in flight seen until half the Bulk data is delivered (what a High message queued
// at that moment finds ahead of it below the scheduler), and checks every High message arrived.
std::uint64_t bulk_ahead_of_high(const Config& cfg) {
  Pair p(cfg, 20 * kNsPerUs);
  const auto bulk = bytes_of(1, 16 * 1024);
  constexpr int kBulkMessages = 256;  // 4 MiB: outlasts the run even at the floor
  int high_sent = 0;
  TimeNs next_high = 0;
  std::uint64_t worst = 0;
  const auto bulk_delivered = [&] {
    return std::count_if(p.ev_a.begin(), p.ev_a.end(),
                         [](const Ev& e) { return e.kind == Ev::Kind::Delivered && e.lane == Lane::Bulk; });
  };
  const bool done = p.run_until(
      [&] {
        if (p.now >= next_high) {
          EXPECT_TRUE(p.a.send(bytes_of(100 + static_cast<std::uint64_t>(high_sent), 64), opts(Lane::High), p.now));
          ++high_sent;
          next_high = p.now + 200 * kNsPerUs;
          if (high_sent == 1) {
            for (int i = 0; i < kBulkMessages; ++i) EXPECT_TRUE(p.a.send(bulk, opts(Lane::Bulk), p.now));
          }
          p.flush(p.a, true);
        }
        worst = std::max(worst, p.a.stats().bytes_in_flight);
        return bulk_delivered() >= kBulkMessages / 2;
      },
      p.now + kNsPerSec);
  EXPECT_TRUE(done);
  EXPECT_GE(high_sent, 2);
  const auto highs = [&] {
    return std::count_if(p.ev_b.begin(), p.ev_b.end(),
                         [](const Ev& e) { return e.kind == Ev::Kind::Received && e.lane == Lane::High; });
  };
  EXPECT_TRUE(p.run_until([&] { return highs() == high_sent; }, p.now + kNsPerSec));
  return worst;
}

TEST(LaneIsolation, BulkInFlightAheadOfHighStaysNearTheGuardFloor) {
  Config cfg;
  cfg.lane_guard_ms = 100;  // off by default (docs/connection.md)
  cfg.lane_guard_min_packets = 8;
  cfg.lane_guard_bdp_gain = 0.5;  // the in-memory wire has no bandwidth limit: hold the floor
  // The floor, plus one Bulk datagram admitted just below it and the High traffic's own.
  EXPECT_LE(bulk_ahead_of_high(cfg), (8 + 2) * kDatagram);

  // Without the guard the window (64 datagrams at first) is what a High message finds ahead.
  cfg.lane_guard_ms = 0;
  EXPECT_GT(bulk_ahead_of_high(cfg), 32 * kDatagram);
}

// High backlogged with small messages, so nearly every datagram carries High frames next
// to the Bulk ones the scheduler's starvation share lets in: the guard counts only the
// Bulk frames' bytes, so what sits ahead of a High message stays within its bound while
// Bulk still gets its share (counting whole datagrams, it fell to 2-4 % of the messages
// instead of 20 %: nearly every datagram counted against it; here 5 %).
TEST(LaneIsolation, BusyHighKeepsBulkBoundedInBytesYetGetsItsShare) {
  Config cfg;
  cfg.lane_guard_ms = 100;
  cfg.lane_guard_min_packets = 16;
  cfg.lane_guard_bdp_gain = 0.5;  // the in-memory wire has no bandwidth limit: hold the floor
  cfg.starvation_share_pct = 20;
  const std::uint64_t bound = 16 * kDatagram;
  Pair p(cfg, 20 * kNsPerUs);
  // One datagram per arrival instant, so the receiver's event order is the arrival order
  // (within one batch it hands High events over first).
  p.jitter = [](bool, std::uint64_t index) { return static_cast<TimeNs>(index); };
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(p.a.send(bytes_of(i, 100), opts(Lane::High), p.now).ok());
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(p.a.send(bytes_of(10'000 + i, 100), opts(Lane::Bulk), p.now).ok());
  std::uint64_t worst_lower = 0;
  ASSERT_TRUE(p.run_until([&] {
    worst_lower = std::max(worst_lower, p.a.stats().lower_bytes_in_flight);
    return p.count(p.ev_b, Ev::Kind::Received) >= 1000;
  }));
  // The bound, plus the one Bulk frame admitted just below it; and the bound was reached.
  EXPECT_LE(worst_lower, bound + kDatagram);
  EXPECT_GT(p.a.stats().lane_guard_holds, 0u);
  std::size_t bulk = 0, seen = 0;
  for (const auto& e : p.ev_b) {
    if (e.kind != Ev::Kind::Received || seen == 1000) continue;
    ++seen;
    bulk += e.lane == Lane::Bulk;
  }
  EXPECT_GE(bulk, 150u);  // ~20 % share, as without the guard (ConnectionLimits.StarvationGuard...)
  EXPECT_LE(bulk, 250u);
}

TEST(LaneIsolation, WithoutUrgentTrafficBulkGetsTheWholeWindow) {
  Config cfg;
  cfg.lane_guard_ms = 100;
  cfg.lane_guard_min_packets = 8;
  cfg.lane_guard_bdp_gain = 0.5;
  Pair p(cfg, 20 * kNsPerUs);
  const auto bulk = bytes_of(1, 16 * 1024);
  for (int i = 0; i < 64; ++i) EXPECT_TRUE(p.a.send(bulk, opts(Lane::Bulk), p.now));
  p.flush(p.a, true);
  EXPECT_GT(p.a.stats().bytes_in_flight, 32 * kDatagram);
  EXPECT_EQ(p.a.stats().lane_guard_holds, 0u);
}

TEST(LaneIsolation, ReceiverHandsHighOverBeforeBulkCompletedInTheSameBatch) {
  Pair p(Config{}, 20 * kNsPerUs);
  // Bulk leaves first (queued and transmitted before the High message exists), so both
  // arrive in one batch with the Bulk datagrams ahead of the High one.
  ASSERT_TRUE(p.a.send(bytes_of(1, 4000), opts(Lane::Bulk), p.now));
  ASSERT_TRUE(p.a.send(bytes_of(2, 300), opts(Lane::Bulk), p.now));
  p.flush(p.a, true);
  ASSERT_TRUE(p.a.send(bytes_of(3, 64), opts(Lane::High), p.now));
  p.flush(p.a, true);
  ASSERT_TRUE(p.step());  // every datagram reaches b at the same instant, then b's events are drained
  std::vector<Ev> received;
  for (const Ev& e : p.ev_b)
    if (e.kind == Ev::Kind::Received) received.push_back(e);
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[0].lane, Lane::High);
  EXPECT_EQ(tag_of(received[0].payload), 3u);
  EXPECT_EQ(tag_of(received[1].payload), 1u) << "order holds within the Bulk lane";
  EXPECT_EQ(tag_of(received[2].payload), 2u);
}

}  // namespace
}  // namespace hana::protocol::test
