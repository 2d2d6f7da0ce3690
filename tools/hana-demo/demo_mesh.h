// The demo's mesh: N in-process nodes on loopback, each with an application thread of its
// own that applies display updates and, while it is the author, moves the display groups.
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
  // Presentation deadline of every update: apply_at_us = mesh time + lead (0: none).
  int lead_ms = 10;
  int kill_coordinator_after_s = 0;
  // Who moves the groups: "controller" (the last node, always) or "coordinator" (whichever
  // node RoleChanged names; after a coordinator crash the next one carries on).
  std::string author = "controller";
  std::string backend = "auto";
  bool quiet = false;
};

// Returns the process exit code: 0 when every live node converged with no stale version applied.
int run(const Options& options);

}  // namespace hana::demo
