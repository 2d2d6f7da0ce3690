// The per-peer offset estimator (min-RTT filter, drift fit, bound honesty) and the mesh
// timebase (monotonic slewing), on synthetic exchanges with a seeded generator.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "topology/clock_sync.h"
#include "topology/mesh_time.h"

namespace hana::topology {
namespace {

constexpr TimeNs kUs = 1000;

// A peer whose clock reads t + offset + drift * t at our time t (ours is the reference).
struct SyntheticPeer {
  std::int64_t offset_ns;
  double drift_ppm;
  TimeNs clock(TimeNs t) const {
    return static_cast<TimeNs>(static_cast<std::int64_t>(t) + offset_ns + std::llround(static_cast<double>(t) * drift_ppm * 1e-6));
  }
  std::int64_t true_offset(TimeNs t) const { return static_cast<std::int64_t>(clock(t) - t); }
};

// One probe exchange starting at our time t: one-way delays `fwd`/`back`, turnaround `turn`.
ClockSample exchange(const SyntheticPeer& p, TimeNs t, TimeNs fwd, TimeNs turn, TimeNs back) {
  return ClockSample{t, p.clock(t + fwd), p.clock(t + fwd + turn), t + fwd + turn + back};
}

TEST(ClockSync, SampleArithmetic) {
  const SyntheticPeer p{5'000'000, 0};
  const ClockSample s = exchange(p, 1'000'000, 30 * kUs, 10 * kUs, 30 * kUs);
  EXPECT_EQ(s.offset_ns(), 5'000'000);
  EXPECT_EQ(s.delay_ns(), 60 * static_cast<std::int64_t>(kUs));
  // Asymmetry shows up as half the difference of the one-way delays.
  const ClockSample a = exchange(p, 1'000'000, 50 * kUs, 10 * kUs, 30 * kUs);
  EXPECT_EQ(a.offset_ns(), 5'000'000 + 10'000);
  // Clocks of different hosts count from different boots: offsets near the int64 range.
  const SyntheticPeer far{-4'000'000'000'000'000'000ll, 0};
  const ClockSample f = exchange(far, 4'500'000'000'000'000'000ull, 30 * kUs, 10 * kUs, 30 * kUs);
  EXPECT_EQ(f.offset_ns(), -4'000'000'000'000'000'000ll);
}

TEST(ClockSync, ImpossibleSamplesRejected) {
  OffsetEstimator e;
  EXPECT_FALSE(e.add(ClockSample{1000, 5000, 9000, 2000}));  // turnaround longer than the round trip
  EXPECT_FALSE(e.add(ClockSample{1000, 5000, 4000, 9000}));  // t3 before t2
  EXPECT_FALSE(e.add(ClockSample{0, 0, 0, kMaxSampleDelayNs + 1}));
  EXPECT_EQ(e.size(), 0u);
  EXPECT_FALSE(e.estimate(0).valid);
}

TEST(ClockSync, MinimumRoundTripSampleWins) {
  const SyntheticPeer p{-3'000'000, 0};
  OffsetEstimator e;
  // Asymmetric, slow exchanges, and one quick symmetric one in the middle.
  for (int i = 0; i < 10; ++i) {
    const TimeNs t = static_cast<TimeNs>(i) * 10'000 * kUs;
    const bool quick = i == 5;
    ASSERT_TRUE(e.add(exchange(p, t, quick ? 25 * kUs : 200 * kUs, 5 * kUs, quick ? 25 * kUs : 40 * kUs)));
  }
  const ClockEstimate est = e.estimate(51'000 * kUs);
  ASSERT_TRUE(est.valid);
  EXPECT_EQ(est.offset_ns, -3'000'000);
  EXPECT_LE(est.error_ns, 25 * kUs + kClockErrorFloorNs + 1'000);
  EXPECT_EQ(est.sample_at, 50'000 * kUs + 27'500);
}

TEST(ClockSync, DriftIsFittedAndExtrapolated) {
  const SyntheticPeer p{1'000'000, 100};
  OffsetEstimator e;
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<TimeNs> jitter(0, 50 * kUs);
  TimeNs t = 0;
  for (int i = 0; i < 64; ++i, t += 100'000 * kUs)
    e.add(exchange(p, t, 25 * kUs + jitter(rng), 5 * kUs, 25 * kUs + jitter(rng)));
  const ClockEstimate est = e.estimate(t + 500'000 * kUs);
  ASSERT_TRUE(est.valid);
  EXPECT_NEAR(est.drift_ppm, 100, 10);
  EXPECT_LT(est.drift_error_ppm, 50);
  const std::int64_t truth = p.true_offset(t + 500'000 * kUs);
  EXPECT_LE(static_cast<std::uint64_t>(std::llabs(est.offset_ns - truth)), est.error_ns);
  // Without the fitted drift, half a second at 100 ppm would be 50 us off.
  EXPECT_LT(std::llabs(est.offset_ns - truth), 20'000);
}

struct Quality {
  double p50_us, p99_us, coverage;
};

// Probes every `interval` for `count` exchanges over a 25 us link with 0..jitter us extra
// each way and `loss` per datagram; the estimate is checked at random times between samples.
Quality run(double drift_ppm, TimeNs jitter_us, double loss, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<TimeNs> jitter(0, jitter_us * kUs);
  std::uniform_int_distribution<TimeNs> turn(2 * kUs, 20 * kUs);
  std::uniform_real_distribution<double> u(0, 1);
  const SyntheticPeer p{static_cast<std::int64_t>(rng() % 10'000'000'000ull) - 5'000'000'000ll, drift_ppm};
  OffsetEstimator e;
  std::vector<double> errors;
  std::size_t inside = 0;
  TimeNs t = 1'000'000'000;
  for (int i = 0; i < 2000; ++i) {
    const TimeNs interval = 50'000 * kUs + jitter(rng) * 100;
    if (u(rng) >= loss && u(rng) >= loss)
      e.add(exchange(p, t, 25 * kUs + jitter(rng), turn(rng), 25 * kUs + jitter(rng)));
    const TimeNs q = t + static_cast<TimeNs>(u(rng) * static_cast<double>(interval));
    if (i >= 100) {  // after five seconds of warm-up (a full window)
      const ClockEstimate est = e.estimate(q);
      if (!est.valid) continue;
      const double err = std::abs(static_cast<double>(est.offset_ns - p.true_offset(q)));
      errors.push_back(err / 1000);
      if (err <= static_cast<double>(est.error_ns)) ++inside;
    }
    t += interval;
  }
  std::sort(errors.begin(), errors.end());
  return {errors[errors.size() / 2], errors[errors.size() * 99 / 100],
          static_cast<double>(inside) / static_cast<double>(errors.size())};
}

TEST(ClockSync, BoundIsHonestAndErrorSmallOnAJitteryLossyLink) {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    for (double drift : {-100.0, 0.0, 100.0}) {
      const Quality q = run(drift, 50, 0.05, seed);
      EXPECT_LE(q.p99_us, 20) << "seed " << seed << " drift " << drift;
      EXPECT_GE(q.coverage, 0.99) << "seed " << seed << " drift " << drift;
    }
  }
}

// Only t1's low 32 bits travel: an ack is restored to the full t1 of a ping we sent, or
// to nothing. A 32-bit echo of a time 2^32 ns (4.29 s) off one we sent is not taken for it.
TEST(SentPings, EchoRestoresOnlyARecordedPing) {
  SentPings pings;
  const TimeNs base = 7'000'000'000'000ull;  // a clock ~2 h after boot: above 32 bits
  EXPECT_FALSE(pings.match(static_cast<std::uint32_t>(base)));
  pings.record(base);
  pings.record(base + 50 * kUs);
  ASSERT_TRUE(pings.match(static_cast<std::uint32_t>(base)));
  EXPECT_EQ(*pings.match(static_cast<std::uint32_t>(base)), base);
  EXPECT_EQ(*pings.match(static_cast<std::uint32_t>(base + 50 * kUs)), base + 50 * kUs);
  EXPECT_FALSE(pings.match(static_cast<std::uint32_t>(base + 1)));  // forged or garbled
  // Two recorded pings with the same low bits (4.29 s apart): the newer is meant.
  pings.record(base + (TimeNs{1} << 32));
  EXPECT_EQ(*pings.match(static_cast<std::uint32_t>(base)), base + (TimeNs{1} << 32));
  // Only the last kKept pings are remembered: an ack to an older one gives no sample.
  for (std::size_t i = 0; i < SentPings::kKept; ++i) pings.record(base + (i + 2) * kNsPerSec);
  EXPECT_FALSE(pings.match(static_cast<std::uint32_t>(base + 50 * kUs)));
}

TEST(MeshTimebase, CoordinatorIsTheReference) {
  MeshTimebase b;
  b.update(1000, true, {});
  EXPECT_TRUE(b.mapping().synced);
  EXPECT_EQ(b.mapping().error_at(5000), 0u);
  EXPECT_EQ(b.mapping().mesh_at(5000), 5000u);
}

TEST(MeshTimebase, FirstSyncStepsThenOnlySlews) {
  MeshTimebase b;
  b.update(1'000'000, false, {});
  EXPECT_FALSE(b.mapping().synced);
  b.update(2'000'000, false, MeshTimeTarget{true, 5'000'000, 20'000, 1e-6});
  EXPECT_TRUE(b.mapping().synced);
  EXPECT_EQ(b.mapping().mesh_at(2'000'000), 7'000'000u);
  // The target moves back by 1 ms (a new coordinator): mesh time keeps going forward,
  // at no less than 1 - kMaxSlewPpm of the local rate, and the bound covers the gap.
  TimeNs local = 3'000'000;
  TimeNs last = b.mapping().mesh_at(local);
  b.update(local, false, MeshTimeTarget{true, 4'000'000, 20'000, 1e-6});
  EXPECT_GE(b.mapping().error_at(local), 1'000'000u);
  for (int i = 0; i < 20'000; ++i) {
    local += 1'000'000;
    const TimeNs m = b.mapping().mesh_at(local);
    ASSERT_GT(m, last);
    ASSERT_GE(static_cast<double>(m - last), 1'000'000 * (1 - kMaxSlewPpm * 1e-6) - 1);
    last = m;
    b.update(local, false, MeshTimeTarget{true, 4'000'000, 20'000, 1e-6});
  }
  // 20 s later the difference is slewed away.
  EXPECT_NEAR(static_cast<double>(b.mapping().offset_at(local)), 4'000'000, 1'000);
}

TEST(MeshTimebase, SyncIsLostAfterTheGraceOnly) {
  MeshTimebase b;
  b.update(0, false, MeshTimeTarget{true, 0, 1000, 0});
  b.update(kSyncGraceNs / 2, false, {});
  EXPECT_TRUE(b.mapping().synced);
  b.update(kSyncGraceNs + 1, false, {});
  EXPECT_FALSE(b.mapping().synced);
  // Free-running, the bound grows as an unmeasured oscillator may drift.
  EXPECT_GT(b.mapping().error_at(kSyncGraceNs + 1'000'000'000), b.mapping().error_at(kSyncGraceNs + 1));
}

}  // namespace
}  // namespace hana::topology
