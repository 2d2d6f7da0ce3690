// RTT estimation, loss detection thresholds and probe-timeout backoff.
#include <gtest/gtest.h>

#include <vector>

#include "protocol/loss_detection.h"
#include "protocol/rtt_estimator.h"
#include "protocol/sent_packets.h"

namespace hana::protocol {
namespace {

constexpr TimeNs us(std::uint64_t v) { return v * kNsPerUs; }

TEST(RttEstimator, FirstSampleSetsSmoothedAndHalfVariance) {
  RttEstimator r(us(500));
  EXPECT_FALSE(r.has_sample());
  EXPECT_EQ(r.smoothed_ns(), us(500));
  r.on_sample(us(40), 0, us(100));
  EXPECT_EQ(r.smoothed_ns(), us(40));
  EXPECT_EQ(r.var_ns(), us(20));
  EXPECT_EQ(r.min_ns(), us(40));
}

TEST(RttEstimator, EwmaAndAckDelayOnlySubtractedWhenPlausible) {
  RttEstimator r(us(500));
  r.on_sample(us(40), 0, us(100));
  // 80 us sample with 30 us ack delay: adjusted 50 us.
  r.on_sample(us(80), us(30), us(100));
  EXPECT_EQ(r.smoothed_ns(), (7 * us(40) + us(50)) / 8);
  EXPECT_EQ(r.var_ns(), (3 * us(20) + us(10)) / 4);
  EXPECT_EQ(r.latest_ns(), us(80));
  // Ack delay that would take the sample below min RTT is ignored.
  const TimeNs before = r.smoothed_ns();
  r.on_sample(us(45), us(30), us(100));
  EXPECT_EQ(r.smoothed_ns(), (7 * before + us(45)) / 8);
  // Ack delay is capped at max_ack_delay.
  RttEstimator c(us(500));
  c.on_sample(us(10), 0, us(5));
  c.on_sample(us(100), us(1000), us(5));
  EXPECT_EQ(c.smoothed_ns(), (7 * us(10) + us(95)) / 8);
  EXPECT_EQ(c.min_ns(), us(10));
}

// One 40 us sample (rttvar 20 us), 100 us max ack delay, the given floor and cap.
RttEstimator lan_rtt() {
  RttEstimator r(us(500));
  r.on_sample(us(40), 0, us(100));
  return r;
}
LossConfig lan_loss_config(TimeNs floor, TimeNs cap) {
  LossConfig cfg;
  cfg.max_ack_delay_ns = us(100);
  cfg.pto_floor_ns = floor;
  cfg.pto_cap_ns = cap;
  return cfg;
}

TEST(ProbeTimeout, FloorBackoffAndCap) {
  const RttEstimator r = lan_rtt();
  LossConfig cfg = lan_loss_config(us(1000), us(10000));
  // srtt 40 + max(4*20, 20) + 100 = 220 us < floor 1 ms.
  EXPECT_EQ(pto_duration_ns(r, cfg, 0), us(1000));
  EXPECT_EQ(pto_duration_ns(r, cfg, 1), us(2000));
  EXPECT_EQ(pto_duration_ns(r, cfg, 3), us(8000));
  EXPECT_EQ(pto_duration_ns(r, cfg, 4), us(10000));   // capped
  EXPECT_EQ(pto_duration_ns(r, cfg, 60), us(10000));  // no overflow
  cfg.pto_floor_ns = us(50);
  EXPECT_EQ(pto_duration_ns(r, cfg, 0), us(220));
}

SentPackets make_sent(std::uint64_t count, TimeNs spacing) {
  SentPackets s(16);
  for (std::uint64_t pn = 0; pn < count; ++pn) {
    SentPacket& p = s.push(pn);
    p.time_sent = pn * spacing;
    p.ack_eliciting = p.in_flight = true;
    p.size_bytes = 100;
  }
  return s;
}

TEST(LossDetection, PacketThresholdDeclaresOlderPacketsLost) {
  SentPackets s = make_sent(10, us(1));
  s.settle(9);  // largest acked
  std::vector<std::uint64_t> lost;
  // Time threshold far away: only the count rule applies (9 - pn >= 3 -> pn <= 6).
  auto t = detect_lost(s, 9, us(10), us(1000), 3, [&](std::uint64_t pn, SentPacket&) { lost.push_back(pn); });
  EXPECT_EQ(lost, (std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5, 6}));
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, us(7) + us(1000));  // packet 7 becomes lost by time then
  EXPECT_EQ(s.find(3), nullptr);
  EXPECT_NE(s.find(7), nullptr);
  EXPECT_EQ(s.base_pn(), 7u);
}

TEST(LossDetection, TimeThresholdDeclaresLostAfterLossDelay) {
  SentPackets s = make_sent(3, us(10));  // sent at 0, 10, 20
  s.settle(2);
  std::vector<std::uint64_t> lost;
  auto on_lost = [&](std::uint64_t pn, SentPacket&) { lost.push_back(pn); };
  auto t = detect_lost(s, 2, us(30), us(25), 3, on_lost);  // lost if sent <= 5 us
  EXPECT_EQ(lost, (std::vector<std::uint64_t>{0}));
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, us(35));
  lost.clear();
  t = detect_lost(s, 2, us(35), us(25), 3, on_lost);
  EXPECT_EQ(lost, (std::vector<std::uint64_t>{1}));
  EXPECT_FALSE(t.has_value());
}

TEST(LossDetection, LossDelayUsesLargerOfSmoothedAndLatestWithGranularityFloor) {
  RttEstimator r(us(500));
  r.on_sample(us(40), 0, 0);
  r.on_sample(us(80), 0, 0);
  EXPECT_EQ(loss_delay_ns(r, 1.125), static_cast<TimeNs>(us(80) * 1.125));
  RttEstimator tiny(us(500));
  tiny.on_sample(us(2), 0, 0);
  EXPECT_EQ(loss_delay_ns(tiny, 1.125), kTimerGranularityNs);
}

TEST(LossDetection, PacketThresholdZeroLeavesOnlyTheTimeRule) {
  SentPackets s = make_sent(10, us(1));
  s.settle(9);
  std::vector<std::uint64_t> lost;
  // Lost if sent <= 5 us (pn 0..5); with a threshold of 3, pn 6 would be lost by count too.
  auto t = detect_lost(s, 9, us(10), us(5), 0, [&](std::uint64_t pn, SentPacket&) { lost.push_back(pn); });
  EXPECT_EQ(lost, (std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5}));
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, us(6) + us(5));  // packet 6 becomes lost by time then
}

TEST(ReorderWindow, ExtentIsTheLargestReorderedSampleAndDecaysWithLosses) {
  ReorderWindow w;
  EXPECT_FALSE(w.seen());
  EXPECT_EQ(w.extent_ns(), 0u);
  w.on_reordered(us(300));
  w.on_reordered(us(200));  // a smaller sample does not shrink it
  EXPECT_TRUE(w.seen());
  EXPECT_EQ(w.extent_ns(), us(300));
  w.on_spurious_loss(us(4000));
  EXPECT_EQ(w.extent_ns(), us(4000));
  w.on_losses();
  EXPECT_EQ(w.extent_ns(), us(4000) - us(4000) / ReorderWindow::kDecayDivisor);

  RttEstimator r(us(500));
  r.on_sample(us(40), 0, 0);
  EXPECT_EQ(loss_delay_ns(r, 1.125, us(1000)), static_cast<TimeNs>(us(1000) * 1.125));
  EXPECT_EQ(loss_delay_ns(r, 1.125, 0), static_cast<TimeNs>(us(40) * 1.125));
}

TEST(ProbeTimeout, ReorderExtentRaisesTheBase) {
  const RttEstimator r = lan_rtt();
  const LossConfig cfg = lan_loss_config(us(50), us(100000));
  EXPECT_EQ(pto_duration_ns(r, cfg, 0, 0), us(220));
  EXPECT_EQ(pto_duration_ns(r, cfg, 0, us(3000)), us(3100));  // extent + max_ack_delay
  EXPECT_EQ(pto_duration_ns(r, cfg, 1, us(3000)), us(6200));
}

TEST(LostHistory, TakeFindsRecordsInARangeAndOverwritesTheOldest) {
  LostHistory h;
  EXPECT_TRUE(h.empty());
  h.add(10, us(1), 2);
  h.add(12, us(2), 1);
  h.add(20, us(3), 4);
  std::uint64_t frames = 0;
  TimeNs first = us(100);
  EXPECT_EQ(h.take(11, 20, frames, first), 2u);
  EXPECT_EQ(frames, 5u);
  EXPECT_EQ(first, us(2));
  EXPECT_EQ(h.take(11, 20, frames, first), 0u);  // forgotten once found
  EXPECT_EQ(h.take(10, 10, frames, first), 1u);
  EXPECT_TRUE(h.empty());
  for (std::uint64_t pn = 0; pn < LostHistory::kSize + 5; ++pn) h.add(pn, 0, 1);
  frames = 0;
  EXPECT_EQ(h.take(0, 4, frames, first), 0u);  // overwritten
  EXPECT_EQ(h.take(0, 1000, frames, first), LostHistory::kSize);
}

TEST(SentPackets, RingGrowsAndKeepsRecordsByPacketNumber) {
  SentPackets s(16);
  for (std::uint64_t pn = 100; pn < 200; ++pn) s.push(pn).size_bytes = static_cast<std::uint32_t>(pn);
  EXPECT_EQ(s.size(), 100u);
  for (std::uint64_t pn = 100; pn < 200; ++pn) ASSERT_EQ(s.find(pn)->size_bytes, pn);
  s.settle(150);
  EXPECT_EQ(s.find(150), nullptr);
  EXPECT_EQ(s.base_pn(), 100u);
  for (std::uint64_t pn = 100; pn < 150; ++pn) s.settle(pn);
  EXPECT_EQ(s.base_pn(), 151u);
  EXPECT_EQ(s.in_flight_count(), 49u);
  EXPECT_EQ(s.find(99), nullptr);
  EXPECT_EQ(s.find(200), nullptr);
}

}  // namespace
}  // namespace hana::protocol
