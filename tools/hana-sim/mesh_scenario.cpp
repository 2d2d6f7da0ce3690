// `hana-sim mesh`: N topology::Mesh nodes in virtual time (see topology/sim/mesh_scenario.h):
// cold start, idle bandwidth, kill/restart detection trials, coordinator failovers, a
// lossy soak and a 50/50 partition that heals. Prints the figures as text or JSON.
// Exit 1 if a correctness property failed (no agreement, a false Dead), 2 on bad usage.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "topology/sim/mesh_scenario.h"

namespace hana::tools {
namespace {

struct MeshCli {
  topology::test::MeshScenarioOptions o;
  bool json = false;
  bool seeds = false;
  bool no_partition = false;
  double delay_us = 25;
  // What a loaded host adds (issue 18): defaults from real processes, see docs/topology.md
  // "A simulator that sees what hosts see". --quiet-host sets them all to 0.
  double jitter_us = 30;
  double host_typical_us = 60;
  double host_late_chance = 0.002;
  double host_late_max_ms = 8;
  bool quiet_host = false;
  std::vector<std::string> knobs;
};

nlohmann::json pct(const topology::test::Percentiles& p) {
  return {{"samples", p.samples}, {"p50_ms", p.p50_ms}, {"p99_ms", p.p99_ms}, {"max_ms", p.max_ms}};
}

int run(MeshCli& cli) {
  auto& o = cli.o;
  if (std::string error = apply_knob_assignments(o.config, cli.knobs); !error.empty()) {
    std::cerr << "hana-sim mesh: " << error << "\n";
    return kExitUsage;
  }
  if (o.nodes < 2 || o.loss < 0 || o.loss >= 1 || o.idle_s <= 0 || o.soak_s < 0) {
    std::cerr << "hana-sim mesh: need --nodes >= 2, 0 <= --loss < 1, --idle-s > 0, --soak-s >= 0\n";
    return kExitUsage;
  }
  o.discovery = cli.seeds ? topology::test::Discovery::Seeds : topology::test::Discovery::Beacons;
  o.partition = !cli.no_partition;
  o.delay_ns = static_cast<TimeNs>(cli.delay_us * 1000);
  if (!cli.quiet_host) {
    o.jitter_ns = static_cast<TimeNs>(cli.jitter_us * 1000);
    o.host = {.typical_ns = static_cast<TimeNs>(cli.host_typical_us * 1000),
              .late_chance = cli.host_late_chance,
              .late_max_ns = static_cast<TimeNs>(cli.host_late_max_ms * 1e6)};
  }
  const auto r = topology::test::run_mesh_scenario(o);
  const bool pass = r.ok && r.false_positives == 0 && (!o.partition || r.coordinators_after_heal == 1);
  if (cli.json) {
    nlohmann::json j = {
        {"ok", pass},
        {"error", r.error},
        {"nodes", o.nodes},
        {"loss", o.loss},
        {"kill", o.kill},
        {"jitter_us", o.jitter_ns / 1000},
        {"host", {{"typical_us", o.host.typical_ns / 1000}, {"late_chance", o.host.late_chance}, {"late_max_ms", o.host.late_max_ns / 1e6}}},
        {"seed", o.seed},
        {"trials", o.trials},
        {"discovery", cli.seeds ? "seeds" : "beacons"},
        {"probe_interval_ms", o.config.probe_interval_ms},
        {"cold_start_view_ms", r.cold_start_view_ms},
        {"cold_start_connected_ms", r.cold_start_connected_ms},
        {"cold_start_coordinator_ms", r.cold_start_coordinator_ms},
        {"detection_agreed", pct(r.detection_agreed)},
        {"detection_observer", pct(r.detection_observer)},
        {"failover", pct(r.failover)},
        {"false_positives", r.false_positives},
        {"false_suspicions", r.false_suspicions},
        {"soak_s", r.soak_s},
        {"idle_bytes_per_node_per_s", r.idle_bytes_per_node_per_s},
        {"idle_max_bytes_per_node_per_s", r.idle_max_bytes_per_node_per_s},
        {"idle_wire_bytes_per_node_per_s", r.idle_wire_bytes_per_node_per_s},
        {"idle_datagrams_per_node_per_s", r.idle_datagrams_per_node_per_s},
        {"idle_link_reports_per_node_per_s", r.idle_link_reports_per_node_per_s},
        {"cold_start_link_reports", r.cold_start_link_reports},
        {"cold_start_link_digests", r.cold_start_link_digests},
        {"link_picture_min", r.link_picture_min},
        {"link_picture_final_ms", r.link_picture_final_ms},
        {"partition_heal_ms", r.partition_heal_ms},
        {"coordinators_after_heal", r.coordinators_after_heal},
        {"final_term", r.final_term},
        {"steps", r.steps},
    };
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "mesh: " << o.nodes << " nodes, loss " << o.loss << ", seed " << o.seed << (pass ? "  OK" : "  FAILED") << "\n";
    if (!r.error.empty()) std::cout << "  error: " << r.error << "\n";
    std::cout << "  cold start: full view " << r.cold_start_view_ms << " ms, all connected " << r.cold_start_connected_ms
              << " ms, coordinator " << r.cold_start_coordinator_ms << " ms\n";
    std::cout << "  detection (all agree): p50 " << r.detection_agreed.p50_ms << " ms, p99 " << r.detection_agreed.p99_ms << " ms ("
              << r.detection_agreed.samples << " trials)\n";
    std::cout << "  detection (per observer): p50 " << r.detection_observer.p50_ms << " ms, p99 " << r.detection_observer.p99_ms
              << " ms (" << r.detection_observer.samples << " samples)\n";
    std::cout << "  failover: p50 " << r.failover.p50_ms << " ms, p99 " << r.failover.p99_ms << " ms (" << r.failover.samples << " trials)\n";
    std::cout << "  false positives: " << r.false_positives << " (suspicions refuted: " << r.false_suspicions << ") over " << r.soak_s
              << " s soak\n";
    std::cout << "  idle: " << r.idle_bytes_per_node_per_s << " B/s per node (UDP payload; max " << r.idle_max_bytes_per_node_per_s
              << "), " << r.idle_wire_bytes_per_node_per_s << " B/s with IP+UDP headers, " << r.idle_datagrams_per_node_per_s
              << " datagrams/s\n";
    std::cout << "  link reports: " << r.cold_start_link_reports << " queued by all nodes up to the idle window in "
              << r.cold_start_link_digests << " digests, "
              << r.idle_link_reports_per_node_per_s << " per node per second while idle; smallest picture " << r.link_picture_min
              << " links (full: " << o.nodes * (o.nodes - 1) << "); whole again " << r.link_picture_final_ms
              << " ms after the last phase\n";
    if (o.partition)
      std::cout << "  partition 50/50 healed in " << r.partition_heal_ms << " ms, coordinators after heal: " << r.coordinators_after_heal
                << ", term " << r.final_term << "\n";
  }
  return pass ? kExitOk : kExitPropertyFailed;
}

}  // namespace

std::function<int()> register_mesh_command(CLI::App& app) {
  auto cli = std::make_shared<MeshCli>();
  CLI::App* mesh = app.add_subcommand("mesh", "N topology::Mesh nodes in virtual time: cold start, detection, failover, soak, partition");
  mesh->add_option("--nodes", cli->o.nodes, "Number of nodes")->capture_default_str();
  mesh->add_option("--loss", cli->o.loss, "Per-datagram loss on every link (0..1), whole run")->capture_default_str();
  mesh->add_option("--kill", cli->o.kill, "Nodes killed at once per detection trial")->capture_default_str();
  mesh->add_option("--seed", cli->o.seed, "Seed (network and nodes)")->capture_default_str();
  mesh->add_option("--trials", cli->o.trials, "Detection trials and failover trials (each)")->capture_default_str();
  mesh->add_option("--idle-s", cli->o.idle_s, "Idle window for the bandwidth figure (virtual seconds)")->capture_default_str();
  mesh->add_option("--soak-s", cli->o.soak_s, "Lossy soak for false positives (virtual seconds; 3600 = one hour)")->capture_default_str();
  mesh->add_option("--partition-s", cli->o.partition_s, "How long the 50/50 partition lasts")->capture_default_str();
  mesh->add_flag("--no-partition", cli->no_partition, "Skip the partition phase");
  mesh->add_flag("--seeds", cli->seeds, "Discover through a seed (node 0) instead of multicast beacons");
  mesh->add_option("--delay-us", cli->delay_us, "One-way link delay in microseconds")->capture_default_str();
  mesh->add_option("--jitter-us", cli->jitter_us, "Extra one-way delay per datagram, uniform in [0, this]")->capture_default_str();
  mesh->add_option("--host-typical-us", cli->host_typical_us, "Every wake-up of a node (timer or datagram) is late by up to this")
      ->capture_default_str();
  mesh->add_option("--host-late-chance", cli->host_late_chance, "Chance that a wake-up is late by 1 ms or more (the process was not running)")
      ->capture_default_str();
  mesh->add_option("--host-late-max-ms", cli->host_late_max_ms, "Largest lateness of such a wake-up")->capture_default_str();
  mesh->add_flag("--quiet-host", cli->quiet_host, "No jitter and no late wake-ups: every node runs exactly on time");
  mesh->add_option("--knob", cli->knobs, "Override a knob, NAME=VALUE (repeatable)");
  mesh->add_flag("--json", cli->json, "Print one JSON document");
  return [cli] { return run(*cli); };
}

}  // namespace hana::tools
