// Anti-entropy (topology/view_check.cpp): a node that missed every copy of a member's
// gossip still learns it. Asserts behaviour only; never how fast.
#include <gtest/gtest.h>

#include "gossip_of.h"
#include "topology/bodies.h"
#include "topology/sim/cluster.h"

namespace hana::topology::test {
namespace {

constexpr TimeNs kSec = kNsPerSec;

bool tells_of(const GossipView& view, NodeId node) {
  UpdateReader reader(view);
  Update u;
  while (reader.next(u))
    if (u.node == node && u.kind == UpdateKind::Alive) return true;
  return false;
}

// The victim and the hidden node cannot reach each other at all (so no handshake between
// them tells either of the other), and during the cold start every gossip datagram that
// tells the victim of the hidden node is lost: the piggybacked copies and the syncs. After
// that nothing would ever tell it again; a VIEW check must.
struct HiddenMember {
  static constexpr std::size_t kNodes = 6;
  static constexpr std::size_t kVictim = 4;
  static constexpr std::size_t kHidden = 5;

  explicit HiddenMember(std::uint64_t view_check_ms) : c(options(view_check_ms)) {
    c.on_send = [this](std::size_t from, const Address& to, std::span<std::uint8_t> buf, std::size_t size) -> std::size_t {
      const bool between = (from == kVictim && to == Cluster::address(kHidden)) ||
                           (from == kHidden && to == Cluster::address(kVictim));
      if (between) return 0;
      GossipView v;
      if (cold_start && to == Cluster::address(kVictim) && gossip_of(buf.first(size), v) &&
          tells_of(v, Cluster::id(kHidden))) {
        ++dropped;
        return 0;
      }
      return size;
    };
  }
  static ClusterOptions options(std::uint64_t view_check_ms) {
    Config config;
    config.view_check_interval_ms = view_check_ms;
    return {.nodes = kNodes, .seed = 7, .discovery = Discovery::Seeds, .config = config};
  }
  bool victim_knows_hidden() const {
    const Member* m = c.member(kVictim, kHidden);
    return m && m->state == MemberState::Alive;
  }
  // Cold start until every other pair is connected, then the gossip has 10 s to drain.
  void start() {
    c.start_all();
    ASSERT_TRUE(c.run_until(
        [&] {
          for (std::size_t v = 0; v < kNodes; ++v)
            for (std::size_t s = 0; s < kNodes; ++s) {
              if (v == s || (v == kVictim && s == kHidden) || (v == kHidden && s == kVictim)) continue;
              const Member* m = c.member(v, s);
              if (!m || !m->connected) return false;
            }
          return true;
        },
        30 * kSec, 10 * kNsPerMs));
    ASSERT_TRUE(c.run_for(10 * kSec));
    cold_start = false;
  }

  Cluster c;
  bool cold_start = true;
  std::size_t dropped = 0;
};

TEST(ViewCheck, MemberMissedByEveryGossipCopyIsLearnedFromAView) {
  HiddenMember h(2000);
  h.start();
  ASSERT_GT(h.dropped, 0u) << "the victim was never offered the hidden member: the test proves nothing";
  ASSERT_FALSE(h.victim_knows_hidden()) << "gossip reached the victim after all: the filter missed a path";
  ASSERT_TRUE(h.c.run_until([&] { return h.victim_knows_hidden(); }, 30 * kSec, 10 * kNsPerMs))
      << "no VIEW check repaired the victim's member list";
  std::uint64_t mismatches = 0;
  for (std::size_t i = 0; i < HiddenMember::kNodes; ++i) mismatches += h.c.node(i).counters().view_mismatches;
  EXPECT_GT(mismatches, 0u);
}

// The same without VIEW checks: the victim never learns the member (what the check fixes).
TEST(ViewCheck, WithoutChecksTheMissedMemberStaysUnknown) {
  HiddenMember h(0);
  h.start();
  ASSERT_GT(h.dropped, 0u);
  ASSERT_TRUE(h.c.run_for(30 * kSec));
  EXPECT_FALSE(h.victim_knows_hidden());
}

// An idle mesh whose views agree sends its checks and nothing else: no syncs.
TEST(ViewCheck, AgreeingViewsCostOnlyTheChecks) {
  Config config;
  config.view_check_interval_ms = 500;
  Cluster c({.nodes = 5, .seed = 8, .discovery = Discovery::Seeds, .config = config});
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(true); }, 30 * kSec, 10 * kNsPerMs));
  ASSERT_TRUE(c.run_for(5 * kSec));
  std::vector<MeshCounters> before;
  for (std::size_t i = 0; i < 5; ++i) before.push_back(c.node(i).counters());
  ASSERT_TRUE(c.run_for(10 * kSec));
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_GT(c.node(i).counters().view_checks, before[i].view_checks);
    EXPECT_EQ(c.node(i).counters().view_mismatches, before[i].view_mismatches) << "node " << i;
  }
}

}  // namespace
}  // namespace hana::topology::test
