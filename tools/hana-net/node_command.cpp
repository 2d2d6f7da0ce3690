// `hana-net node`: a mesh member that runs until SIGINT/SIGTERM (then leaves cleanly),
// with a control socket for peers/stats/get/set and an optional Prometheus endpoint.
#include <xxhash.h>

#include <chrono>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <thread>

#include "commands.h"
#include "control.h"
#include "event_log.h"
#include "service_notify.h"
#include "hana/interface.h"
#include "hana/metrics_exporter.h"
#include "stats_json.h"

namespace hana::cli {
namespace {

struct NodeArgs {
  std::string bind;  // empty: 0.0.0.0:0, or [::]:0 with an IPv6 --multicast group
  std::vector<std::string> seeds;
  std::string multicast;
  std::string multicast_interface;
  std::string id;
  std::vector<std::string> displays;
  std::vector<std::string> psk_files;
  std::string control;
  std::string config_file;
  std::string metrics;
  std::string events;
  std::string backend = "auto";
  std::string threading = "shared";
  bool not_eligible = false;
};

// A knob file: one `knob = value` per line; '#' starts a comment.
Config load_config(const std::string& path) {
  Config config;
  std::ifstream in(path);
  if (!in) throw UsageError{"--config: cannot read '" + path + "'"};
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    const auto eq = line.find('=');
    auto trim = [](std::string s) {
      const auto b = s.find_first_not_of(" \t\r");
      const auto e = s.find_last_not_of(" \t\r");
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    if (trim(line).empty()) continue;
    if (eq == std::string::npos) throw UsageError{path + ":" + std::to_string(lineno) + ": expected knob = value"};
    const std::string knob = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (auto r = config.set(knob, value); !r.ok())
      throw UsageError{path + ":" + std::to_string(lineno) + ": " + describe_knob_error(knob, value, r.error())};
  }
  // Rules between knobs hold for the whole file, not for each line on its way.
  if (auto r = config.validate(); !r.ok()) throw UsageError{path + ": " + r.error().message};
  return config;
}

DisplayInfo parse_display(const std::string& text) {
  DisplayInfo d;
  const auto colon = text.find(':');
  d.id = text.substr(0, colon);
  if (colon != std::string::npos) d.metadata = text.substr(colon + 1);
  if (d.id.empty() || d.id.size() > 32) throw UsageError{"--display: id must be 1..32 bytes: '" + text + "'"};
  return d;
}

int run_node(const NodeArgs& a) {
  const Config config = a.config_file.empty() ? Config{} : load_config(a.config_file);
  NodeOptions opt;
  if (!a.multicast.empty()) opt.beacon_target = parse_address_or_throw(a.multicast, "--multicast");
  const bool v6_group = opt.beacon_target && opt.beacon_target->family == 6;
  opt.bind = parse_address_or_throw(a.bind.empty() ? (v6_group ? "[::]:0" : "0.0.0.0:0") : a.bind, "--bind");
  for (const auto& s : a.seeds) opt.seeds.push_back(parse_address_or_throw(s, "--seed"));
  if (!a.multicast_interface.empty()) {
    if (a.multicast.empty()) throw UsageError{"--multicast-interface needs --multicast GROUP:PORT"};
    if (!interface_index(a.multicast_interface))
      throw UsageError{"--multicast-interface: '" + a.multicast_interface +
                       "' is not a network interface here (a name, an index or one of its addresses)"};
    opt.beacon_interface = a.multicast_interface;
  }
  if (!a.id.empty()) {
    opt.name = a.id;
    // The same name gives the same id across restarts; the incarnation tells them apart.
    opt.node_id = XXH3_64bits(a.id.data(), a.id.size()) | 1;
  }
  for (const auto& d : a.displays) opt.displays.push_back(parse_display(d));
  opt.backend = parse_backend_or_throw(a.backend);
  opt.threading = parse_threading_or_throw(a.threading, false);
  if (opt.threading == Threading::Inline)
    throw UsageError{"--threading: a node daemon runs shared or dedicated (inline is for echo and ping)"};
  opt.coordinator_eligible = !a.not_eligible;
  opt.keys = read_psk_files_or_throw(a.psk_files);

  if (std::string error; !a.control.empty() && !claim_control_path(a.control, error)) {
    std::fprintf(stderr, "hana-net: %s\n", error.c_str());
    return kExitFailure;
  }
  install_signal_handlers();
  std::unique_ptr<Node> node;
  try {
    node = start_node(config, opt);
  } catch (UsageError& e) {
    // Node::create names NodeOptions fields; say which flag they came from.
    for (const auto& [field, flag] : {std::pair{"beacon_target", "--multicast"},
                                      std::pair{"beacon_interface", "--multicast-interface"}})
      for (auto at = e.message.find(field); at != std::string::npos; at = e.message.find(field))
        e.message.replace(at, std::strlen(field), flag);
    throw;
  }
  if (!node) return kExitFailure;
  std::fprintf(stderr, "hana-net node %s (%s) listening on %s\n", a.id.empty() ? "-" : a.id.c_str(),
               node_id_hex(node->id()).c_str(), node->local_address().to_string().c_str());

  std::unique_ptr<ControlServer> control;
  if (!a.control.empty()) {
    std::string error;
    control = ControlServer::start(*node, a.control, error);
    if (!control) {
      std::fprintf(stderr, "hana-net: %s\n", error.c_str());
      return kExitFailure;
    }
  }
  std::unique_ptr<MetricsExporter> metrics;
  if (!a.metrics.empty()) {
    auto m = MetricsExporter::start(*node, a.metrics);
    if (!m.ok()) {
      std::fprintf(stderr, "hana-net: --metrics %s: %s\n", a.metrics.c_str(), m.error().message);
      return kExitFailure;
    }
    metrics = std::move(*m);
    std::fprintf(stderr, "hana-net: metrics on http://%s/metrics (port %u)\n", a.metrics.c_str(), metrics->port());
  }

  std::unique_ptr<EventLog> event_log;
  if (!a.events.empty()) {
    std::string error;
    event_log = EventLog::open(a.events, node->id(), error);
    if (!event_log) {
      std::fprintf(stderr, "hana-net: %s\n", error.c_str());
      return kExitFailure;
    }
  }

  ServiceNotifier service;  // systemd Type=notify: ready once the node and its sockets run
  service.ready("node " + node_id_hex(node->id()) + " on " + node->local_address().to_string());
  const auto started = std::chrono::steady_clock::now();
  Event e;
  while (!interrupted()) {
    service.tick(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::steady_clock::now() - started)
                                                .count()));
    // The daemon has no application: events are drained so queues never fill.
    if (!node->wait_event(e, 100 * kNsPerMs)) continue;
    if (event_log) event_log->write(e);
  }
  service.stopping();
  std::fprintf(stderr, "hana-net: leaving the mesh\n");
  metrics.reset();
  control.reset();
  node->stop();
  return kExitOk;
}

}  // namespace

void add_node_command(CLI::App& app, Outcome& outcome) {
  auto args = std::make_shared<NodeArgs>();
  CLI::App* cmd = app.add_subcommand("node", "Run a mesh member until SIGINT/SIGTERM (then leave cleanly)");
  cmd->add_option("--bind", args->bind,
                  "Local UDP address (port 0 = any; link-local IPv6 as [fe80::1%eth0]:PORT); default 0.0.0.0:0, "
                  "or [::]:0 with an IPv6 --multicast group");
  cmd->add_option("--seed", args->seeds, "Static peer ADDR:PORT to connect to (repeatable)");
  cmd->add_option("--multicast", args->multicast,
                  "Discovery beacons to GROUP:PORT: an IPv4/IPv6 multicast group or an IPv4 subnet broadcast "
                  "address, same family as --bind");
  cmd->add_option("--multicast-interface", args->multicast_interface,
                  "Interface for the --multicast group: name (eth0), index or one of its addresses; "
                  "needed for link-local IPv6 groups (ff02::/16) unless --bind is link-local");
  cmd->add_option("--id", args->id, "Node name; its id is derived from it (stable across restarts)");
  cmd->add_option("--display", args->displays, "Announce a display ID[:metadata] (repeatable)");
  cmd->add_option("--control", args->control, "Unix socket path for peers/stats/get/set");
  cmd->add_option("--config", args->config_file, "Knob file: 'knob = value' lines");
  cmd->add_option("--metrics", args->metrics, "Serve Prometheus /metrics on ADDR:PORT");
  cmd->add_option("--events", args->events,
                  "Append one JSON line per membership/role/display event (wall-clock us) to PATH ('-' = stdout)");
  cmd->add_option("--backend", args->backend, "uring, epoll or auto");
  cmd->add_option("--threading", args->threading,
                  "Who runs the event loop: shared (default: the main thread and the node's standby thread) or "
                  "dedicated (a loop thread of its own)");
  cmd->add_flag("--not-eligible", args->not_eligible, "Never become coordinator");
  add_psk_option(cmd, args->psk_files);
  cmd->callback([args, &outcome] { outcome.exit_code = run_node(*args); });
}

}  // namespace hana::cli
