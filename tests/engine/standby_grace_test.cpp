// The standby's grace arm (engine/standby_grace.h): inside the promise, and spread over
// the grace's second half rather than at one fixed offset (a fixed one fired in step with
// a periodic application, inside its round trips).
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/standby_grace.h"

namespace hana::engine {
namespace {

constexpr TimeNs kGrace = 2'000'000;
constexpr TimeNs kNow = 5'000'000'000;

TEST(StandbyGrace, ArmsWithinTheGracesSecondHalfAndSpreadsOverIt) {
  protocol::Prng rng(7);
  TimeNs lo = ~TimeNs{0}, hi = 0;
  for (int i = 0; i < 1000; ++i) {
    const TimeNs at = standby_grace_arm(kNow + 100'000, kNow, kGrace, rng);  // a held ACK's deadline
    ASSERT_GE(at, kNow + kGrace / 2);
    ASSERT_LE(at, kNow + kGrace);
    lo = std::min(lo, at);
    hi = std::max(hi, at);
  }
  // 1000 draws over a 1 ms window: the extremes lie near its ends.
  EXPECT_LT(lo, kNow + kGrace / 2 + kGrace / 8);
  EXPECT_GT(hi, kNow + kGrace - kGrace / 8);
}

TEST(StandbyGrace, ADeadlineBeyondTheGraceIsArmedExactly) {
  protocol::Prng rng(7);
  const TimeNs next = kNow + 3 * kGrace;  // a probe timer: nothing is held back for it
  for (int i = 0; i < 100; ++i) EXPECT_EQ(standby_grace_arm(next, kNow, kGrace, rng), next);
}

}  // namespace
}  // namespace hana::engine
