#include "table.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace hana::demo {

void print_table(const std::vector<Row>& rows, double elapsed_s) {
  // rtt: mean smoothed RTT over peers with a sample; '*' marks the controller.
  std::printf("\n t=%5.1fs  %-8s %-12s %6s %9s %7s %9s %9s %8s %6s\n", elapsed_s, "node", "role", "peers", "applied",
              "stale", "age p50", "age p99", "rtt", "loss");
  for (const auto& r : rows) {
    const std::string rtt = r.rtt_us ? std::to_string(r.rtt_us) + "us" : "-";
    std::printf("           %-8s %-12s %6d %9llu %7llu %7.2fms %7.2fms %8s %5.1f%%\n", r.name.c_str(), r.role.c_str(),
                r.peers_alive, static_cast<unsigned long long>(r.applied),
                static_cast<unsigned long long>(r.stale_dropped), static_cast<double>(r.age_p50_us) / 1000.0,
                static_cast<double>(r.age_p99_us) / 1000.0, rtt.c_str(), r.loss_pct);
  }
  std::fflush(stdout);
}

void print_summary(const std::vector<Row>& rows, std::uint32_t final_version, int groups, bool converged,
                   std::uint64_t stale_applied, std::uint64_t send_errors) {
  std::uint64_t worst_p99 = 0, p50_sum = 0;
  std::size_t receivers = 0;
  for (const auto& r : rows) {
    if (r.name.back() == '*') continue;  // the controller applies its own updates at age ~0
    ++receivers;
    worst_p99 = std::max(worst_p99, r.age_p99_us);
    p50_sum += r.age_p50_us;
  }
  std::printf("\nsummary: %zu live nodes, %d groups, final version %u\n", rows.size(), groups, final_version);
  std::printf("  converged (every node holds the final version of every group): %s\n", converged ? "yes" : "NO");
  std::printf("  stale versions applied: %llu (stale versions dropped are counted per node above)\n",
              static_cast<unsigned long long>(stale_applied));
  std::printf("  update age at the %zu receiving nodes: mean of node p50 %.2f ms, worst node p99 %.2f ms\n", receivers,
              receivers == 0 ? 0.0 : static_cast<double>(p50_sum) / static_cast<double>(receivers) / 1000.0,
              static_cast<double>(worst_p99) / 1000.0);
  std::printf("  controller send errors (back-pressure): %llu\n", static_cast<unsigned long long>(send_errors));
  std::printf("  result: %s\n", converged && stale_applied == 0 ? "OK" : "FAILED");
}

}  // namespace hana::demo
