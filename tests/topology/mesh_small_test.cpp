// Mesh behaviour on small clusters in the simulator: join, messages, failure,
// coordinator, leave, restart, peer limit.
#include <gtest/gtest.h>

#include <map>

#include "topology/dialer.h"
#include "topology/sim/cluster.h"

namespace hana::topology::test {
namespace {

constexpr TimeNs kSec = kNsPerSec;

TEST(MeshSmall, SeedsJoinIntoOneConnectedView) {
  Cluster c({.nodes = 5, .seed = 3});
  std::map<std::size_t, int> ups;
  c.on_event = [&](std::size_t n, const MeshEvent& e, TimeNs) {
    if (std::holds_alternative<PeerUp>(e)) ++ups[n];
  };
  c.start_all();
  auto t = c.run_until([&] { return c.converged(); }, 5 * kSec);
  ASSERT_TRUE(t) << "no full view";
  for (std::size_t i = 0; i < c.size(); ++i) EXPECT_EQ(ups[i], 4) << i;
  auto coord = c.run_until([&] { return c.agreed_coordinator().has_value(); }, 2 * kSec);
  ASSERT_TRUE(coord);
  EXPECT_EQ(*c.agreed_coordinator(), Cluster::id(0));
  for (std::size_t i = 1; i < c.size(); ++i) {
    for (const auto& m : c.node(i).members())
      EXPECT_EQ(m.role, m.id == Cluster::id(0) ? Role::Coordinator : Role::Member) << i;
  }
  // A node joining later learns the role of the coordinator too.
  Cluster late({.nodes = 3, .seed = 4});
  late.start(0);
  late.start(1);
  ASSERT_TRUE(late.run_until([&] { return late.agreed_coordinator().has_value(); }, 2 * kSec));
  late.start(2);
  ASSERT_TRUE(late.run_until([&] { return late.converged() && late.agreed_coordinator(); }, 5 * kSec));
  ASSERT_NE(late.member(2, 0), nullptr);
  EXPECT_EQ(late.member(2, 0)->role, Role::Coordinator);
}

TEST(MeshSmall, BeaconsDiscoverEveryone) {
  Cluster c({.nodes = 8, .seed = 4, .discovery = Discovery::Beacons});
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kSec));
  ASSERT_TRUE(c.run_until([&] { return c.agreed_coordinator().has_value(); }, 2 * kSec));
  EXPECT_EQ(*c.agreed_coordinator(), Cluster::id(0));
}

// A joiner's first beacons come at an eighth of the period (a beacon one receiver lost
// would otherwise cost that pair a whole period), then at the period.
TEST(MeshSmall, FirstBeaconsComeFasterThenAtThePeriod) {
  Cluster c({.nodes = 1, .seed = 6, .discovery = Discovery::Beacons});
  c.start_all();
  auto beacons = [&] { return c.node(0).counters().beacon_out; };
  // Default beacon_interval_ms 1000: the first and 3 more (kStartupBeacons) within 0.6 s,
  // where the period alone gives one...
  static_assert(kStartupBeacons == 3);
  ASSERT_TRUE(c.run_until([&] { return beacons() >= 4; }, 600 * kNsPerMs));
  const std::uint64_t early = beacons();
  // ...then one per period.
  ASSERT_TRUE(c.run_for(3 * kSec));
  EXPECT_GE(beacons() - early, 2u);
  EXPECT_LE(beacons() - early, 4u);
}

TEST(MeshSmall, NodesBoundToAnyAddressAreReachable) {
  for (auto discovery : {Discovery::Seeds, Discovery::Beacons}) {
    Cluster c({.nodes = 6, .seed = 11, .discovery = discovery, .unspecified_listen = true});
    c.start_all();
    ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kSec));
    for (const auto& m : c.node(3).members()) EXPECT_EQ(m.address, Cluster::address(c.index_of(m.id)));
  }
}

TEST(MeshSmall, SendAndBroadcastArrive) {
  Cluster c({.nodes = 4, .seed = 5});
  std::map<std::size_t, std::vector<std::string>> got;
  std::map<std::size_t, int> delivered;
  c.on_event = [&](std::size_t n, const MeshEvent& e, TimeNs) {
    if (auto* r = std::get_if<MessageReceived>(&e)) got[n].emplace_back(r->payload.begin(), r->payload.end());
    if (std::holds_alternative<MessageDelivered>(e)) ++delivered[n];
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kSec));
  const std::string hello = "hello";
  auto id = c.node(1).send(Cluster::id(2), protocol::Bytes(reinterpret_cast<const std::uint8_t*>(hello.data()), hello.size()), {}, c.now());
  ASSERT_TRUE(id.ok());
  const std::string all = "to-all";
  auto bid = c.node(0).broadcast(protocol::Bytes(reinterpret_cast<const std::uint8_t*>(all.data()), all.size()), {}, c.now());
  ASSERT_TRUE(bid.ok());
  c.after_call(1);
  c.after_call(0);
  ASSERT_TRUE(c.run_for(kSec));
  EXPECT_EQ(got[2], (std::vector<std::string>{"hello", "to-all"}));
  EXPECT_EQ(got[1], std::vector<std::string>{"to-all"});
  EXPECT_EQ(got[3], std::vector<std::string>{"to-all"});
  EXPECT_EQ(delivered[0], 3);
  EXPECT_EQ(delivered[1], 1);
  auto bad = c.node(1).send(999, {}, {}, c.now());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::UnknownPeer);
}

TEST(MeshSmall, KilledNodeDeclaredDeadEverywhereAndCoordinatorMoves) {
  Cluster c({.nodes = 6, .seed = 6});
  std::map<std::size_t, int> downs;
  c.on_event = [&](std::size_t n, const MeshEvent& e, TimeNs) {
    if (auto* d = std::get_if<PeerDown>(&e)) {
      EXPECT_EQ(d->peer, Cluster::id(0)) << "false positive at node " << n;
      ++downs[n];
    }
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged() && c.agreed_coordinator(); }, 5 * kSec));
  const auto term_before = c.node(1).term();
  c.kill(0);
  ASSERT_TRUE(c.run_until([&] { return c.all_see(0, MemberState::Dead); }, 5 * kSec));
  ASSERT_TRUE(c.run_until([&] { return c.agreed_coordinator() == Cluster::id(1); }, 2 * kSec));
  EXPECT_GT(c.node(3).term(), term_before);
  for (std::size_t i = 1; i < c.size(); ++i) EXPECT_EQ(downs[i], 1) << i;
}

TEST(MeshSmall, GracefulLeaveIsAnnounced) {
  Cluster c({.nodes = 4, .seed = 7});
  std::map<std::size_t, int> lefts, downs;
  c.on_event = [&](std::size_t n, const MeshEvent& e, TimeNs) {
    if (std::holds_alternative<PeerLeft>(e)) ++lefts[n];
    if (std::holds_alternative<PeerDown>(e)) ++downs[n];
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kSec));
  c.node(2).leave(c.now());
  c.after_call(2);
  ASSERT_TRUE(c.run_until([&] { return c.all_see(2, MemberState::Left); }, kSec));
  ASSERT_TRUE(c.run_for(2 * kSec));
  EXPECT_TRUE(c.all_see(2, MemberState::Left));
  for (std::size_t i : {0u, 1u, 3u}) {
    EXPECT_EQ(lefts[i], 1) << i;
    EXPECT_EQ(downs[i], 0) << i;
  }
}

TEST(MeshSmall, RestartedNodeComesBackAlive) {
  Cluster c({.nodes = 4, .seed = 8});
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kSec));
  c.kill(3);
  ASSERT_TRUE(c.run_until([&] { return c.all_see(3, MemberState::Dead); }, 5 * kSec));
  c.start(3);  // same id and address, new process
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 10 * kSec));
  EXPECT_GT(c.member(0, 3)->incarnation, 0u);
}

TEST(MeshSmall, PeerLimitRefusesTheExtraNode) {
  Config cfg;
  cfg.max_peers = 2;
  Cluster c({.nodes = 4, .seed = 9, .config = cfg});
  for (std::size_t i = 0; i < 3; ++i) c.start(i);
  ASSERT_TRUE(c.run_for(3 * kSec));
  EXPECT_EQ(c.node(0).members().size(), 2u);
  c.start(3);
  ASSERT_TRUE(c.run_for(3 * kSec));
  EXPECT_EQ(c.node(0).members().size(), 2u);
  EXPECT_GT(c.node(0).counters().refused_peer_limit, 0u);
  EXPECT_EQ(c.node(3).members().size(), 0u);
}

TEST(MeshSmall, DisplaysReachEveryNode) {
  Cluster c({.nodes = 3, .seed = 10});
  std::map<std::size_t, int> avail;
  c.on_event = [&](std::size_t n, const MeshEvent& e, TimeNs) {
    if (auto* d = std::get_if<DisplayAvailability>(&e))
      if (d->node == Cluster::id(1)) avail[n] += d->available ? 1 : -1;
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kSec));
  c.node(1).set_displays({{"wall-0", true, "3840x2160@60"}, {"wall-1", true, ""}}, c.now());
  c.after_call(1);
  ASSERT_TRUE(c.run_for(kSec));
  EXPECT_EQ(avail[0], 2);
  EXPECT_EQ(avail[2], 2);
  ASSERT_NE(c.member(0, 1), nullptr);
  ASSERT_EQ(c.member(0, 1)->displays.size(), 2u);
  EXPECT_EQ(c.member(0, 1)->displays[0].metadata, "3840x2160@60");
  c.node(1).set_displays({{"wall-0", false, "3840x2160@60"}, {"wall-1", true, ""}}, c.now());
  c.after_call(1);
  ASSERT_TRUE(c.run_for(kSec));
  EXPECT_EQ(avail[0], 1);
  EXPECT_FALSE(c.member(2, 1)->displays[0].available);
}

// Displays announced at start reach every node through the join sync; they turn
// unavailable when their owner is declared Dead or leaves, and available again when it
// restarts.
TEST(MeshSmall, DisplaysFollowTheirOwnerDownAndBack) {
  Cluster c({.nodes = 3, .seed = 11, .displays = {{"wall", true, "3840x2160@60"}}});
  std::map<std::pair<std::size_t, NodeId>, std::vector<bool>> seen;  // (viewer, owner) -> events
  c.on_event = [&](std::size_t n, const MeshEvent& e, TimeNs) {
    if (auto* d = std::get_if<DisplayAvailability>(&e)) {
      EXPECT_EQ(d->display_id, "wall");
      EXPECT_EQ(d->metadata, "3840x2160@60");
      seen[{n, d->node}].push_back(d->available);
    }
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kSec));
  ASSERT_TRUE(c.run_for(kSec));
  for (std::size_t v = 0; v < 3; ++v) {
    for (std::size_t o = 0; o < 3; ++o) {
      if (v == o) continue;
      EXPECT_EQ((seen[{v, Cluster::id(o)}]), (std::vector<bool>{true})) << v << " sees " << o;
    }
  }
  ASSERT_EQ(c.member(0, 2)->displays.size(), 1u);
  EXPECT_TRUE(c.member(0, 2)->displays[0].available);
  // Names travel with the Alive records, also to a node that met the member by handshake.
  for (std::size_t v = 0; v < 3; ++v) {
    for (std::size_t o = 0; o < 3; ++o) {
      if (v != o) {
        EXPECT_EQ(c.member(v, o)->name, "n" + std::to_string(o)) << v << " sees " << o;
      }
    }
  }

  c.kill(2);
  ASSERT_TRUE(c.run_until([&] { return c.all_see(2, MemberState::Dead); }, 5 * kSec));
  for (std::size_t v : {0u, 1u}) EXPECT_EQ((seen[{v, Cluster::id(2)}]), (std::vector<bool>{true, false})) << v;
  EXPECT_FALSE(c.member(1, 2)->displays[0].available);

  c.start(2);  // a new process: new incarnation, same displays
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 10 * kSec));
  ASSERT_TRUE(c.run_for(kSec));
  for (std::size_t v : {0u, 1u}) EXPECT_EQ((seen[{v, Cluster::id(2)}]), (std::vector<bool>{true, false, true})) << v;
  EXPECT_TRUE(c.member(0, 2)->displays[0].available);

  c.node(1).leave(c.now());
  c.after_call(1);
  ASSERT_TRUE(c.run_until([&] { return c.all_see(1, MemberState::Left); }, kSec));
  for (std::size_t v : {0u, 2u}) EXPECT_EQ((seen[{v, Cluster::id(1)}].back()), false) << v;
}

}  // namespace
}  // namespace hana::topology::test
