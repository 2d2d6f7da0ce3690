// The `hana-sim mesh` scenario (header-only, links hana_sim): N meshes in virtual time
// go through cold start, an idle window, kill/restart trials, coordinator failovers, a
// lossy soak and optionally a 50/50 partition that heals. It measures; the caller
// decides what to assert (the tests assert agreement and zero false positives only).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "topology/rng.h"
#include "topology/sim/cluster.h"

namespace hana::topology::test {

struct MeshScenarioOptions {
  std::size_t nodes = 100;
  double loss = 0;            // per-datagram loss on every link, whole run
  std::size_t kill = 1;       // nodes killed at once per detection trial
  std::uint64_t seed = 1;
  std::size_t trials = 10;    // detection trials and failover trials each
  double idle_s = 10;         // idle window for the bandwidth figure
  double soak_s = 60;         // lossy soak (false-positive check); 3600 = the full hour
  bool partition = true;      // 50/50 partition for partition_s, then heal
  double partition_s = 5;
  Discovery discovery = Discovery::Beacons;
  Config config{};
  TimeNs delay_ns = 25 * kNsPerUs;  // one-way link delay
  TimeNs jitter_ns = 0;             // extra one-way delay, uniform in [0, jitter_ns]
  HostNoise host{};                 // late wake-ups of a loaded host (cluster.h)
};

struct Percentiles {
  std::size_t samples = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
};

inline Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  p.samples = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())) - 1))]; };
  p.p50_ms = at(0.50);
  p.p99_ms = at(0.99);
  p.max_ms = v.back();
  return p;
}

struct MeshScenarioResult {
  bool ok = true;
  std::string error;
  double cold_start_view_ms = -1;       // every node sees every other Alive
  double cold_start_connected_ms = -1;  // ... and connected
  double cold_start_coordinator_ms = -1;
  Percentiles detection_agreed;    // kill -> every live node holds every killed node Dead
  Percentiles detection_observer;  // kill -> one observer's PeerDown (all observers)
  Percentiles failover;            // coordinator killed -> every live node agrees on a new one
  std::uint64_t false_positives = 0;  // PeerDown about a node that was up
  std::uint64_t false_suspicions = 0; // PeerSuspect about a node that was up (refuted)
  double soak_s = 0;
  double idle_bytes_per_node_per_s = 0;        // UDP payload bytes sent, mean over nodes
  double idle_max_bytes_per_node_per_s = 0;
  double idle_datagrams_per_node_per_s = 0;
  double idle_wire_bytes_per_node_per_s = 0;   // with IPv4 + UDP headers (28 B)
  double idle_link_reports_per_node_per_s = 0; // link reports queued (one per link per receiver), mean over nodes
  std::uint64_t cold_start_link_reports = 0;   // link reports queued by all nodes until the idle window
  std::uint64_t cold_start_link_digests = 0;   // the messages (LINK_DIGESTs) that carried them
  std::size_t link_picture_min = 0;            // fewest Mesh::links() entries at a node after idle
  double link_picture_final_ms = -1;           // after everything: until every node holds every link again
  double partition_heal_ms = -1;
  std::size_t coordinators_after_heal = 0;
  std::uint64_t final_term = 0;
  std::uint64_t steps = 0;
};

inline MeshScenarioResult run_mesh_scenario(const MeshScenarioOptions& o) {
  MeshScenarioResult r;
  auto fail = [&](std::string why) {
    if (r.ok) r.error = std::move(why);
    r.ok = false;
  };
  sim::LinkParams link;
  link.loss = o.loss;
  link.delay_ns = o.delay_ns;
  link.jitter_ns = o.jitter_ns;
  Cluster c({.nodes = o.nodes, .seed = o.seed, .discovery = o.discovery, .link = link, .config = o.config, .host = o.host});
  Rng rng(o.seed * 31 + 7);

  std::vector<std::vector<TimeNs>> down_at(o.nodes);  // per observer, last PeerDown time per subject
  for (auto& v : down_at) v.assign(o.nodes, 0);
  c.on_event = [&](std::size_t n, const MeshEvent& e, TimeNs now) {
    if (auto* d = std::get_if<PeerDown>(&e)) {
      const std::size_t s = c.index_of(d->peer);
      if (s < o.nodes) {
        // False: the node is up and this is about its current life (a late verdict
        // on the incarnation before a restart is correct).
        const Member* m = c.member(n, s);
        if (c.is_up(s) && m && m->incarnation >= c.node(s).incarnation()) ++r.false_positives;
        down_at[n][s] = now;
      }
    } else if (auto* s = std::get_if<PeerSuspect>(&e)) {
      const std::size_t i = c.index_of(s->peer);
      const Member* m = i < o.nodes ? c.member(n, i) : nullptr;
      if (m && c.is_up(i) && m->incarnation >= c.node(i).incarnation()) ++r.false_suspicions;
    }
  };
  const TimeNs kMs = kNsPerMs;
  const TimeNs limit = 60 * kNsPerSec;

  // 1. Cold start.
  c.start_all();
  if (auto t = c.run_until([&] { return c.converged(false); }, limit)) r.cold_start_view_ms = static_cast<double>(*t) / 1e6;
  else return fail("cold start: no full view within 60 s"), r;
  const TimeNs t0 = c.now() - static_cast<TimeNs>(r.cold_start_view_ms * 1e6);
  if (c.run_until([&] { return c.converged(true); }, limit)) r.cold_start_connected_ms = static_cast<double>(c.now() - t0) / 1e6;
  else return fail("cold start: not all connected within 60 s"), r;
  if (c.run_until([&] { return c.agreed_coordinator().has_value(); }, limit))
    r.cold_start_coordinator_ms = static_cast<double>(c.now() - t0) / 1e6;
  else return fail("cold start: no agreed coordinator"), r;

  // 2. Idle bandwidth, after the cold-start gossip has drained.
  c.run_for(static_cast<TimeNs>(std::max(5.0, o.idle_s) * 1e9));
  {
    std::vector<MeshCounters> before;
    for (std::size_t i = 0; i < o.nodes; ++i) before.push_back(c.node(i).counters());
    for (const auto& b : before) {
      r.cold_start_link_reports += b.link_reports_out;
      r.cold_start_link_digests += b.link_digests_out;
    }
    c.run_for(static_cast<TimeNs>(o.idle_s * 1e9));
    double total = 0, max = 0, dgrams = 0;
    for (std::size_t i = 0; i < o.nodes; ++i) {
      const double b = static_cast<double>(c.node(i).counters().bytes_out - before[i].bytes_out) / o.idle_s;
      total += b;
      max = std::max(max, b);
      dgrams += static_cast<double>(c.node(i).counters().datagrams_out - before[i].datagrams_out) / o.idle_s;
    }
    r.idle_bytes_per_node_per_s = total / static_cast<double>(o.nodes);
    r.idle_max_bytes_per_node_per_s = max;
    r.idle_datagrams_per_node_per_s = dgrams / static_cast<double>(o.nodes);
    r.idle_wire_bytes_per_node_per_s = r.idle_bytes_per_node_per_s + 28 * r.idle_datagrams_per_node_per_s;
    double reports = 0;
    r.link_picture_min = ~std::size_t{0};
    for (std::size_t i = 0; i < o.nodes; ++i) {
      reports += static_cast<double>(c.node(i).counters().link_reports_out - before[i].link_reports_out) / o.idle_s;
      r.link_picture_min = std::min(r.link_picture_min, c.node(i).links().size());
    }
    r.idle_link_reports_per_node_per_s = reports / static_cast<double>(o.nodes);
  }

  // 3. Detection trials: kill `kill` random non-coordinator nodes, wait for agreement, restart.
  std::vector<double> agreed, observer, failover;
  const std::size_t kill = std::min(o.kill, o.nodes > 2 ? o.nodes - 2 : 0);
  for (std::size_t t = 0; t < o.trials && kill > 0; ++t) {
    const auto coord = c.agreed_coordinator();
    std::vector<std::size_t> victims;
    while (victims.size() < kill) {
      const std::size_t v = static_cast<std::size_t>(rng.below(o.nodes));
      if ((coord && Cluster::id(v) == *coord) || std::find(victims.begin(), victims.end(), v) != victims.end()) continue;
      victims.push_back(v);
    }
    const TimeNs at = c.now();
    for (auto v : victims) c.kill(v);
    auto all_dead = [&] {
      for (auto v : victims)
        if (!c.all_see(v, MemberState::Dead)) return false;
      return true;
    };
    if (!c.run_until(all_dead, limit)) return fail("detection: killed node not Dead everywhere within 60 s"), r;
    agreed.push_back(static_cast<double>(c.now() - at) / 1e6);
    for (std::size_t n = 0; n < o.nodes; ++n)
      if (c.is_up(n))
        for (auto v : victims)
          if (down_at[n][v] >= at) observer.push_back(static_cast<double>(down_at[n][v] - at) / 1e6);
    for (auto v : victims) c.start(v);
    if (!c.run_until([&] { return c.converged(true); }, limit)) return fail("detection: restarted node not back within 60 s"), r;
    c.run_for(2 * kNsPerSec);
  }
  r.detection_agreed = percentiles(agreed);
  r.detection_observer = percentiles(observer);

  // 4. Failover: kill the coordinator, wait for one new coordinator everywhere, restart it.
  for (std::size_t t = 0; t < o.trials; ++t) {
    const auto coord = c.agreed_coordinator();
    if (!coord) return fail("failover: no agreed coordinator before the trial"), r;
    const std::size_t v = c.index_of(*coord);
    const TimeNs at = c.now();
    c.kill(v);
    if (!c.run_until([&] { auto n = c.agreed_coordinator(); return n && *n != *coord; }, limit))
      return fail("failover: no new agreed coordinator within 60 s"), r;
    failover.push_back(static_cast<double>(c.now() - at) / 1e6);
    if (!c.run_until([&] { return c.all_see(v, MemberState::Dead); }, limit)) return fail("failover: old coordinator not Dead everywhere"), r;
    c.start(v);
    if (!c.run_until([&] { return c.converged(true) && c.agreed_coordinator(); }, limit))
      return fail("failover: restarted coordinator not back within 60 s"), r;
    c.run_for(2 * kNsPerSec);
  }
  r.failover = percentiles(failover);

  // 5. Soak: nothing is killed; every PeerDown is a false positive.
  {
    const TimeNs step = 10 * kNsPerSec;
    TimeNs left = static_cast<TimeNs>(o.soak_s * 1e9);
    while (left > 0) {
      const TimeNs d = std::min(step, left);
      if (!c.run_for(d)) return fail("soak: step budget exhausted"), r;
      left -= d;
    }
    r.soak_s = o.soak_s;
    if (!c.converged(true)) fail("soak: views disagree at the end");
  }

  // 6. Partition 50/50 and heal.
  if (o.partition) {
    std::vector<Address> a, b;
    for (std::size_t i = 0; i < o.nodes; ++i) (i % 2 ? a : b).push_back(Cluster::address(i));
    // Declaring the other side Dead during a partition is correct, not a false positive.
    const std::uint64_t fp_before = r.false_positives;
    const std::uint64_t fs_before = r.false_suspicions;
    c.network().partition({a, b});
    c.run_for(static_cast<TimeNs>(o.partition_s * 1e9));
    c.network().heal();
    const TimeNs at = c.now();
    if (auto t = c.run_until([&] { return c.converged(true) && c.agreed_coordinator(); }, limit, 10 * kMs))
      r.partition_heal_ms = static_cast<double>(*t) / 1e6;
    else
      fail("partition: no single view and coordinator within 60 s of healing");
    (void)at;
    r.false_positives = fp_before;
    r.false_suspicions = fs_before;
    std::vector<NodeId> coords;
    for (std::size_t i = 0; i < o.nodes; ++i)
      if (auto cc = c.node(i).coordinator(); cc && std::find(coords.begin(), coords.end(), *cc) == coords.end()) coords.push_back(*cc);
    r.coordinators_after_heal = coords.size();
  }
  // 7. After restarts and the heal, every node's link picture is whole again.
  {
    const std::size_t full = o.nodes * (o.nodes - 1);
    auto whole = [&] {
      for (std::size_t i = 0; i < o.nodes; ++i)
        if (c.node(i).links().size() != full) return false;
      return true;
    };
    if (auto t = c.run_until(whole, limit, 100 * kMs)) r.link_picture_final_ms = static_cast<double>(*t) / 1e6;
    else fail("links: the mesh-wide link picture is not whole within 60 s at the end");
  }
  r.final_term = c.node(c.lowest_live()).term();
  r.steps = c.steps();
  return r;
}

}  // namespace hana::topology::test
