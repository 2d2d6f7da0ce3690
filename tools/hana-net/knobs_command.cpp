// `hana-net knobs [--json] [--control PATH]`: the knob table (name, type, default, range,
// runtime-settable, doc) and its cross-knob rules, straight from hana::Config (knobs.def);
// with --control, each knob's current value on that running node as well.
#include <cstdio>
#include <optional>
#include <string>

#include "commands.h"
#include "control.h"
#include "text_table.h"

namespace hana::cli {
namespace {

using nlohmann::json;

struct KnobsArgs {
  std::string control;
  bool json_output = false;
};

json knobs_json(const json* current) {
  const Config defaults;
  json knobs = json::array();
  for (const KnobInfo& k : Config::knobs()) {
    json row = {{"name", k.name},
                {"type", std::string(to_string(k.type))},
                {"default", *defaults.get(k.name)},
                {"range", knob_range(k)},
                {"expects", knob_expects(k)},
                {"runtime", k.runtime},
                {"doc", k.doc}};
    if (current && current->contains(k.name)) row["value"] = (*current)[k.name];
    knobs.push_back(std::move(row));
  }
  json rules = json::array();
  for (const KnobRule& r : Config::rules()) rules.push_back({{"lower", r.lower}, {"upper", r.upper}, {"why", r.why}});
  return {{"knobs", knobs}, {"rules", rules}};
}

void print_knobs_table(const json& r, bool with_values) {
  std::vector<std::string> headers = {"knob", "type", ">default", "range", "runtime"};
  if (with_values) headers.push_back(">value");
  headers.push_back("meaning");
  TextTable t(headers);
  for (const auto& k : r["knobs"]) {
    std::vector<std::string> row = {k["name"], k["type"], k["default"], k["range"], k["runtime"].get<bool>() ? "yes" : "no"};
    if (with_values) {
      const std::string v = k.value("value", std::string("?"));
      row.push_back(v == k["default"] ? v : v + " *");  // * = changed from the default
    }
    row.push_back(k["doc"]);
    t.add_row(std::move(row));
  }
  t.print();
  std::printf("\nrules:");
  for (const auto& rule : r["rules"])
    std::printf(" %s <= %s;", rule["lower"].get<std::string>().c_str(), rule["upper"].get<std::string>().c_str());
  std::printf("\n");
}

int run_knobs(const KnobsArgs& a) {
  std::optional<json> current;
  if (!a.control.empty()) {
    std::string error;
    auto reply = control_request(a.control, {{"cmd", "knobs"}}, error);
    if (!reply) {
      std::fprintf(stderr, "hana-net: %s\n", error.c_str());
      return kExitFailure;
    }
    if (!reply->value("ok", false)) {
      std::fprintf(stderr, "hana-net: %s\n", reply->value("error", std::string("request failed")).c_str());
      return kExitFailure;
    }
    current = (*reply)["result"];
  }
  const json r = knobs_json(current ? &*current : nullptr);
  if (a.json_output) std::printf("%s\n", r.dump(2).c_str());
  else print_knobs_table(r, current.has_value());
  return kExitOk;
}

}  // namespace

void add_knobs_command(CLI::App& app, Outcome& outcome) {
  auto a = std::make_shared<KnobsArgs>();
  CLI::App* cmd = app.add_subcommand("knobs", "List every knob: type, default, range, runtime-settable, meaning");
  cmd->add_option("--control", a->control, "Also show the current values of this running `hana-net node`");
  cmd->add_flag("--json", a->json_output, "One JSON document");
  cmd->callback([a, &outcome] { outcome.exit_code = run_knobs(*a); });
}

}  // namespace hana::cli
