// A keyed mesh (topology/auth.h): outsiders without the key or with another key are never
// admitted, counted, and leave no state; replayed datagrams are dropped and counted.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "topology/sim/cluster.h"
#include "test_identity.h"

namespace hana::topology::test {
namespace {

constexpr TimeNs kSec = kNsPerSec;

PresharedKey key_of(std::uint8_t first) {
  PresharedKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(first * 31 + i);
  return k;
}

Sealing sealing_with(const PresharedKey& key) {
  Sealing s;
  auto sealer = protocol::Sealer::create(std::vector<PresharedKey>{key});
  EXPECT_TRUE(sealer.ok());
  s.sealer = std::move(*sealer);
  s.salt[0] = key[0];
  return s;
}

// Every keyed node sees every other keyed node Alive and connected, and agrees on a coordinator.
bool keyed_converged(Cluster& c, const std::set<std::size_t>& outsiders) {
  std::optional<NodeId> coordinator;
  for (std::size_t v = 0; v < c.size(); ++v) {
    if (outsiders.count(v)) continue;
    for (std::size_t s = 0; s < c.size(); ++s) {
      if (s == v || outsiders.count(s)) continue;
      const Member* m = c.member(v, s);
      if (!m || m->state != MemberState::Alive || !m->connected) return false;
    }
    const auto mine = c.node(v).coordinator();
    if (!mine || (coordinator && *coordinator != *mine)) return false;
    coordinator = mine;
  }
  return true;
}

// Node `outsiders` hold another key or none; node 0 has the lowest id, so an outsider
// there would win the election if it were admitted.
void run_outsider_mesh(Discovery discovery, const std::set<std::size_t>& outsiders, std::size_t wrong_key,
                       std::size_t no_key) {
  ClusterOptions o{.nodes = 7, .seed = 21, .discovery = discovery};
  o.keys.assign(7, {key_of(1)});
  o.keys[wrong_key] = {key_of(2)};
  o.keys[no_key] = {};
  Cluster c(o);
  std::size_t outsider_ups = 0;
  c.on_event = [&](std::size_t n, const MeshEvent& e, TimeNs) {
    if (const auto* up = std::get_if<PeerUp>(&e); up && !outsiders.count(n) && outsiders.count(c.index_of(up->peer)))
      ++outsider_ups;
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return keyed_converged(c, outsiders); }, 10 * kSec)) << "keyed nodes did not converge";
  ASSERT_TRUE(c.run_for(5 * kSec));  // time for beacons, probes and redials of the outsiders
  EXPECT_TRUE(keyed_converged(c, outsiders));
  EXPECT_EQ(outsider_ups, 0u);
  for (std::size_t v = 0; v < c.size(); ++v) {
    if (outsiders.count(v)) continue;
    for (const auto& m : c.node(v).members()) EXPECT_FALSE(outsiders.count(c.index_of(m.id))) << v << " lists " << m.id;
    const auto coordinator = c.node(v).coordinator();
    ASSERT_TRUE(coordinator);
    EXPECT_FALSE(outsiders.count(c.index_of(*coordinator))) << "an outsider coordinates node " << v;
  }
  // The outsiders knocked (seeds, beacons or redials), and the keyed side counted it.
  std::uint64_t failures = 0;
  for (std::size_t v = 0; v < c.size(); ++v)
    if (!outsiders.count(v)) failures += c.node(v).counters().auth_failures;
  EXPECT_GT(failures, 0u);
  // Outsiders see no keyed node either.
  for (std::size_t v : outsiders)
    for (const auto& m : c.node(v).members()) EXPECT_TRUE(outsiders.count(c.index_of(m.id))) << v;
}

TEST(MeshAuth, OutsidersFoundByBeaconsAreNeverAdmitted) {
  run_outsider_mesh(Discovery::Beacons, {0, 1}, 0, 1);
}

TEST(MeshAuth, OutsidersSeededAtTheMeshAreNeverAdmitted) {
  // Seeds: every node but 0 dials node 0, which is keyed.
  run_outsider_mesh(Discovery::Seeds, {1, 2}, 1, 2);
}

TEST(MeshAuth, UnsealedHelloCreatesNoStateAndIsCounted) {
  const Config config;
  Mesh keyed(config, identity_at(2, 2), 2, 0, sealing_with(key_of(1)));
  Mesh plain(config, identity_at(1, 1), 1, 0);
  Mesh other(config, identity_at(3, 3), 3, 0, sealing_with(key_of(2)));
  std::vector<std::uint8_t> buf(2048);
  for (Mesh* from : {&plain, &other}) {
    ASSERT_TRUE(from->add_seed(Address::ipv4(10, 0, 0, 2, 7000), 0).ok());
    auto t = from->poll_transmit(buf, 0);
    ASSERT_TRUE(t);
    EXPECT_EQ(keyed.on_datagram(Address::ipv4(10, 0, 0, 1, 7000), protocol::Bytes(buf.data(), t->size), 1),
              DatagramVerdict::Unauthenticated);
  }
  EXPECT_EQ(keyed.counters().auth_failures, 2u);
  EXPECT_TRUE(keyed.members().empty());
  EXPECT_FALSE(keyed.poll_transmit(buf, 2)) << "no RETRY or refusal goes back to an outsider";
}

TEST(MeshAuth, ReplayedDatagramsThroughTheNetworkAreDropped) {
  ClusterOptions o{.nodes = 3, .seed = 5};
  o.keys.assign(3, {key_of(1)});
  Cluster c(o);
  // Record datagrams node 1 sends to node 0, connectionless and connection ones.
  std::vector<std::uint8_t> connectionless, connection;
  bool record = false;
  c.on_send = [&](std::size_t from, const Address& to, std::span<std::uint8_t> b, std::size_t n) {
    if (record && from == 1 && to == Cluster::address(0)) {
      const bool cid_zero = b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] == 0;
      auto& slot = cid_zero ? connectionless : connection;
      if (slot.empty()) slot.assign(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    }
    return n;
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kSec));
  ASSERT_TRUE(c.node(1).send(Cluster::id(0), std::vector<std::uint8_t>{1, 2, 3}, {}, c.now()).ok());
  record = true;
  ASSERT_TRUE(c.run_until([&] { return !connectionless.empty() && !connection.empty(); }, 5 * kSec));
  record = false;
  ASSERT_TRUE(c.run_for(kSec));
  const std::uint64_t before = c.node(0).counters().replays_dropped;
  EXPECT_EQ(before, 0u);
  // An attacker on the wire sends both again, now and after the freshness window.
  c.network().send(Cluster::address(1), Cluster::address(0), connectionless, c.now());
  c.network().send(Cluster::address(1), Cluster::address(0), connection, c.now());
  ASSERT_TRUE(c.run_until([&] { return c.node(0).counters().replays_dropped == before + 2; }, kSec));
  ASSERT_TRUE(c.run_for(kFreshnessWindowUs * kNsPerUs + kSec));
  const std::uint64_t later = c.node(0).counters().replays_dropped;
  c.network().send(Cluster::address(1), Cluster::address(0), connectionless, c.now());
  ASSERT_TRUE(c.run_until([&] { return c.node(0).counters().replays_dropped == later + 1; }, kSec));
  EXPECT_EQ(c.node(0).counters().auth_failures, 0u);
  EXPECT_TRUE(c.converged());
}

TEST(ReplayCache, RemembersRecentCountersPerSender) {
  ReplayCache cache;
  protocol::SealOrigin a{.key_id = 7, .salt = {1}, .counter = 100};
  protocol::SealOrigin b{.key_id = 7, .salt = {2}, .counter = 100};
  EXPECT_TRUE(cache.first_sight(a));
  EXPECT_FALSE(cache.first_sight(a));
  EXPECT_TRUE(cache.first_sight(b)) << "another sender's counter 100";
  a.counter = 90;  // older but new: reordered, still taken
  EXPECT_TRUE(cache.first_sight(a));
  EXPECT_FALSE(cache.first_sight(a));
  for (std::uint64_t n = 200; n < 200 + ReplayCache::kRecent; ++n) {
    a.counter = n;
    EXPECT_TRUE(cache.first_sight(a));
  }
  a.counter = 150;  // older than every counter remembered of a full window: cannot tell, dropped
  EXPECT_FALSE(cache.first_sight(a));
}

}  // namespace
}  // namespace hana::topology::test
