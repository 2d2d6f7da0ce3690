// `hana-sim conn`: two (or N) protocol::Connection endpoints over the simulated network,
// every message checked by the delivery oracle; prints the result as JSON or text.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "protocol/sim/conn_scenario.h"

namespace hana::tools {
namespace {

struct ConnOptions {
  double loss = 0;
  double burst_loss = 0;
  double burst_mean = 3;
  double dup = 0;
  double reorder = 0;
  std::uint64_t seed = 1;
  std::uint64_t messages = 10'000;
  std::string lanes = "all";
  std::string saturate;  // lanes whose streams ignore --rate and keep their queue full
  bool json = false;
  double rate = 20'000;
  double delay_us = 25;
  double jitter_us = 0;
  double reorder_delay_us = 300;
  double bandwidth_mbps = 1000;
  std::uint64_t queue_kb = 256;
  std::size_t nodes = 2;
  bool all_pairs = false;
  double settle_s = 60;
  std::vector<std::string> knobs;
  std::vector<std::string> partitions;  // "START:END" in virtual ms
  std::vector<double> crash_ms;         // node 1 crashes at these times (the first counts)
  std::string trace_path;               // every datagram event, one line each
};

double ms(TimeNs ns) { return static_cast<double>(ns) / 1e6; }

// "all" or a comma list of lane names -> which lanes to keep.
bool parse_lanes(const std::string& text, std::array<bool, kLaneCount>& keep) {
  keep.fill(text == "all");
  if (text == "all") return true;
  std::stringstream ss(text);
  std::string item;
  bool any = false;
  while (std::getline(ss, item, ',')) {
    bool found = false;
    for (std::size_t l = 0; l < kLaneCount; ++l) {
      if (item == to_string(static_cast<Lane>(l))) keep[l] = found = any = true;
    }
    if (!found) return false;
  }
  return any;
}

nlohmann::json latency_json(const sim::LaneLatency& l) {
  return {{"samples", l.samples}, {"p50_ms", ms(l.p50_ns)}, {"p99_ms", ms(l.p99_ns)}, {"max_ms", ms(l.max_ns)}};
}

nlohmann::json to_json(const ConnOptions& o, const sim::ConnScenarioResult& r) {
  const auto& rep = r.report;
  nlohmann::json failed_by_reason = nlohmann::json::object();
  for (std::size_t i = 0; i < rep.failed_by_reason.size(); ++i) {
    const auto name = to_string(static_cast<FailReason>(i));
    if (name != "?") failed_by_reason[std::string(name)] = rep.failed_by_reason[i];
  }
  nlohmann::json lanes = nlohmann::json::object();
  for (std::size_t l = 0; l < kLaneCount; ++l)
    if (r.lane_latency[l].samples) lanes[std::string(to_string(static_cast<Lane>(l)))] = latency_json(r.lane_latency[l]);
  return {
      {"seed", o.seed},
      {"ok", r.ok()},
      {"status", std::string(to_string(r.outcome.status))},
      {"error", r.error},
      {"sent", rep.sent},
      {"reliable_sent", rep.reliable_sent},
      {"delivered", rep.received},
      {"confirmed", rep.delivered},
      {"duplicates", rep.duplicates},
      {"order_violations", rep.order_violations},
      {"sequence_violations", rep.sequence_violations},
      {"stale_versions", rep.stale_versions},
      {"corrupted", rep.corrupted},
      {"outcome_violations", rep.outcome_violations},
      {"missing", rep.missing},
      {"failed", rep.failed},
      {"failed_by_reason", failed_by_reason},
      {"superseded", rep.superseded},
      {"unreliable_lost", rep.unreliable_lost},
      {"rejected_queue_full", rep.rejected},
      {"retransmits", r.senders.retransmits},
      {"packets_sent", r.senders.packets_sent},
      {"packets_lost", r.senders.packets_lost},
      {"pto_count", r.senders.pto_count},
      {"spurious_losses", r.senders.spurious_losses},
      {"spurious_retransmits", r.senders.spurious_retransmits},
      {"spurious_ratio", r.senders.retransmits ? static_cast<double>(r.senders.spurious_retransmits) /
                                                     static_cast<double>(r.senders.retransmits)
                                               : 0.0},
      {"rtt_us", {{"smoothed", r.senders.rtt_smoothed_us}, {"var", r.senders.rtt_var_us}, {"min", r.senders.rtt_min_us}}},
      {"congestion_entered", r.congestion_entered},
      {"congestion_order_violations", r.congestion_order_violations},
      {"p50_ms", ms(r.all_latency.p50_ns)},
      {"p99_ms", ms(r.all_latency.p99_ns)},
      {"max_ms", ms(r.all_latency.max_ns)},
      {"lanes", lanes},
      {"goodput_mbps", r.goodput_mbps},
      {"virtual_time_s", static_cast<double>(r.outcome.now) / 1e9},
      {"steps", r.outcome.steps},
      {"trace_hash", r.trace_hash},
      {"network",
       {{"sent", r.network.sent},
        {"delivered", r.network.delivered},
        {"lost", r.network.lost},
        {"duplicated", r.network.duplicated},
        {"reordered", r.network.reordered},
        {"queue_dropped", r.network.queue_dropped}}},
      {"params",
       {{"loss", o.loss},
        {"dup", o.dup},
        {"reorder", o.reorder},
        {"messages", o.messages},
        {"lanes", o.lanes},
        {"saturate", o.saturate},
        {"queue_kb", o.queue_kb},
        {"rate", o.rate},
        {"delay_us", o.delay_us},
        {"jitter_us", o.jitter_us},
        {"bandwidth_mbps", o.bandwidth_mbps},
        {"nodes", o.nodes}}},
      {"problems", rep.problems},
  };
}

int run(const ConnOptions& o) {
  sim::ConnScenario sc;
  sc.seed = o.seed;
  sc.nodes = o.nodes;
  sc.all_pairs = o.all_pairs;
  sc.settle_limit_ns = static_cast<TimeNs>(o.settle_s * 1e9);
  sc.link.loss = o.loss;
  sc.link.burst_loss = o.burst_loss;
  sc.link.burst_mean = o.burst_mean;
  sc.link.duplicate = o.dup;
  sc.link.reorder = o.reorder;
  sc.link.delay_ns = static_cast<TimeNs>(o.delay_us * 1e3);
  sc.link.jitter_ns = static_cast<TimeNs>(o.jitter_us * 1e3);
  sc.link.reorder_delay_ns = static_cast<TimeNs>(o.reorder_delay_us * 1e3);
  sc.link.bandwidth_bits_per_sec = static_cast<std::uint64_t>(o.bandwidth_mbps * 1e6);
  sc.link.queue_limit_bytes = o.queue_kb * 1024;
  if (std::string error = apply_knob_assignments(sc.config, o.knobs); !error.empty()) {
    std::cerr << "hana-sim: " << error << "\n";
    return kExitUsage;
  }
  for (const auto& p : o.partitions) {
    double start = 0, end = 0;
    char colon = 0;
    std::istringstream in(p);
    if (!(in >> start >> colon >> end) || colon != ':' || !in.eof() || start < 0 || end <= start) {
      std::cerr << "hana-sim: --partition-ms wants START:END with 0 <= START < END, got '" << p << "'\n";
      return kExitUsage;
    }
    sc.partitions.push_back({static_cast<TimeNs>(start * 1e6), static_cast<TimeNs>(end * 1e6)});
  }
  for (double at : o.crash_ms) sc.crashes.push_back({1, static_cast<TimeNs>(at * 1e6)});
  std::array<bool, kLaneCount> keep{};
  if (!parse_lanes(o.lanes, keep)) {
    std::cerr << "hana-sim: --lanes wants 'all' or a comma list of control,high,normal,bulk; got '" << o.lanes
              << "'\n";
    return kExitUsage;
  }
  std::array<bool, kLaneCount> saturate{};
  if (!o.saturate.empty() && !parse_lanes(o.saturate, saturate)) {
    std::cerr << "hana-sim: --saturate wants 'all' or a comma list of lanes; got '" << o.saturate << "'\n";
    return kExitUsage;
  }
  // Keep the mix's shares among the chosen lanes: scale so the totals stay as asked.
  auto mix = sim::default_mix(o.messages, o.rate);
  double kept_share = 0;
  for (const auto& s : mix) kept_share += keep[static_cast<std::size_t>(s.lane)] ? static_cast<double>(s.messages) : 0;
  std::uint64_t assigned = 0;
  for (const auto& s : mix) {
    if (!keep[static_cast<std::size_t>(s.lane)]) continue;
    sim::StreamSpec spec = s;
    const double share = static_cast<double>(s.messages) / kept_share;
    spec.messages = static_cast<std::uint64_t>(static_cast<double>(o.messages) * share);
    spec.rate_per_sec = saturate[static_cast<std::size_t>(s.lane)] ? 0 : o.rate * share;
    assigned += spec.messages;
    sc.streams.push_back(spec);
  }
  if (!sc.streams.empty()) sc.streams.front().messages += o.messages - assigned;  // rounding rest

  std::ofstream trace;
  if (!o.trace_path.empty()) {
    trace.open(o.trace_path);
    if (!trace) {
      std::cerr << "hana-sim: cannot write --trace file '" << o.trace_path << "'\n";
      return kExitUsage;
    }
    trace << "# at_ns event from to bytes\n";
    sc.tap = [&trace](const sim::TapRecord& r) {
      trace << r.at << ' ' << to_string(r.event) << ' ' << r.from.to_string() << ' ' << r.to.to_string() << ' '
            << r.bytes << '\n';
    };
  }
  const auto result = sim::run_conn_scenario(sc);
  if (!result.error.empty() && result.outcome.steps == 0 && result.report.sent == 0) {
    std::cerr << "hana-sim: " << result.error << "\n";
    return kExitUsage;
  }
  const auto j = to_json(o, result);
  if (o.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "seed " << o.seed << ": " << (result.ok() ? "OK" : "PROPERTY VIOLATED") << " (" << j["status"]
              << ")\n"
              << "  sent " << j["sent"] << ", delivered " << j["delivered"] << ", confirmed " << j["confirmed"]
              << ", failed " << j["failed"] << ", missing " << j["missing"] << "\n"
              << "  duplicates " << j["duplicates"] << ", order violations " << j["order_violations"]
              << ", sequence violations " << j["sequence_violations"] << ", stale versions " << j["stale_versions"]
              << "\n"
              << "  retransmits " << j["retransmits"] << " (spurious " << j["spurious_retransmits"] << ", ratio "
              << j["spurious_ratio"] << "), p50 " << j["p50_ms"] << " ms, p99 " << j["p99_ms"]
              << " ms, goodput " << j["goodput_mbps"] << " Mbit/s, virtual time " << j["virtual_time_s"] << " s\n";
    for (const auto& p : result.report.problems) std::cout << "  problem: " << p << "\n";
  }
  return result.ok() ? kExitOk : kExitPropertyFailed;
}

}  // namespace

std::function<int()> register_conn_command(CLI::App& app) {
  auto opts = std::make_shared<ConnOptions>();
  CLI::App* c = app.add_subcommand("conn", "protocol::Connection endpoints over the simulator (default)");
  c->add_option("--loss", opts->loss, "Random loss per datagram, 0..1")->check(CLI::Range(0.0, 1.0));
  c->add_option("--burst-loss", opts->burst_loss, "Gilbert-Elliott burst loss: long-run fraction lost in bursts, 0..0.99")
      ->check(CLI::Range(0.0, 0.99));
  c->add_option("--burst-mean", opts->burst_mean, "Mean burst length in datagrams (with --burst-loss)")
      ->check(CLI::Range(1.0, 1000.0));
  c->add_option("--dup", opts->dup, "Duplication probability, 0..1")->check(CLI::Range(0.0, 1.0));
  c->add_option("--reorder", opts->reorder, "Reorder probability, 0..1")->check(CLI::Range(0.0, 1.0));
  c->add_option("--seed", opts->seed, "PRNG seed (same seed -> identical run)");
  c->add_option("--messages", opts->messages, "Messages per flow")->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}));
  c->add_option("--lanes", opts->lanes, "'all' or a comma list of control,high,normal,bulk");
  c->add_option("--saturate", opts->saturate, "Lanes whose streams ignore --rate and keep their queue full");
  c->add_flag("--json", opts->json, "Print JSON");
  c->add_option("--rate", opts->rate, "Messages per second per flow (virtual time); 0 = as fast as queues allow")
      ->check(CLI::Range(0.0, 1e9));
  c->add_option("--delay-us", opts->delay_us, "One-way link delay in microseconds")->check(CLI::Range(0.0, 1e7));
  c->add_option("--jitter-us", opts->jitter_us, "Extra uniform delay 0..jitter in microseconds")->check(CLI::Range(0.0, 1e7));
  c->add_option("--reorder-delay-us", opts->reorder_delay_us, "Extra delay of a reordered datagram")
      ->check(CLI::Range(0.0, 1e7));
  c->add_option("--bandwidth-mbps", opts->bandwidth_mbps, "Link bandwidth in Mbit/s; 0 = unlimited")
      ->check(CLI::Range(0.0, 1e6));
  c->add_option("--queue-kb", opts->queue_kb, "Bottleneck queue per link in KiB (tail drop)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 30));
  c->add_option("--nodes", opts->nodes, "Number of nodes")->check(CLI::Range(std::size_t{2}, std::size_t{64}));
  c->add_flag("--all-pairs", opts->all_pairs, "Every node sends to every other (default: node 0 -> node 1)");
  c->add_option("--settle-s", opts->settle_s, "Virtual seconds allowed to settle after the last send")
      ->check(CLI::Range(0.001, 3600.0));
  c->add_option("--knob", opts->knobs, "Connection knob override name=value (repeatable)");
  c->add_option("--partition-ms", opts->partitions, "Cut node 0 off from the others during START:END (virtual ms; repeatable)");
  c->add_option("--trace", opts->trace_path, "Write every datagram event (at_ns event from to bytes) to this file");
  c->add_option("--crash-ms", opts->crash_ms, "Node 1 crashes for good at this virtual time (ms)")
      ->check(CLI::Range(0.0, 1e9));
  return [opts] { return run(*opts); };
}

}  // namespace hana::tools
