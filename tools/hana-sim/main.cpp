// hana-sim: runs one deterministic simulator scenario and prints what happened.
//   hana-sim [conn] --loss 0.05 --dup 0.01 --reorder 0.02 --seed 7 --messages 100000 --lanes all --json
//   hana-sim mesh ...
// `conn` is the default subcommand. Exit codes: 0 ok, 1 a property failed, 2 usage error.
#include <CLI/CLI.hpp>

#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "commands.h"

int main(int argc, char** argv) {
  using namespace hana::tools;
  CLI::App app{"hana-sim: deterministic network simulator scenarios for hana-net (virtual time)", "hana-sim"};
  app.require_subcommand(1, 1);
  auto run_conn = register_conn_command(app);
  auto run_mesh = register_mesh_command(app);

  // `conn` is the default: insert it unless a subcommand or top-level help was asked for.
  std::vector<std::string> args(argv + 1, argv + argc);
  const bool top_help = !args.empty() && (args[0] == "-h" || args[0] == "--help");
  if (!top_help && (args.empty() || (args[0] != "conn" && args[0] != "mesh"))) args.insert(args.begin(), "conn");
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them reversed

  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and usage
    return kExitUsage;
  }
  if (app.got_subcommand("mesh")) return run_mesh();
  return run_conn();
}
