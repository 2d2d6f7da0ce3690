// A starved host (issue 18): 100 processes on 2 vCPUs wait tens of milliseconds for the
// CPU, longer than a probe's 30 ms window. A node that was not running when its probe
// was due to be judged must not suspect the member it probed: the member's answer waited
// for the CPU just as this node's verdict did. On real processes each such suspicion
// became a Dead, a torn-down connection and a re-handshake, whose CPU made the next ones.
#include <gtest/gtest.h>

#include <cstdint>

#include "starved_cold_start.h"
#include "topology/sim/cluster.h"

namespace hana::topology::test {
namespace {

constexpr TimeNs kSec = kNsPerSec;
constexpr TimeNs kMs = kNsPerMs;

TEST(StarvedHost, NodesThatWereNotRunningDoNotSuspectWhomTheyProbed) {
  constexpr std::size_t kNodes = 10;
  // Answers take 12 ms (every process waits for the CPU before it replies), so a probe is
  // in flight for a good part of each period when the whole host stops.
  ClusterOptions o{.nodes = kNodes, .seed = 31};
  o.link.delay_ns = 6 * kMs;
  Cluster c(o);
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kSec));
  ASSERT_TRUE(c.run_for(2 * kSec));
  auto sum = [&](auto field) {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < kNodes; ++i) n += c.node(i).counters().*field;
    return n;
  };
  const std::uint64_t late0 = sum(&MeshCounters::probes_judged_late), susp0 = sum(&MeshCounters::suspicions);
  // 40 times the host runs nothing for 60 ms (twice a probe's window), at varying phases
  // of the probe periods: what was on the wire meanwhile is lost (the engine reads what
  // the socket holds before its timers; this is the case where nothing came).
  for (int round = 0; round < 40; ++round) {
    const TimeNs phase = static_cast<TimeNs>(round % 7) * 7 * kMs;
    ASSERT_TRUE(c.run_for(phase));
    for (std::size_t i = 0; i < kNodes; ++i) c.kill(i);
    ASSERT_TRUE(c.run_for(60 * kMs));
    for (std::size_t i = 0; i < kNodes; ++i) c.resume(i);
    ASSERT_TRUE(c.run_for(440 * kMs - phase));
  }
  const std::uint64_t late = sum(&MeshCounters::probes_judged_late) - late0, susp = sum(&MeshCounters::suspicions) - susp0;
  RecordProperty("judged_late", static_cast<int>(late));
  RecordProperty("suspicions", static_cast<int>(susp));
  // Pauses catch probes in flight (6 suspicions before the fix): a probe whose indirect
  // round went out late still gets its two round trips, a verdict reached late is not a
  // suspicion.
  EXPECT_EQ(susp, 0u) << late << " verdicts judged late";
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kSec));

  // A crash on the same host is still found: late verdicts raised local health, answered
  // probes bring it down again, and at full health a verdict stands anyway.
  c.kill(kNodes - 1);
  EXPECT_TRUE(c.run_until([&] { return c.all_see(kNodes - 1, MemberState::Dead); }, 5 * kSec).has_value());
}
// Every answer takes 40 ms (each host waits that long for the CPU): longer than a probe's
// whole window at the default knobs (10 ms direct, 20 ms indirect, within 50 ms). The
// probes learn how long acks take (AckWait, from the acks that come late) and wait that
// long: after the first misses the mesh holds still, and a crash is still found.
TEST(StarvedHost, ProbesLearnHowLongAnswersTake) {
  constexpr std::size_t kNodes = 8;
  for (std::uint64_t seed : {41u, 42u}) {
    ClusterOptions o{.nodes = kNodes, .seed = seed};
    o.link.delay_ns = 20 * kMs;
    Cluster c(o);
    c.start_all();
    ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 20 * kSec)) << "seed " << seed;
    ASSERT_TRUE(c.run_for(5 * kSec));  // the first misses teach the wait
    auto suspicions = [&] {
      std::uint64_t n = 0;
      for (std::size_t i = 0; i < kNodes; ++i) n += c.node(i).counters().suspicions;
      return n;
    };
    const std::uint64_t before = suspicions();
    ASSERT_TRUE(c.run_for(20 * kSec));
    EXPECT_EQ(suspicions() - before, 0u) << "seed " << seed;
    EXPECT_TRUE(c.converged());
    c.kill(kNodes - 1);
    EXPECT_TRUE(c.run_until([&] { return c.all_see(kNodes - 1, MemberState::Dead); }, 10 * kSec).has_value())
        << "seed " << seed;
  }
}

// A cold start on a starved host (wake-ups up to 1.5 s late for its first 3 s) crossed
// handshakes: about one pair in six ended with each side holding a connection from a
// different handshake, each sending to an id the other did not know, for good, while SWIM
// kept both Alive. A member that keeps sending to an unknown id is redialed
// (on_stray_datagram): soon nobody sends to an unknown id any more.
TEST(StarvedHost, ColdStartLeavesNoCrossedConnections) {
  for (std::uint64_t seed : {1u, 3u}) {
    Cluster c(starved_cold_start_options(24, seed));
    ASSERT_TRUE(run_starved_cold_start(c)) << "seed " << seed;
    auto strays = [&] {
      std::uint64_t n = 0;
      for (std::size_t i = 0; i < c.size(); ++i) n += c.node(i).counters().unknown_connection;
      return n;
    };
    std::uint64_t mismatched = 0;
    // Quiet for 5 s running: no datagram to an unknown connection id anywhere.
    std::uint64_t last = strays();
    TimeNs quiet_since = c.now();
    const auto healed = c.run_until(
        [&] {
          if (const std::uint64_t n = strays(); n != last) {
            last = n;
            quiet_since = c.now();
          }
          return c.now() >= quiet_since + 5 * kSec;
        },
        60 * kSec, 100 * kMs);
    for (std::size_t i = 0; i < c.size(); ++i) mismatched += c.node(i).counters().mismatched_connections;
    RecordProperty("mismatched_seed_" + std::to_string(seed), static_cast<int>(mismatched));
    EXPECT_TRUE(healed.has_value()) << "seed " << seed << ": " << last << " stray datagrams, " << mismatched << " redials";
    EXPECT_TRUE(c.converged()) << "seed " << seed;
  }
}

}  // namespace
}  // namespace hana::topology::test
