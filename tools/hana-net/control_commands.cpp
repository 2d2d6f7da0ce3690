// `hana-net peers|stats|links|get|set --control PATH`: talk to a running `hana-net node`.
#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "control.h"
#include "text_table.h"

namespace hana::cli {
namespace {

using nlohmann::json;

struct ControlArgs {
  std::string control;
  bool json_output = false;
  std::string knob;
  std::string value;
};

// Sends the request; prints errors; returns the result or nullopt with the exit code set.
std::optional<json> ask(const ControlArgs& a, const json& request, int& exit_code) {
  std::string error;
  auto reply = control_request(a.control, request, error);
  if (!reply) {
    std::fprintf(stderr, "hana-net: %s\n", error.c_str());
    exit_code = kExitFailure;
    return std::nullopt;
  }
  if (!reply->value("ok", false)) {
    std::fprintf(stderr, "hana-net: %s\n", reply->value("error", std::string("request failed")).c_str());
    exit_code = kExitUsage;  // the node rejected the request: a bad name or value
    return std::nullopt;
  }
  exit_code = kExitOk;
  return (*reply)["result"];
}

std::string str(const json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

std::string pct(const json& ratio) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * ratio.get<double>());
  return buf;
}

std::string clock(const json& us) { return us.is_null() ? "-" : str(us); }

void print_peers_table(const json& r) {
  std::printf("self %s  coordinator %s  term %s\n", str(r["self"]).c_str(), str(r["coordinator"]).c_str(),
              str(r["term"]).c_str());
  TextTable t({"id", "name", "address", "state", "role", "transport", ">inc", ">rtt_us", ">loss", ">clock_offset_us", ">clock_err_us",
               "displays"});
  for (const auto& p : r["peers"]) {
    std::string displays;
    for (const auto& d : p["displays"])
      displays += str(d["id"]) + (d["available"].get<bool>() ? "" : "(off)") + " ";
    t.add_row({str(p["id"]), str(p["name"]), str(p["address"]), str(p["state"]), str(p["role"]), str(p["transport"]),
               str(p["incarnation"]),
               str(p["rtt_us"]), pct(p["loss"]), clock(p["clock_offset_us"]), clock(p["clock_error_us"]), displays});
  }
  t.print();
}

void print_stats_table(const json& r) {
  const json& n = r["node"];
  std::printf("node %s  backend %s  address %s  coordinator %s  term %s\n\n", str(n["id"]).c_str(),
              str(n["backend"]).c_str(), str(n["address"]).c_str(), str(n["coordinator"]).c_str(),
              str(n["term"]).c_str());
  TextTable lanes({"lane", ">sent", ">received", ">delivered", ">failed", ">retransmit", ">stale", ">queued"});
  for (const char* lane : {"control", "high", "normal", "bulk"}) {
    const json& l = n["lanes"][lane];
    lanes.add_row({lane, str(l["messages_sent"]), str(l["messages_received"]), str(l["delivered"]), str(l["failed"]),
                   str(l["retransmits"]), str(l["stale_dropped"]), str(l["queue_depth"])});
  }
  lanes.print();
  std::printf("\n");
  TextTable peers({"peer", "name", "state", ">pkts_out", ">pkts_in", ">lost", ">retx", ">rtt_us", ">cwnd", ">inflight"});
  for (const auto& p : r["peers"]) {
    const json& c = p["connection"];
    peers.add_row({str(p["id"]), str(p["name"]), str(p["state"]), str(c["packets_sent"]), str(c["packets_received"]),
                   str(c["packets_lost"]), str(c["retransmits"]), str(c["rtt_smoothed_us"]), str(c["cwnd_bytes"]),
                   str(c["bytes_in_flight"])});
  }
  peers.print();
  std::printf("\nengine:");
  for (const auto& [name, v] : n["engine"].items()) std::printf(" %s=%s", name.c_str(), str(v).c_str());
  std::printf("\n");
}

// The mesh-wide link picture: one row per (observer, peer), sorted.
void print_links_table(const json& r) {
  std::vector<const json*> rows;
  for (const auto& l : r["links"]) rows.push_back(&l);
  std::sort(rows.begin(), rows.end(), [](const json* a, const json* b) {
    return std::pair(str((*a)["observer"]), str((*a)["peer"])) < std::pair(str((*b)["observer"]), str((*b)["peer"]));
  });
  auto who = [](const json& l, const char* id, const char* name) {
    const std::string n = str(l[name]);
    return n.empty() ? str(l[id]) : n + " " + str(l[id]).substr(0, 6);
  };
  std::printf("self %s  %zu links\n", str(r["self"]).c_str(), rows.size());
  TextTable t({"observer", "peer", ">rtt_us", ">jitter_us", ">loss", ">throughput_B/s", ">age_ms"});
  for (const json* l : rows)
    t.add_row({who(*l, "observer", "observer_name"), who(*l, "peer", "peer_name"), str((*l)["rtt_us"]),
               str((*l)["jitter_us"]), pct((*l)["loss"]), str((*l)["throughput_bytes_per_sec"]), str((*l)["age_ms"])});
  t.print();
}

// `get`/`set` print `knob = value`, or the reply itself with --json.
void print_knob_value(const ControlArgs& a, const json& r) {
  if (a.json_output) std::printf("%s\n", r.dump(2).c_str());
  else std::printf("%s = %s\n", str(r["knob"]).c_str(), str(r["value"]).c_str());
}

CLI::App* add_control_command(CLI::App& app, const char* name, const char* help, std::shared_ptr<ControlArgs> args) {
  CLI::App* cmd = app.add_subcommand(name, help);
  cmd->add_option("--control", args->control, "Unix socket of a running `hana-net node`")->required();
  return cmd;
}

}  // namespace

void add_control_commands(CLI::App& app, Outcome& outcome) {
  {
    auto a = std::make_shared<ControlArgs>();
    auto* cmd = add_control_command(app, "peers", "Members of the node's view", a);
    cmd->add_flag("--json", a->json_output, "One JSON document");
    cmd->callback([a, &outcome] {
      if (auto r = ask(*a, {{"cmd", "peers"}}, outcome.exit_code))
        a->json_output ? (void)std::printf("%s\n", r->dump(2).c_str()) : print_peers_table(*r);
    });
  }
  {
    auto a = std::make_shared<ControlArgs>();
    auto* cmd = add_control_command(app, "stats", "Node, per-peer and per-lane counters", a);
    cmd->add_flag("--json", a->json_output, "One JSON document");
    cmd->callback([a, &outcome] {
      if (auto r = ask(*a, {{"cmd", "stats"}}, outcome.exit_code))
        a->json_output ? (void)std::printf("%s\n", r->dump(2).c_str()) : print_stats_table(*r);
    });
  }
  {
    auto a = std::make_shared<ControlArgs>();
    auto* cmd = add_control_command(app, "links", "Mesh-wide link quality: every observer's link to every peer", a);
    cmd->add_flag("--json", a->json_output, "One JSON document");
    cmd->callback([a, &outcome] {
      if (auto r = ask(*a, {{"cmd", "links"}}, outcome.exit_code))
        a->json_output ? (void)std::printf("%s\n", r->dump(2).c_str()) : print_links_table(*r);
    });
  }
  {
    auto a = std::make_shared<ControlArgs>();
    auto* cmd = add_control_command(app, "get", "Read a knob", a);
    cmd->add_option("knob", a->knob, "Knob name (`hana-net knobs` lists them)")->required();
    cmd->add_flag("--json", a->json_output, "One JSON document");
    cmd->callback([a, &outcome] {
      if (auto r = ask(*a, {{"cmd", "get"}, {"knob", a->knob}}, outcome.exit_code)) print_knob_value(*a, *r);
    });
  }
  {
    auto a = std::make_shared<ControlArgs>();
    auto* cmd = add_control_command(app, "set", "Change a runtime knob (validated)", a);
    cmd->add_option("knob", a->knob, "Knob name (`hana-net knobs` lists them)")->required();
    cmd->add_option("value", a->value, "New value")->required();
    cmd->add_flag("--json", a->json_output, "One JSON document");
    cmd->callback([a, &outcome] {
      if (auto r = ask(*a, {{"cmd", "set"}, {"knob", a->knob}, {"value", a->value}}, outcome.exit_code))
        print_knob_value(*a, *r);
    });
  }
}

}  // namespace hana::cli
