// sim::run_conn_scenario: N simulated nodes, each with a protocol::Connection to its
// peers, sending StreamSpec traffic over a sim::Network, checked by FlowOracles.
// Shared by the property tests (tests/sim/) and tools/hana-sim so both measure the same.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hana/config.h"
#include "hana/stats.h"
#include "protocol/sim/delivery_oracle.h"
#include "protocol/sim/driver.h"
#include "protocol/sim/network.h"
#include "protocol/sim/workload.h"

namespace hana::sim {

struct ConnScenario {
  std::uint64_t seed = 1;
  std::size_t nodes = 2;     // 2..250
  bool all_pairs = false;    // false: node 0 sends to node 1 only; true: every node to every other
  std::vector<StreamSpec> streams;
  LinkParams link;           // every link (both directions)
  Config config;             // every connection
  // After the last message is queued, how long (virtual) the run may take to settle:
  // every reliable message confirmed or failed.
  TimeNs settle_limit_ns = 60 * kNsPerSec;
  std::uint64_t max_steps = 200'000'000;
  // How often saturating streams are topped up when nothing else wakes the run.
  TimeNs tick_ns = 100 * kNsPerUs;
  // Windows [start, end) of virtual time during which node 0 is cut off from every
  // other node (both directions; datagrams in flight are dropped too).
  struct Partition {
    TimeNs start_ns = 0;
    TimeNs end_ns = 0;
  };
  std::vector<Partition> partitions;
  // Node `node` crashes (frozen for good: receives nothing, sends nothing) at `at_ns`.
  struct Crash {
    std::size_t node = 1;
    TimeNs at_ns = 0;
  };
  std::vector<Crash> crashes;
  // Optional observer of every datagram event (hana-sim --trace).
  std::function<void(const TapRecord&)> tap;
};

struct LaneLatency {
  std::uint64_t samples = 0;
  TimeNs p50_ns = 0;
  TimeNs p99_ns = 0;
  TimeNs max_ns = 0;
};

struct ConnScenarioResult {
  OracleReport report;            // all flows merged
  DriveOutcome outcome;           // Satisfied = the run settled
  NetworkCounters network;
  ConnectionStats senders;        // counters summed over every connection (gauges: last one)
  std::array<LaneLatency, kLaneCount> lane_latency{};
  LaneLatency all_latency;
  TimeNs duration_ns = 0;         // first send .. last receipt
  double goodput_mbps = 0;        // distinct payload bytes received / duration
  std::uint64_t trace_hash = 0;
  std::uint64_t endpoint_drops = 0;  // undecodable / unknown peer / wrong connection id
  // CongestionEvents: entries into / exits from recovery, and reports that did not
  // alternate (entered twice without leaving, or left without entering).
  std::uint64_t congestion_entered = 0;
  std::uint64_t congestion_left = 0;
  std::uint64_t congestion_order_violations = 0;
  std::string error;              // set when the scenario could not be run (bad config)

  // Every delivery property held and the run settled.
  bool ok() const {
    return error.empty() && outcome.ok() && report.violations() == 0 && congestion_order_violations == 0;
  }
};

ConnScenarioResult run_conn_scenario(const ConnScenario& scenario);

}  // namespace hana::sim
