// A cold start on a starved host, shared by the tests that need one: for its first 3 s
// every wake-up comes up to 20 ms late, and one in fifty by up to 1.5 s more (a process
// not running: 100 processes on 2 vCPUs), over 2 ms links. Then the load passes and the
// cluster must reach a full view within 30 s.
#pragma once

#include <gtest/gtest.h>

#include "topology/sim/cluster.h"

namespace hana::topology::test {

inline ClusterOptions starved_cold_start_options(std::size_t nodes, std::uint64_t seed) {
  ClusterOptions o{.nodes = nodes, .seed = seed};
  o.link.delay_ns = 2 * kNsPerMs;
  o.host = HostNoise{.typical_ns = 20 * kNsPerMs, .late_chance = 0.02, .late_max_ns = 1500 * kNsPerMs};
  return o;
}

// Runs the starved 3 s, quiets the host and waits for the full view (false: none in 30 s).
inline bool run_starved_cold_start(Cluster& c) {
  c.start_all();
  if (!c.run_for(3 * kNsPerSec)) return false;
  c.set_host_noise(HostNoise{});
  return c.run_until([&] { return c.converged(); }, 30 * kNsPerSec).has_value();
}

}  // namespace hana::topology::test
