// Helpers shared by the simulator property tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "protocol/sim/conn_scenario.h"

namespace hana::sim::testing {

// HANA_SIM_SOAK=1 (or any positive number) runs the long variants: more seeds and
// messages. CI runs the short suite; the soak is for humans and nightly jobs.
inline int soak_factor() {
  const char* v = std::getenv("HANA_SIM_SOAK");
  if (!v || !*v) return 1;
  const int n = std::atoi(v);
  return n <= 1 ? 10 : n * 10;
}

inline std::string describe(const ConnScenarioResult& r) {
  std::string s = "status=" + std::string(to_string(r.outcome.status)) + " error='" + r.error +
                  "' sent=" + std::to_string(r.report.sent) + " received=" + std::to_string(r.report.received) +
                  " failed=" + std::to_string(r.report.failed) + " missing=" + std::to_string(r.report.missing) +
                  " dup=" + std::to_string(r.report.duplicates) + " order=" + std::to_string(r.report.order_violations) +
                  " seq=" + std::to_string(r.report.sequence_violations) +
                  " stale=" + std::to_string(r.report.stale_versions) +
                  " corrupt=" + std::to_string(r.report.corrupted) +
                  " outcome=" + std::to_string(r.report.outcome_violations) + " t=" +
                  std::to_string(r.outcome.now / kNsPerMs) + "ms";
  for (const auto& p : r.report.problems) s += "\n  " + p;
  return s;
}

// The delivery properties every scenario must satisfy.
inline void expect_delivery_properties(const ConnScenarioResult& r, const std::string& label) {
  EXPECT_TRUE(r.ok()) << label << ": " << describe(r);
  EXPECT_EQ(r.report.duplicates, 0u) << label;
  EXPECT_EQ(r.report.order_violations, 0u) << label;
  EXPECT_EQ(r.report.sequence_violations, 0u) << label;
  EXPECT_EQ(r.report.stale_versions, 0u) << label;
  EXPECT_EQ(r.report.corrupted, 0u) << label;
  EXPECT_EQ(r.report.outcome_violations, 0u) << label;
  EXPECT_EQ(r.report.missing, 0u) << label;
  EXPECT_GT(r.report.sent, 0u) << label;
  EXPECT_EQ(r.endpoint_drops, 0u) << label;
  EXPECT_EQ(r.congestion_order_violations, 0u) << label;
}

}  // namespace hana::sim::testing
