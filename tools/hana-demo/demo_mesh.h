// The demo's mesh: N in-process nodes on loopback, each with its own event-loop thread,
// driven from one demo thread that polls their events and runs the controller.
#pragma once

#include <cstdint>
#include <string>

namespace hana::demo {

struct Options {
  int nodes = 8;
  int duration_s = 20;
  int groups = 4;
  int rate_hz = 60;
  double loss = 0;
  int kill_coordinator_after_s = 0;
  std::string backend = "auto";
  bool quiet = false;
};

// Returns the process exit code: 0 when every live node converged with no stale version applied.
int run(const Options& options);

}  // namespace hana::demo
