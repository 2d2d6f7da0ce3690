// hana-demo: a local mesh of display nodes on loopback. A controller node (or, with
// --author coordinator, the coordinator of the moment) moves display groups at 60 Hz; every
// node applies the updates through hana::DisplayState; a table refreshed once a second shows
// role, peers, updates applied, stale dropped, update age, RTT and loss per node, and a final
// summary says whether every node converged and who wrote.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "demo_mesh.h"

int main(int argc, char** argv) {
  hana::demo::Options o;
  CLI::App app{"hana-net demo: a local mesh of display nodes exchanging display-group updates"};
  app.add_option("--nodes", o.nodes, "Nodes in the mesh (2..100)")->check(CLI::Range(2, 100));
  app.add_option("--duration", o.duration_s, "Seconds to run before the final summary")->check(CLI::Range(1, 3600));
  app.add_option("--groups", o.groups, "Display groups the controller moves")->check(CLI::Range(1, 64));
  app.add_option("--rate", o.rate_hz, "Updates per second per group")->check(CLI::Range(1, 1000));
  app.add_option("--loss", o.loss, "Random loss on every node's datagrams (fault injector), 0..0.5")
      ->check(CLI::Range(0.0, 0.5));
  app.add_option("--kill-coordinator-after", o.kill_coordinator_after_s,
                 "Crash the coordinator after this many seconds (0 = never)")
      ->check(CLI::Range(0, 3600));
  app.add_option("--author", o.author,
                 "Who moves the groups: controller (the last node) or coordinator (whichever node holds the role)")
      ->check(CLI::IsMember({"controller", "coordinator"}));
  app.add_option("--backend", o.backend, "I/O backend: auto, uring or epoll")
      ->check(CLI::IsMember({"auto", "uring", "epoll"}));
  app.add_option("--lead-ms", o.lead_ms,
                 "Frame-locked presentation: every update carries apply_at = mesh time + this (0: none)")
      ->check(CLI::Range(0, 1000));
  app.add_flag("--quiet", o.quiet, "Only print the final summary");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return hana::demo::run(o);
}
