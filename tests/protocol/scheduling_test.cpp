// Lane scheduler, token bucket, pacer and NewReno.
#include <gtest/gtest.h>

#include <array>

#include "protocol/congestion.h"
#include "protocol/pacer.h"
#include "protocol/scheduler.h"
#include "protocol/token_bucket.h"

namespace hana::protocol {
namespace {

constexpr std::uint32_t bit(Lane l) { return 1u << static_cast<unsigned>(l); }

TEST(LaneScheduler, StrictPriorityWithoutGuard) {
  LaneScheduler s(0);
  const std::uint32_t all = 0xF;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(*s.pick(all), Lane::Control);
  EXPECT_EQ(*s.pick(bit(Lane::Normal) | bit(Lane::Bulk)), Lane::Normal);
  EXPECT_FALSE(s.pick(0).has_value());
}

TEST(LaneScheduler, StarvationGuardGivesLowerLanesTheirShare) {
  LaneScheduler s(10);
  std::array<int, kLaneCount> picks{};
  const std::uint32_t busy = bit(Lane::High) | bit(Lane::Bulk);
  for (int i = 0; i < 1000; ++i) ++picks[static_cast<std::size_t>(*s.pick(busy))];
  EXPECT_EQ(picks[static_cast<std::size_t>(Lane::Bulk)], 100);
  EXPECT_EQ(picks[static_cast<std::size_t>(Lane::High)], 900);
}

TEST(LaneScheduler, SeveralStarvedLanesAllProgress) {
  LaneScheduler s(20);
  std::array<int, kLaneCount> picks{};
  for (int i = 0; i < 1000; ++i) ++picks[static_cast<std::size_t>(*s.pick(0xF))];
  for (std::size_t l = 1; l < kLaneCount; ++l) EXPECT_GT(picks[l], 50) << l;
  EXPECT_GT(picks[0], picks[1]);
}

TEST(TokenBucket, RefillsAtRateUpToBurst) {
  TokenBucket b(1'000'000, 10'000, 0);  // 1 MB/s, 10 kB burst
  EXPECT_TRUE(b.has(10'000, 0));
  b.consume(10'000, 0);
  EXPECT_FALSE(b.can_send(0));
  EXPECT_EQ(b.ready_at(0), 1001u);  // one byte at 1 MB/s takes 1 us
  EXPECT_TRUE(b.has(1'000, kNsPerMs));  // 1 ms -> 1000 bytes
  EXPECT_FALSE(b.has(1'001, kNsPerMs));
  EXPECT_TRUE(b.has(10'000, kNsPerSec));
  EXPECT_FALSE(b.has(10'001, 2 * kNsPerSec)) << "capped at the burst";
}

TEST(TokenBucket, DebtDelaysNextSend) {
  TokenBucket b(1'000'000, 1'500, 0);
  b.consume(3'000, 0);  // one big datagram may overdraw
  EXPECT_FALSE(b.can_send(0));
  const TimeNs t = b.ready_at(0);
  EXPECT_GT(t, 1'500u * kNsPerUs - 1);
  EXPECT_FALSE(b.can_send(t - 2 * kNsPerUs));
  EXPECT_TRUE(b.can_send(t));
}

TEST(TokenBucket, ZeroRateIsUnlimited) {
  TokenBucket b(0, 1'500, 0);
  b.consume(1'000'000, 0);
  EXPECT_TRUE(b.can_send(0));
}

// A burst is 10 full datagrams, and at least 64 KiB: one full GSO send (UDP_SEGMENT) at
// LAN-sized datagrams, which a burst of 10 x 1452 bytes used to cut to 10 segments.
TEST(Pacer, SpreadsBurstsAtTheConfiguredRate) {
  const auto burst_of = [](std::uint64_t datagram) {
    Pacer p;
    p.set_enabled(true, 0);
    p.update(datagram * 1000, datagram, 0);  // 1000 datagrams per second
    std::uint64_t sent = 0;
    while (p.can_send(0) && sent < 1000) {
      p.on_sent(datagram, 0);
      ++sent;
    }
    EXPECT_GT(p.ready_at(0), 0u);
    EXPECT_TRUE(p.can_send(p.ready_at(0)));
    return sent;
  };
  EXPECT_EQ(burst_of(9000), 10u);
  const std::uint64_t lan = burst_of(1452);
  EXPECT_GE(lan * 1452, Pacer::kBurstFloorBytes);
  EXPECT_LT((lan - 1) * 1452, Pacer::kBurstFloorBytes);
  Pacer off;
  EXPECT_TRUE(off.can_send(0));
}

TEST(NewReno, SlowStartThenHalvesOncePerRecoveryPeriod) {
  NewReno cc(1000, 10'000, 2'000);
  cc.on_ack(AckEvent{5'000, 10, 20, 50});
  EXPECT_EQ(cc.cwnd_bytes(), 15'000u);
  cc.on_loss(LossEvent{1'000, 15, 30, false});
  EXPECT_TRUE(cc.in_recovery());
  EXPECT_EQ(cc.cwnd_bytes(), 7'500u);
  cc.on_loss(LossEvent{1'000, 25, 31, false});  // sent before recovery began: same event
  EXPECT_EQ(cc.cwnd_bytes(), 7'500u);
  cc.on_ack(AckEvent{1'000, 29, 40, 50});  // sent before recovery: no growth, still recovering
  EXPECT_TRUE(cc.in_recovery());
  EXPECT_EQ(cc.cwnd_bytes(), 7'500u);
  cc.on_ack(AckEvent{1'000, 35, 50, 50});  // sent after recovery began: leaves recovery
  EXPECT_FALSE(cc.in_recovery());
  // Congestion avoidance: one MSS per window of acked bytes.
  cc.on_ack(AckEvent{7'500, 36, 60, 50});
  EXPECT_EQ(cc.cwnd_bytes(), 8'500u);
  cc.on_loss(LossEvent{1'000, 55, 70, false});  // a new event
  EXPECT_EQ(cc.cwnd_bytes(), 4'250u);
  cc.on_loss(LossEvent{1'000, 75, 80, true});  // persistent congestion collapses to min
  EXPECT_EQ(cc.cwnd_bytes(), 2'000u);
}

TEST(NewReno, NeverBelowMinimumAndPacingRateFollowsWindow) {
  NewReno cc(1000, 4'000, 3'000);
  for (TimeNs t = 1; t < 10; ++t) cc.on_loss(LossEvent{1'000, t * 100, t * 100 + 1, false});
  EXPECT_EQ(cc.cwnd_bytes(), 3'000u);
  // 1.25 * 3000 B per 100 us = 37.5 MB/s in congestion avoidance.
  EXPECT_EQ(cc.pacing_rate_bytes_per_sec(100 * kNsPerUs), 37'500'000u);
}

}  // namespace
}  // namespace hana::protocol
