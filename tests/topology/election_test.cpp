// Coordinator election with non-eligible members: an unknown or false eligibility never
// makes a node a candidate, so a non-eligible lowest id cannot hold up the election.
#include <gtest/gtest.h>

#include "topology/sim/cluster.h"

namespace hana::topology::test {
namespace {

constexpr TimeNs kSec = kNsPerSec;

// The lowest id (node 0, also everyone's seed) is not eligible; nodes 1.. are.
void run_non_eligible_lowest(Discovery discovery, std::uint64_t seed) {
  Cluster c({.nodes = 6, .seed = seed, .discovery = discovery, .not_eligible = {0}});
  bool ineligible_claimed = false;
  c.on_event = [&](std::size_t, const MeshEvent& e, TimeNs) {
    if (auto* r = std::get_if<RoleChanged>(&e); r && r->role == Role::Coordinator && r->node == Cluster::id(0))
      ineligible_claimed = true;
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged() && c.agreed_coordinator(); }, 5 * kSec)) << "no agreed coordinator";
  const NodeId first = *c.agreed_coordinator();
  EXPECT_NE(first, Cluster::id(0));
  // With no loss every node knows every eligibility before claiming: the lowest eligible id.
  EXPECT_EQ(first, Cluster::id(1));
  for (std::size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c.node(i).coordinator(), first) << i;

  // Kill the coordinator: a new one among the remaining eligible nodes, agreed by all.
  c.kill(c.index_of(first));
  ASSERT_TRUE(c.run_until(
      [&] {
        auto now = c.agreed_coordinator();
        return c.all_see(c.index_of(first), MemberState::Dead) && now && *now != first;
      },
      10 * kSec))
      << "no failover";
  const NodeId second = *c.agreed_coordinator();
  EXPECT_NE(second, Cluster::id(0));
  EXPECT_EQ(second, Cluster::id(2));
  ASSERT_TRUE(c.run_for(2 * kSec));  // stays put
  EXPECT_EQ(c.agreed_coordinator(), second);
  EXPECT_FALSE(ineligible_claimed);
  EXPECT_GT(c.node(0).term(), 1u);
}

TEST(ElectionEligibility, NonEligibleLowestIdDoesNotBlockSeeds) { run_non_eligible_lowest(Discovery::Seeds, 21); }
TEST(ElectionEligibility, NonEligibleLowestIdDoesNotBlockBeacons) { run_non_eligible_lowest(Discovery::Beacons, 22); }

// Every node except the highest is non-eligible: the highest is elected, even though
// every other node has a lower id.
TEST(ElectionEligibility, OnlyTheHighestIdIsEligible) {
  Cluster c({.nodes = 5, .seed = 23, .not_eligible = {0, 1, 2, 3}});
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged() && c.agreed_coordinator(); }, 5 * kSec));
  EXPECT_EQ(c.agreed_coordinator(), Cluster::id(4));
}

}  // namespace
}  // namespace hana::topology::test
