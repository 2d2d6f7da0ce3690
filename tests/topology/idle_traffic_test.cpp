// Idle traffic on a noisy host (issue 18): links with jitter and nodes that wake up late,
// as real processes do. The mesh's idle cost per node must not grow faster than linearly
// with the number of nodes (link reports re-sent by every node to every member on noise
// grew with n², which a quiet simulator never showed), and noise must not travel as link
// reports. The figures themselves are measured by `hana-sim mesh`; this asserts shapes.
#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "topology/sim/cluster.h"

namespace hana::topology::test {
namespace {

constexpr TimeNs kSec = kNsPerSec;

// The noise hana-sim mesh uses by default (docs/topology.md).
ClusterOptions noisy(std::size_t nodes, std::uint64_t seed) {
  ClusterOptions o{.nodes = nodes, .seed = seed, .discovery = Discovery::Seeds};
  o.link.jitter_ns = 30 * kNsPerUs;
  o.host = {.typical_ns = 60 * kNsPerUs, .late_chance = 0.002, .late_max_ns = 8 * kNsPerMs};
  return o;
}

struct Idle {
  double bytes_per_node_per_s = 0;       // UDP payload
  double wire_bytes_per_node_per_s = 0;  // with IPv4 + UDP headers, as an interface counts them
  double reports_per_node_per_s = 0;
};

constexpr double kIpv4UdpHeaderBytes = 28;

Idle idle_after_start(std::size_t nodes, std::uint64_t seed) {
  Cluster c(noisy(nodes, seed));
  c.start_all();
  const std::size_t full = nodes * (nodes - 1);
  const bool settled = c.run_until(
      [&] {
        if (!c.converged(true)) return false;
        for (std::size_t i = 0; i < nodes; ++i)
          if (c.node(i).links().size() != full) return false;
        return true;
      },
      30 * kSec, 10 * kNsPerMs).has_value();
  EXPECT_TRUE(settled) << nodes << " nodes: no full view and link picture within 30 s";
  EXPECT_TRUE(c.run_for(120 * kSec));  // the cold start's gossip and first reports drain
  std::vector<MeshCounters> before;
  for (std::size_t i = 0; i < nodes; ++i) before.push_back(c.node(i).counters());
  const double window_s = 20;
  EXPECT_TRUE(c.run_for(static_cast<TimeNs>(window_s * 1e9)));
  Idle r;
  for (std::size_t i = 0; i < nodes; ++i) {
    const MeshCounters a = c.node(i).counters();
    r.bytes_per_node_per_s += static_cast<double>(a.bytes_out - before[i].bytes_out) / window_s / static_cast<double>(nodes);
    r.wire_bytes_per_node_per_s += (static_cast<double>(a.bytes_out - before[i].bytes_out) +
                                    kIpv4UdpHeaderBytes * static_cast<double>(a.datagrams_out - before[i].datagrams_out)) /
                                   window_s / static_cast<double>(nodes);
    r.reports_per_node_per_s += static_cast<double>(a.link_reports_out - before[i].link_reports_out) / window_s / static_cast<double>(nodes);
  }
  EXPECT_TRUE(c.converged(true)) << nodes << " nodes: a false suspicion outlived the idle window";
  return r;
}

TEST(IdleTraffic, PerNodeCostGrowsNoFasterThanLinearlyOnANoisyHost) {
  const Idle small = idle_after_start(8, 41);
  const Idle large = idle_after_start(32, 41);
  RecordProperty("idle_bytes_per_node_per_s_8", static_cast<int>(small.bytes_per_node_per_s));
  RecordProperty("idle_bytes_per_node_per_s_32", static_cast<int>(large.bytes_per_node_per_s));
  RecordProperty("idle_wire_bytes_per_node_per_s_8", static_cast<int>(small.wire_bytes_per_node_per_s));
  RecordProperty("idle_wire_bytes_per_node_per_s_32", static_cast<int>(large.wire_bytes_per_node_per_s));
  std::printf("idle per node: 8 nodes %.0f B/s payload, %.0f B/s on the wire; 32 nodes %.0f, %.0f\n",
              small.bytes_per_node_per_s, small.wire_bytes_per_node_per_s, large.bytes_per_node_per_s,
              large.wire_bytes_per_node_per_s);
  ASSERT_GT(small.bytes_per_node_per_s, 0);
  EXPECT_LE(large.bytes_per_node_per_s, small.bytes_per_node_per_s * 32.0 / 8.0)
      << "8 nodes: " << small.bytes_per_node_per_s << " B/s per node, 32 nodes: " << large.bytes_per_node_per_s;
  // What an idle node spends on the wire (issue 18 §1: SWIM's probes and acks, the clock
  // pings to the coordinator): 2238 B/s at 8 nodes and 2363 at 32 with wire version 2 and
  // the settled clock-ping pace (version 1 with a ping every 250 ms: ~3300). The bound
  // leaves ~8 % for unrelated changes; the old probe bodies or clock pace exceed it.
  EXPECT_LE(small.wire_bytes_per_node_per_s, 2600) << "8 nodes";
  EXPECT_LE(large.wire_bytes_per_node_per_s, 2600) << "32 nodes";
  // Noise does not travel: after the first measurement of each link, an idle mesh on a
  // noisy host re-reports (almost) nothing. One report per node per 10 s allows a rare
  // real-looking excursion; the n² storm was ~99 per node per second.
  EXPECT_LE(small.reports_per_node_per_s, 0.1) << "8 nodes";
  EXPECT_LE(large.reports_per_node_per_s, 0.1) << "32 nodes";
}

}  // namespace
}  // namespace hana::topology::test
