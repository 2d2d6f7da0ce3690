// The mesh at scale in the simulator (virtual time, seeded). Asserts correctness only:
// agreement of views and coordinator, no false Dead. Timings are measured by
// `hana-sim mesh`, never asserted here.
#include <gtest/gtest.h>

#include <set>

#include "topology/sim/mesh_scenario.h"

namespace hana::topology::test {
namespace {

constexpr TimeNs kSec = kNsPerSec;

TEST(MeshScale, HundredNodesColdStartKillAndFailover) {
  Cluster c({.nodes = 100, .seed = 21, .discovery = Discovery::Beacons});
  std::uint64_t false_dead = 0;
  c.on_event = [&](std::size_t, const MeshEvent& e, TimeNs) {
    if (auto* d = std::get_if<PeerDown>(&e))
      if (c.is_up(c.index_of(d->peer))) ++false_dead;
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(true); }, 30 * kSec)) << "no full, connected view at 100 nodes";
  ASSERT_TRUE(c.run_until([&] { return c.agreed_coordinator().has_value(); }, 10 * kSec));
  EXPECT_EQ(*c.agreed_coordinator(), Cluster::id(0));
  for (std::size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c.node(i).members().size(), 99u);
  // The mesh-wide link picture fills: every node holds every observer's link to every peer.
  ASSERT_TRUE(c.run_until(
      [&] {
        for (std::size_t i = 0; i < c.size(); ++i)
          if (c.node(i).links().size() != 100u * 99u) return false;
        return true;
      },
      10 * kSec, 100 * kNsPerMs));
  for (std::size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c.node(i).counters().bad_mesh_messages, 0u) << i;

  c.kill(42);
  ASSERT_TRUE(c.run_until([&] { return c.all_see(42, MemberState::Dead); }, 30 * kSec));
  EXPECT_EQ(*c.agreed_coordinator(), Cluster::id(0));

  const std::uint64_t term = c.node(1).term();
  c.kill(0);  // the coordinator
  ASSERT_TRUE(c.run_until([&] { return c.all_see(0, MemberState::Dead) && c.agreed_coordinator() == Cluster::id(1); }, 30 * kSec));
  for (std::size_t i = 1; i < c.size(); ++i)
    if (c.is_up(i)) {
      EXPECT_GT(c.node(i).term(), term) << i;
    }
  // Nothing from or about the dead nodes is left in anyone's picture.
  for (std::size_t i = 1; i < c.size(); ++i)
    if (c.is_up(i)) {
      EXPECT_EQ(c.node(i).links().size(), 98u * 97u) << i;
    }
  EXPECT_EQ(false_dead, 0u);
}

TEST(MeshScale, LossySoakHasNoFalseDead) {
  sim::LinkParams lossy;
  lossy.loss = 0.05;
  Cluster c({.nodes = 40, .seed = 22, .discovery = Discovery::Beacons, .link = lossy});
  std::uint64_t false_dead = 0;
  c.on_event = [&](std::size_t, const MeshEvent& e, TimeNs) {
    if (std::holds_alternative<PeerDown>(e)) ++false_dead;  // nobody is killed here
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(true) && c.agreed_coordinator(); }, 30 * kSec, 10 * kNsPerMs));
  ASSERT_TRUE(c.run_for(120 * kSec));
  EXPECT_EQ(false_dead, 0u);
  EXPECT_TRUE(c.converged(true));
  EXPECT_TRUE(c.agreed_coordinator().has_value());
}

TEST(MeshScale, PartitionHealsToOneViewAndOneCoordinator) {
  Cluster c({.nodes = 30, .seed = 23, .discovery = Discovery::Seeds});
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(true) && c.agreed_coordinator(); }, 30 * kSec, 10 * kNsPerMs));
  std::vector<Address> odd, even;
  for (std::size_t i = 0; i < c.size(); ++i) (i % 2 ? odd : even).push_back(Cluster::address(i));
  c.network().partition({odd, even});
  ASSERT_TRUE(c.run_for(5 * kSec));
  // Each side elected its own coordinator (the odd side lost node 0's reign).
  EXPECT_EQ(c.node(0).coordinator(), Cluster::id(0));
  EXPECT_EQ(c.node(1).coordinator(), Cluster::id(1));
  const std::uint64_t higher = std::max(c.node(0).term(), c.node(1).term());
  c.network().heal();
  ASSERT_TRUE(c.run_until([&] { return c.converged(true) && c.agreed_coordinator(); }, 60 * kSec, 10 * kNsPerMs));
  EXPECT_EQ(*c.agreed_coordinator(), Cluster::id(1)) << "the higher term wins after the heal";
  std::set<std::uint64_t> terms;
  for (std::size_t i = 0; i < c.size(); ++i) terms.insert(c.node(i).term());
  EXPECT_EQ(terms.size(), 1u);
  EXPECT_EQ(*terms.begin(), higher);
}

TEST(MeshScale, SeedOnlyDiscoveryReachesFullView) {
  Cluster c({.nodes = 40, .seed = 24, .discovery = Discovery::Seeds});
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(true) && c.agreed_coordinator(); }, 30 * kSec, 10 * kNsPerMs));
}

TEST(MeshScale, SameSeedSameRun) {
  auto run = [](std::uint64_t seed) {
    MeshScenarioOptions o;
    o.nodes = 12;
    o.seed = seed;
    o.trials = 2;
    o.idle_s = 2;
    o.soak_s = 5;
    o.loss = 0.02;
    return run_mesh_scenario(o);
  };
  const auto a = run(5), b = run(5);
  ASSERT_TRUE(a.ok) << a.error;
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.detection_agreed.p50_ms, b.detection_agreed.p50_ms);
  EXPECT_EQ(a.idle_bytes_per_node_per_s, b.idle_bytes_per_node_per_s);
  EXPECT_EQ(a.final_term, b.final_term);
  EXPECT_EQ(a.false_positives, 0u);
  EXPECT_EQ(a.coordinators_after_heal, 1u);
}

}  // namespace
}  // namespace hana::topology::test
