#include "table.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace hana::demo {

void print_table(const std::vector<Row>& rows, double elapsed_s) {
  // rtt: mean smoothed RTT over peers with a sample; '*' marks the controller.
  std::printf("\n t=%5.1fs  %-8s %-12s %6s %9s %7s %9s %9s %6s %8s %6s\n", elapsed_s, "node", "role", "peers",
              "applied", "stale", "age p50", "age p99", "late", "rtt", "loss");
  for (const auto& r : rows) {
    const std::string rtt = r.rtt_us ? std::to_string(r.rtt_us) + "us" : "-";
    std::printf("           %-8s %-12s %6d %9llu %7llu %7.2fms %7.2fms %6llu %8s %5.1f%%\n", r.name.c_str(),
                r.role.c_str(), r.peers_alive, static_cast<unsigned long long>(r.applied),
                static_cast<unsigned long long>(r.stale_dropped), static_cast<double>(r.age_p50_us) / 1000.0,
                static_cast<double>(r.age_p99_us) / 1000.0, static_cast<unsigned long long>(r.deadline_missed),
                rtt.c_str(), r.loss_pct);
  }
  std::fflush(stdout);
}

const AuthorRow* successor(const Summary& s) {
  const AuthorRow* next = nullptr;
  for (const auto& a : s.authors)
    if (!a.crashed && a.last_s > s.crash_s && (!next || a.span_s < next->span_s)) next = &a;
  return next;
}

bool summary_ok(const Summary& s) {
  return s.converged && s.stale_applied == 0 && (s.crash_s < 0 || successor(s) != nullptr);
}

void print_summary(const std::vector<Row>& rows, const Summary& s) {
  std::uint64_t worst_p99 = 0, p50_sum = 0, late = 0, applied = 0;
  std::size_t receivers = 0;
  for (const auto& r : rows) {
    if (r.name.back() == '*') continue;  // an author applies its own updates at age ~0
    ++receivers;
    worst_p99 = std::max(worst_p99, r.age_p99_us);
    p50_sum += r.age_p50_us;
    late += r.deadline_missed;
    applied += r.applied;
  }
  std::printf("\nsummary: %zu live nodes, %d groups, final version %u by %s\n", rows.size(), s.groups, s.final_version,
              s.final_author.c_str());
  std::printf("  converged (every node holds the final version of every group): %s\n", s.converged ? "yes" : "NO");
  std::printf("  stale versions applied: %llu (stale versions dropped are counted per node above)\n",
              static_cast<unsigned long long>(s.stale_applied));
  std::printf("  update age at the %zu receiving nodes: mean of node p50 %.2f ms, worst node p99 %.2f ms\n", receivers,
              receivers == 0 ? 0.0 : static_cast<double>(p50_sum) / static_cast<double>(receivers) / 1000.0,
              static_cast<double>(worst_p99) / 1000.0);
  if (s.lead_ms > 0)
    std::printf("  frame-locked (apply_at = mesh time + %d ms): %llu of %llu applied updates arrived after their "
                "deadline\n",
                s.lead_ms, static_cast<unsigned long long>(late), static_cast<unsigned long long>(applied));
  for (const auto& a : s.authors)
    std::printf("  author %s: %llu updates, t=%.1f..%.1fs%s\n", a.name.c_str(),
                static_cast<unsigned long long>(a.updates), a.first_s, a.last_s, a.crashed ? " (crashed)" : "");
  std::printf("  author send errors (back-pressure): %llu\n", static_cast<unsigned long long>(s.send_errors));
  if (s.crash_s >= 0) {
    const AuthorRow* next = successor(s);
    if (next && next->span_s < s.crash_s)
      std::printf("  after crashing %s at t=%.1fs: updates kept flowing from %s (writing all along)\n",
                  s.crashed.c_str(), s.crash_s, next->name.c_str());
    else if (next)
      std::printf("  after crashing %s at t=%.1fs: updates kept flowing from %s (from t=%.1fs, %.1f s later)\n",
                  s.crashed.c_str(), s.crash_s, next->name.c_str(), next->span_s, next->span_s - s.crash_s);
    else
      std::printf("  after crashing %s at t=%.1fs: NO live node wrote another update\n", s.crashed.c_str(), s.crash_s);
  }
  std::printf("  result: %s\n", summary_ok(s) ? "OK" : "FAILED");
}

}  // namespace hana::demo
