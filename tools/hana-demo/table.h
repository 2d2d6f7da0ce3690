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
  std::uint64_t rtt_us = 0;
  double loss_pct = 0;
};

void print_table(const std::vector<Row>& rows, double elapsed_s);
void print_summary(const std::vector<Row>& rows, std::uint32_t final_version, int groups, bool converged,
                   std::uint64_t stale_applied, std::uint64_t send_errors);

}  // namespace hana::demo
