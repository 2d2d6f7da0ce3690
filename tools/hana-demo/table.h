// The demo's terminal table and final summary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hana::demo {

struct Row {
  std::string name;
  std::string role;
  int peers_alive = 0;
  std::uint64_t applied = 0;
  std::uint64_t stale_dropped = 0;
  std::uint64_t stale_applied = 0;
  std::uint64_t age_p50_us = 0;
  std::uint64_t age_p99_us = 0;
  std::uint64_t deadline_missed = 0;  // updates applied after their apply_at (frame-locked lead too short)
  std::uint64_t rtt_us = 0;
  double loss_pct = 0;
};

// One node that wrote group updates during the run.
struct AuthorRow {
  std::string name;
  std::uint64_t updates = 0;
  double first_s = 0, last_s = 0;  // first and last update it wrote, seconds into the run
  double span_s = 0;               // start of its latest run of ticks as the author
  bool crashed = false;
};

struct Summary {
  int groups = 0;
  int lead_ms = 0;  // the apply_at lead of every update (0: none)
  std::uint32_t final_version = 0;  // of group-00, as held by the last author
  std::string final_author;
  bool converged = false;
  std::uint64_t stale_applied = 0;
  std::uint64_t send_errors = 0;
  std::vector<AuthorRow> authors;
  double crash_s = -1;  // when the coordinator was crashed; < 0: never
  std::string crashed;
};

// After a crash of the coordinator: the live author that wrote after it (the earliest to
// start), if any.
const AuthorRow* successor(const Summary& summary);
// Converged, no stale version applied, and (after a crash) another node kept writing.
bool summary_ok(const Summary& summary);

void print_table(const std::vector<Row>& rows, double elapsed_s);
void print_summary(const std::vector<Row>& rows, const Summary& summary);

}  // namespace hana::demo
