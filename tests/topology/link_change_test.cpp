// The link change test alone (topology/link_change.h): robust RTT statistics and the
// binomial loss test. Noise of the kind a loaded host adds does not count as a change; a
// doubled RTT, a 1-point loss rise over enough packets do.
#include <gtest/gtest.h>

#include <initializer_list>

#include "topology/link_change.h"
#include "topology/link_table.h"
#include "topology/rng.h"

namespace hana::topology {
namespace {

RttWindow window(std::initializer_list<std::uint64_t> samples) {
  RttWindow w;
  for (auto s : samples) w.add(s);
  return w;
}

TEST(LinkChange, MedianAndSpreadOfTheWindow) {
  EXPECT_EQ(RttWindow{}.median(), 0u);
  EXPECT_EQ(window({50}).median(), 50u);
  EXPECT_EQ(window({40, 60}).median(), 50u);
  EXPECT_EQ(window({50, 5000, 52, 48, 51}).median(), 51u);  // one late ack does not move it
  // MAD of {48,50,51,52,5000} around 51 is {3,1,0,1,4949} -> 1; robust σ = 1.48 -> 1.
  EXPECT_EQ(window({50, 5000, 52, 48, 51}).spread(), 1u);
  // The ring keeps the last kRttWindow samples only.
  RttWindow w;
  for (int i = 0; i < 20; ++i) w.add(1000);
  for (std::size_t i = 0; i < kRttWindow; ++i) w.add(100);
  EXPECT_EQ(w.count, kRttWindow);
  EXPECT_EQ(w.median(), 100u);
}

TEST(LinkChange, FirstMeasurementIsAlwaysAChange) {
  EXPECT_TRUE(rtt_changed(0, window({60})));
  EXPECT_FALSE(rtt_changed(0, RttWindow{}));
}

// Feeds `samples` RTT samples from draw(i) through a window, judged as the link table
// judges it (against the value last reported, once per full window); returns how many
// counted as changes (the first report included).
template <class Draw>
int changes_over(int samples, Draw draw) {
  RttWindow w;
  std::uint64_t reported = 0;
  int changes = 0;
  for (int i = 0; i < samples; ++i) {
    w.add(draw(i));
    if (rtt_changed(reported, w)) {
      reported = w.median();
      ++changes;
    }
    if (w.window_full()) w.close_window();
  }
  return changes;
}

// Samples of a loaded host: a base RTT plus one-sided noise, a fifth of them late by
// 1-5 ms (the peer process was not running), and the whole level flipping between two
// values ×1.6 apart every few windows (which CPU the processes run on). The test must
// stay quiet once the link's history shows how it moves.
TEST(LinkChange, HostNoiseIsNotAChange) {
  Rng rng(7);
  std::uint64_t level = 100;
  const int changes = changes_over(20'000, [&](int i) {
    if (i % 24 == 0) level = rng.below(2) ? 100 : 160;
    std::uint64_t s = level + rng.below(level / 2);
    if (rng.below(5) == 0) s += 1000 + rng.below(4000);
    return s;
  });
  // 20 000 samples are 2 500 windows: fewer than 1 in 100 may count (a flip that lasts
  // three windows is hard to tell from a change; the history keeps most of them quiet).
  EXPECT_LE(changes, 25) << "noise was reported as a change";
}

// The same host without level flips: only the first report.
TEST(LinkChange, SteadyNoiseWithLateAcksIsNeverAChange) {
  Rng rng(9);
  const int changes = changes_over(20'000, [&](int) {
    std::uint64_t s = 100 + rng.below(60);
    if (rng.below(5) == 0) s += 1000 + rng.below(4000);
    return s;
  });
  EXPECT_EQ(changes, 1) << "noise was reported as a change";
}

// A steady history (the link's level moves little) of `base` µs with 20 % noise.
RttWindow steady_link(Rng& rng, std::uint64_t base) {
  RttWindow w;
  for (int k = 0; k < 10; ++k) {
    for (std::size_t i = 0; i < kRttWindow; ++i) w.add(base + rng.below(base / 5));
    w.close_window();
  }
  return w;
}

// A LAN link of ~120 µs (a switch and two NICs) that doubles or halves.
TEST(LinkChange, DoubledRttIsAChangeWithinTwoWindows) {
  Rng rng(8);
  RttWindow w = steady_link(rng, 120);
  const std::uint64_t reported = w.median();
  const RttWindow steady = w;
  std::size_t needed = 0;
  bool changed = false;
  for (std::size_t i = 0; i < 2 * kRttWindow && !changed; ++i, ++needed) {
    w.add(240 + rng.below(40));
    changed = rtt_changed(reported, w);
    if (w.window_full()) w.close_window();
  }
  EXPECT_TRUE(changed);
  EXPECT_LE(needed, kRttWindow);  // the first full window after the step
  // Halved is a change too; ×1.5 is not.
  RttWindow h = steady;
  for (std::size_t i = 0; i < kRttWindow; ++i) h.add(60 + rng.below(10));
  EXPECT_TRUE(rtt_changed(reported, h));
  RttWindow small = steady;
  for (std::size_t i = 0; i < kRttWindow; ++i) small.add(reported * 3 / 2 + rng.below(3));
  EXPECT_FALSE(rtt_changed(reported, small));
  // A partial window is not judged.
  RttWindow partial = w;
  partial.fresh = 0;
  for (std::size_t i = 0; i + 1 < kRttWindow; ++i) partial.add(500);
  EXPECT_FALSE(rtt_changed(reported, partial));
}

// Loopback links of one host sit at 30-70 µs and move between those levels as the
// scheduler places the processes: a halving of 60 µs is below the measurement's
// resolution (rtt_floor_us), not news for 99 members.
TEST(LinkChange, MovesBelowTheHostsResolutionAreNotChanges) {
  Rng rng(11);
  const RttWindow steady = steady_link(rng, 60);
  const std::uint64_t reported = steady.median();
  RttWindow halved = steady;
  for (std::size_t i = 0; i < kRttWindow; ++i) halved.add(30 + rng.below(5));
  EXPECT_FALSE(rtt_changed(reported, halved));
  RttWindow doubled = steady;
  for (std::size_t i = 0; i < kRttWindow; ++i) doubled.add(105 + rng.below(5));
  EXPECT_FALSE(rtt_changed(reported, doubled));
  // Tripled is past the floor.
  RttWindow tripled = steady;
  for (std::size_t i = 0; i < kRttWindow; ++i) tripled.add(190 + rng.below(10));
  EXPECT_TRUE(rtt_changed(reported, tripled));
}

TEST(LinkChange, LossMovesThatChanceExplainsAreNotChanges) {
  EXPECT_FALSE(loss_changed(0.0, 1, 20));    // one loss on a clean link: not news
  EXPECT_TRUE(loss_changed(0.0, 3, 20));     // 15 % of 20 packets
  EXPECT_TRUE(loss_changed(0.0, 20, 1000));  // 2 % over 1000 packets: +2 points, beyond chance
  EXPECT_FALSE(loss_changed(0.05, 7, 100));  // 7 of 100 at a 5 % rate: within 3 σ
  EXPECT_TRUE(loss_changed(0.05, 90, 1000)); // 9 % of 1000 at 5 %: +4 points, ~5.8 σ
  EXPECT_TRUE(loss_changed(0.2, 0, 100));    // a lossy link that became clean
  EXPECT_FALSE(loss_changed(0.0, 0, 0));
}

// A busy host measures nothing (HostLoad): a sample is refused from a late timer until
// a second after it, taken again once the host ran on time that long, and taken anyway
// once lateness has been the host's normal for a minute.
TEST(HostLoad, SamplesNearALateTimerAreRefusedUntilTheHostCalmsOrLateIsItsNormal) {
  constexpr TimeNs kMs = kNsPerMs;
  HostLoad h;
  const TimeNs limit = 2 * kMs;
  EXPECT_TRUE(h.fair(0, 10 * kMs));               // never late
  h.timer_ran(100 * kMs, 101 * kMs, limit);       // 1 ms late: within the limit
  EXPECT_TRUE(h.fair(100 * kMs, 110 * kMs));
  h.timer_ran(200 * kMs, 230 * kMs, limit);       // 30 ms late
  EXPECT_FALSE(h.fair(150 * kMs, 240 * kMs));     // the late timer fell inside the sample
  EXPECT_FALSE(h.fair(900 * kMs, 910 * kMs));     // less than a second after it
  EXPECT_TRUE(h.fair(1230 * kMs, 1240 * kMs));    // a calm second later
  // Late every 100 ms for 61 s: refused for the first minute, then taken.
  HostLoad busy;
  TimeNs t = 10 * kNsPerSec;
  for (; t < 71 * kNsPerSec; t += 100 * kMs) busy.timer_ran(t - 10 * kMs, t, limit);
  EXPECT_FALSE(busy.fair(t - 50 * kMs - 59 * kNsPerSec, t - 59 * kNsPerSec));
  EXPECT_TRUE(busy.fair(t - 50 * kMs, t));
  HostLoad off;
  off.timer_ran(0, kNsPerSec, 0);
  EXPECT_TRUE(off.fair(kNsPerSec - kMs, kNsPerSec));
}

}  // namespace
}  // namespace hana::topology
