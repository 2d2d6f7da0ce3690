// hana-net: command-line front end of a hana-net node. Subcommands live in their own
// files (see commands.h). Usage errors exit 2.
#include <cstdio>

#include "commands.h"
#include "hana/version.h"

int main(int argc, char** argv) {
  using namespace hana::cli;
  CLI::App app{"hana-net: low-latency reliable UDP mesh for hana display nodes"};
  app.set_version_flag("--version", std::string("hana-net ") + std::string(hana::kVersion));
  app.require_subcommand(1);
  Outcome outcome;
  add_echo_command(app, outcome);
  add_ping_command(app, outcome);
  add_node_command(app, outcome);
  add_control_commands(app, outcome);
  add_knobs_command(app, outcome);
  add_keygen_command(app, outcome);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "hana-net: usage error: %s\n(run with --help for usage)\n", e.message.c_str());
    return kExitUsage;
  }
  return outcome.exit_code;
}
