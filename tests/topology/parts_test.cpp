// The small pure parts of the topology layer: merge rules, election, backoff,
// cookie, rate limiter, suspicion timeout.
#include <gtest/gtest.h>

#include <set>

#include "topology/backoff.h"
#include "topology/cookie.h"
#include "topology/election.h"
#include "topology/membership.h"

namespace hana::topology {
namespace {

TEST(Merge, IncarnationThenSeverity) {
  using S = MemberState;
  EXPECT_TRUE(supersedes(S::Suspect, 1, S::Alive, 1));
  EXPECT_FALSE(supersedes(S::Alive, 1, S::Suspect, 1));  // refuting needs a higher incarnation
  EXPECT_TRUE(supersedes(S::Alive, 2, S::Suspect, 1));
  EXPECT_TRUE(supersedes(S::Alive, 2, S::Dead, 1));
  EXPECT_FALSE(supersedes(S::Alive, 1, S::Dead, 1));
  EXPECT_TRUE(supersedes(S::Dead, 1, S::Suspect, 1));
  EXPECT_FALSE(supersedes(S::Suspect, 1, S::Dead, 1));
  EXPECT_FALSE(supersedes(S::Dead, 0, S::Alive, 1));  // stale news
  EXPECT_TRUE(supersedes(S::Left, 3, S::Dead, 3));
  EXPECT_FALSE(supersedes(S::Suspect, 3, S::Suspect, 3));
}

TEST(Election, HigherTermThenLowerIdWins) {
  Election e;
  EXPECT_FALSE(e.current());
  EXPECT_TRUE(e.observe({1, 50}));
  EXPECT_TRUE(e.observe({1, 7}));    // same term, lower id
  EXPECT_FALSE(e.observe({1, 9}));   // same term, higher id
  EXPECT_TRUE(e.observe({2, 90}));   // higher term beats a lower id
  EXPECT_FALSE(e.observe({1, 1}));   // stale term fenced
  EXPECT_FALSE(e.observe({0, 1}));   // term 0 is "no claim"
  EXPECT_EQ(e.current()->node, 90u);
  EXPECT_EQ(e.term(), 2u);
  EXPECT_EQ(e.next_claim(5), (Claim{3, 5}));
}

TEST(Election, PartitionHealConvergesWhateverTheOrder) {
  const Claim a{5, 40}, b{3, 2}, c{5, 12};
  Election x, y;
  for (auto cl : {a, b, c}) x.observe(cl);
  for (auto cl : {c, b, a}) y.observe(cl);
  EXPECT_EQ(*x.current(), c);
  EXPECT_EQ(*y.current(), c);
}

TEST(Backoff, DoublesWithJitterUpToTheCap) {
  Rng rng(1);
  Backoff b(10 * kNsPerMs, 80 * kNsPerMs);
  const TimeNs bases[] = {10, 20, 40, 80, 80, 80};
  for (TimeNs base : bases) {
    const TimeNs d = b.next(rng);
    EXPECT_GE(d, base * kNsPerMs / 2);
    EXPECT_LE(d, base * kNsPerMs * 3 / 2);
  }
  b.reset();
  EXPECT_LE(b.next(rng), 15 * kNsPerMs);
}

TEST(Backoff, JitterSpreadsNodes) {
  std::set<TimeNs> seen;
  for (std::uint64_t s = 0; s < 20; ++s) {
    Rng rng(s);
    Backoff b(100 * kNsPerMs, 1000 * kNsPerMs);
    seen.insert(b.next(rng));
  }
  EXPECT_GT(seen.size(), 15u);
}

TEST(Cookie, ValidForItsAddressAndTwoBuckets) {
  CookieJar jar(0xabcdef, 1000 * kNsPerMs);
  const Address a = Address::ipv4(10, 0, 0, 1, 5000);
  const Address b = Address::ipv4(10, 0, 0, 1, 5001);
  const Cookie c = jar.make(a, 5500 * kNsPerMs);
  EXPECT_TRUE(jar.verify(a, c, 5500 * kNsPerMs));
  EXPECT_TRUE(jar.verify(a, c, 6900 * kNsPerMs));   // next bucket
  EXPECT_FALSE(jar.verify(a, c, 7000 * kNsPerMs));  // two buckets later
  EXPECT_FALSE(jar.verify(b, c, 5500 * kNsPerMs));  // other port
  Cookie bad = c;
  bad[3] ^= 1;
  EXPECT_FALSE(jar.verify(a, bad, 5500 * kNsPerMs));
  EXPECT_FALSE(jar.verify(a, protocol::Bytes(c.data(), 8), 5500 * kNsPerMs));
  CookieJar other(0xabcdee, 1000 * kNsPerMs);
  EXPECT_FALSE(other.verify(a, c, 5500 * kNsPerMs));  // different secret
}

TEST(RateLimiter, BurstThenRate) {
  RateLimiter r(100);
  std::size_t allowed = 0;
  for (int i = 0; i < 1000; ++i) allowed += r.allow(0) ? 1 : 0;
  EXPECT_EQ(allowed, 100u);  // one second's worth of burst
  // Half a second later, called every microsecond: ~50 more.
  allowed = 0;
  for (TimeNs t = 1; t <= 500'000; ++t) allowed += r.allow(t * 1000) ? 1 : 0;
  EXPECT_GE(allowed, 49u);
  EXPECT_LE(allowed, 51u);
  EXPECT_GT(r.denied(), 0u);
}

TEST(Suspicion, ScalesWithGroupAndShrinksWithConfirmations) {
  const TimeNs T = 50 * kNsPerMs;
  const TimeNs small = suspicion_timeout_ns(2, 2, 5, T, 0, 3);
  const TimeNs big = suspicion_timeout_ns(2, 2, 100, T, 0, 3);
  EXPECT_EQ(small, 2 * 2 * T);        // log10(5) < 1 -> scale 1, starts at max
  EXPECT_EQ(big, 2 * 2 * 2 * T);      // log10(100) = 2
  const TimeNs one = suspicion_timeout_ns(2, 2, 100, T, 1, 3);
  const TimeNs all = suspicion_timeout_ns(2, 2, 100, T, 3, 3);
  EXPECT_LT(one, big);
  EXPECT_EQ(all, 2 * 2 * T);
  EXPECT_EQ(gossip_retransmits(4, 100), 12u);
}

}  // namespace
}  // namespace hana::topology
