// A healed partition becomes one mesh again (issue 18 §4), in the simulator. Asserts
// behaviour only: who follows which coordinator, who is connected. How fast it heals is
// measured by `hana-sim mesh` (docs/topology.md), never asserted here.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "gossip_of.h"
#include "topology/bodies.h"
#include "topology/sim/cluster.h"

namespace hana::topology::test {
namespace {

constexpr TimeNs kSec = kNsPerSec;

bool carries_claim(const GossipView& view) {
  UpdateReader reader(view);
  Update u;
  while (reader.next(u))
    if (u.kind == UpdateKind::Coordinator) return true;
  return false;
}

std::vector<Address> side(std::size_t nodes, std::size_t parity) {
  std::vector<Address> s;
  for (std::size_t i = parity; i < nodes; i += 2) s.push_back(Cluster::address(i));
  return s;
}

// The mesh converges, then odd and even nodes are cut apart until each holds the other
// side Dead.
void converge_then_partition(Cluster& c, std::size_t nodes) {
  ASSERT_TRUE(c.run_until([&] { return c.converged(true) && c.agreed_coordinator(); }, 30 * kSec, 10 * kNsPerMs));
  c.network().partition({side(nodes, 0), side(nodes, 1)});
  ASSERT_TRUE(c.run_for(5 * kSec));
  for (std::size_t i = 0; i < nodes; ++i) {
    const Member* other = c.member(i, (i + 1) % nodes);
    ASSERT_TRUE(other && other->state == MemberState::Dead) << "node " << i << " still holds the other side live";
  }
}

// Seen in `hana-sim mesh --nodes 32 --trials 3 --soak-s 10 --idle-s 10 --seeds --seed 22`
// before the fix: after the heal one node kept following the losing side's coordinator
// for good. Gossip hands a claim to random members a few times; that node had missed
// every copy, learned the other side Alive from gossip before its handshakes (so no full
// view was synced to it), and nothing repeats a claim in a mesh without beacons. Here the
// victim loses every datagram that carries the winning claim among other updates (the
// piggybacked copies and the full-view syncs: one-shot connectionless datagrams, which
// loss can take); only one-update pushes reach it: what a claimant sends, and the claim
// each handshake now sends on its own. Before the fix it never learned the winner.
TEST(PartitionHeal, NodeThatMissedEveryCopyOfTheClaimFollowsTheWinner) {
  constexpr std::size_t kNodes = 12;
  constexpr std::size_t kVictim = 2;  // the even side: it keeps node 0 and the lower term
  Cluster c({.nodes = kNodes, .seed = 41, .discovery = Discovery::Seeds});
  bool filtering = false;
  std::size_t dropped = 0;
  c.on_send = [&](std::size_t, const Address& to, std::span<std::uint8_t> buf, std::size_t size) -> std::size_t {
    GossipView v;
    if (!filtering || to != Cluster::address(kVictim) || !gossip_of(buf.first(size), v) || !carries_claim(v)) return size;
    if (v.header.kind == GossipKind::Push && v.update_count == 1) return size;
    ++dropped;
    return 0;
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(true) && c.agreed_coordinator(); }, 30 * kSec, 10 * kNsPerMs));
  ASSERT_EQ(*c.agreed_coordinator(), Cluster::id(0));
  c.network().partition({side(kNodes, 0), side(kNodes, 1)});
  ASSERT_TRUE(c.run_for(5 * kSec));
  ASSERT_EQ(c.node(kVictim).coordinator(), Cluster::id(0));
  ASSERT_EQ(c.node(1).coordinator(), Cluster::id(1));  // the odd side lost node 0: a new term
  ASSERT_GT(c.node(1).term(), c.node(kVictim).term());
  filtering = true;
  c.network().heal();
  ASSERT_TRUE(c.run_until([&] { return c.converged(true) && c.agreed_coordinator(); }, 60 * kSec, 10 * kNsPerMs))
      << "node " << kVictim << " follows " << c.node(kVictim).coordinator().value_or(0) << " at term "
      << c.node(kVictim).term() << "; node 1 follows " << c.node(1).coordinator().value_or(0);
  EXPECT_EQ(*c.agreed_coordinator(), Cluster::id(1)) << "the higher term wins";
  EXPECT_GT(dropped, 0u) << "the victim was offered piggybacked copies of the claim and missed them";
}

// A dial backoff that grew while the partition lasted must not keep the halves apart: with
// it pinned at ten minutes, only a redial on the first beacon from a member held Dead (and
// on its probes, pushes and Hellos) can reconnect the mesh within the bound. And the Dead
// verdicts each side reached about the other arrive with the heal: a node takes one about
// a member of its own side (declared by a node it held Dead) as a suspicion, which the
// member refutes, instead of dropping a connection that never broke.
TEST(PartitionHeal, BeaconFromMemberHeldDeadIsDialedAtOnce) {
  constexpr std::size_t kNodes = 8;
  Config config;
  config.reconnect_backoff_min_ms = 600'000;
  config.reconnect_backoff_max_ms = 600'000;
  Cluster c({.nodes = kNodes, .seed = 42, .discovery = Discovery::Beacons, .config = config});
  c.start_all();
  ASSERT_NO_FATAL_FAILURE(converge_then_partition(c, kNodes));
  // Each side's verdicts about the other reach it with the heal; they must not cost a node
  // the members of its own side, whose connections never broke.
  std::size_t own_side_down = 0;
  c.on_event = [&](std::size_t n, const MeshEvent& e, TimeNs) {
    if (auto* d = std::get_if<PeerDown>(&e); d && c.index_of(d->peer) % 2 == n % 2) ++own_side_down;
  };
  c.network().heal();
  ASSERT_TRUE(c.run_until([&] { return c.converged(true) && c.agreed_coordinator(); }, 60 * kSec, 10 * kNsPerMs))
      << "the halves did not reconnect: the dials waited out their backoff";
  EXPECT_EQ(own_side_down, 0u) << "the other side's Dead verdicts dropped connections that never broke";
  std::set<std::uint64_t> terms;
  for (std::size_t i = 0; i < kNodes; ++i) terms.insert(c.node(i).term());
  EXPECT_EQ(terms.size(), 1u);
}

// With beacons an hour apart, a healed partition's halves meet through the first beacon
// that crosses. Every node that hears a member it holds Dead beacons back at once rather
// than at its own next period, and the answers cross the other way: every node has sent a
// beacon shortly after the first crossing one, so each pair has met without waiting for
// one of its own two beacons (up to a whole period each; on a LAN, 1 s). Before the
// answer, the nodes' next beacons were still most of an hour away.
TEST(PartitionHeal, ABeaconFromAMemberHeldDeadIsAnsweredAtOnce) {
  constexpr std::size_t kNodes = 8;
  Config config;
  config.beacon_interval_ms = 3'600'000;
  config.reconnect_backoff_min_ms = 600'000;  // no blind redial crosses first
  config.reconnect_backoff_max_ms = 600'000;
  Cluster c({.nodes = kNodes, .seed = 43, .discovery = Discovery::Beacons, .config = config});
  const Address group = Address::ipv4(239, 1, 2, 3, 7000);  // the cluster's beacon group
  std::vector<TimeNs> last_beacon(kNodes, 0);
  c.on_send = [&](std::size_t n, const Address& to, std::span<std::uint8_t>, std::size_t size) {
    if (to == group) last_beacon[n] = c.now();
    return size;
  };
  c.start_all();
  ASSERT_NO_FATAL_FAILURE(converge_then_partition(c, kNodes));
  const TimeNs healed_at = c.now();
  c.network().heal();
  // The first beacon after the heal: one node's period comes round (within the hour).
  TimeNs first = 0;
  ASSERT_TRUE(c.run_until([&] {
    for (TimeNs t : last_beacon) if (t > healed_at) first = first ? std::min(first, t) : t;
    return first != 0;
  }, 2 * 3600 * kSec, 10 * kNsPerMs));
  ASSERT_TRUE(c.run_for(kSec));
  std::uint64_t answered = 0;
  for (std::size_t i = 0; i < kNodes; ++i) {
    EXPECT_GE(last_beacon[i], first) << "node " << i << " waited for its own period";
    EXPECT_LT(last_beacon[i], first + kSec) << "node " << i;
    answered += c.node(i).counters().beacons_answered;
  }
  EXPECT_GE(answered, kNodes - 1) << "all but the first sender answered";
  ASSERT_TRUE(c.run_until([&] { return c.converged(true) && c.agreed_coordinator(); }, 30 * kSec, 10 * kNsPerMs));
}

// While a partition lasts and beacons still come from the node's own side, nothing goes to
// the members held Dead on the other side once their dials have tried for
// reconnect_backoff_max_ms: on a real LAN each blind Hello put the host's neighbour entry
// back into INCOMPLETE, and a heal that found it there waited for the next ARP retransmit
// (up to 1 s) before either handshake could pass. Their beacons bring them back (the heal
// is asserted). Without beacons (seeds only) blind dials are the only way back and go on.
std::size_t datagrams_across_a_long_partition(Discovery discovery) {
  constexpr std::size_t kNodes = 8;
  Cluster c({.nodes = kNodes, .seed = 44, .discovery = discovery});
  std::vector<Address> odd = side(kNodes, 1);
  bool counting = false;
  std::size_t across = 0;
  c.on_send = [&](std::size_t n, const Address& to, std::span<std::uint8_t>, std::size_t size) {
    const bool to_odd = std::find(odd.begin(), odd.end(), to) != odd.end();
    if (counting && n % 2 == 0 && to_odd) ++across;
    return size;
  };
  c.start_all();
  // The other side goes Dead, and its dials try for reconnect_backoff_max_ms (2 s).
  converge_then_partition(c, kNodes);
  counting = true;
  EXPECT_TRUE(c.run_for(20 * kSec));
  counting = false;
  c.network().heal();
  EXPECT_TRUE(c.run_until([&] { return c.converged(true) && c.agreed_coordinator(); }, 60 * kSec, 10 * kNsPerMs))
      << "the halves did not reconnect";
  return across;
}

TEST(PartitionHeal, WithBeaconsNothingIsSentIntoAPartitionAfterTheDialsTried) {
  EXPECT_EQ(datagrams_across_a_long_partition(Discovery::Beacons), 0u);
}

TEST(PartitionHeal, WithSeedsOnlyBlindDialsGoOnIntoAPartition) {
  EXPECT_GT(datagrams_across_a_long_partition(Discovery::Seeds), 0u);
}

}  // namespace
}  // namespace hana::topology::test
