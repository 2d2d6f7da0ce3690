// Hostile input from the LAN, unkeyed (issue 15, "Bounded under hostile input"): each
// probe an attacker ran against a mesh, replayed in the simulator against a converged
// cluster. Every test failed before the fix it names.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "hostile_datagrams.h"
#include "topology/sim/cluster.h"

namespace hana::topology::test {
namespace {

constexpr TimeNs kSec = 1'000'000'000;

// An attacker's host: not a node of the cluster, nothing answers there.
Address stranger(std::uint32_t n) {
  return Address::ipv4(10, 9, static_cast<std::uint8_t>(n / 250), static_cast<std::uint8_t>(n % 250 + 1),
                       static_cast<std::uint16_t>(9000 + n % 1000));
}

Cluster converged_cluster(std::size_t nodes) {
  ClusterOptions o;
  o.nodes = nodes;
  o.seed = 15;
  Cluster c(o);
  c.start_all();
  EXPECT_TRUE(c.run_until([&] { return c.converged() && c.agreed_coordinator(); }, 10 * kSec));
  return c;
}

// Beacons may trigger a dial, but nothing enters the view before a handshake completes:
// 300 well-formed beacons naming random ids at unreachable addresses add no member.
TEST(Hostile, BeaconsAddNoMembers) {
  Cluster c = converged_cluster(3);
  const std::size_t before = c.node(0).members().size();
  for (std::uint32_t n = 0; n < 300; ++n) {
    Beacon b;
    b.node = 0x7000'0000 + n * 7919;
    b.incarnation = 1;
    b.address = stranger(n);
    b.name = "ghost";
    c.node(0).on_datagram(stranger(n), beacon_datagram(b), c.now());
    c.after_call(0);
  }
  ASSERT_TRUE(c.run_for(5 * kSec));
  EXPECT_EQ(c.node(0).members().size(), before);
  EXPECT_TRUE(c.converged());
}

// Without a key, the role is decided only by members with a completed handshake: one
// connectionless GOSSIP datagram claiming COORDINATOR(id, term 1000) from a stranger, and
// a beacon following that claim, change nothing.
TEST(Hostile, StrangerCannotDecideTheRole) {
  Cluster c = converged_cluster(3);
  const auto coordinator = c.agreed_coordinator();
  ASSERT_TRUE(coordinator);
  const std::uint64_t term = c.node(0).term();
  Update claim;
  claim.kind = UpdateKind::Coordinator;
  claim.node = 0x6666;
  claim.number = 1000;
  Beacon b;
  b.node = 0x6666;
  b.incarnation = 1;
  b.address = stranger(1);
  b.term = 1000;
  b.coordinator_id = 0x6666;
  for (std::size_t i = 0; i < c.size(); ++i) {
    c.node(i).on_datagram(stranger(1), gossip_datagram(0x6666, {claim}), c.now());
    c.node(i).on_datagram(stranger(1), beacon_datagram(b), c.now());
    c.after_call(i);
  }
  ASSERT_TRUE(c.run_for(2 * kSec));
  EXPECT_EQ(c.agreed_coordinator(), coordinator);
  for (std::size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c.node(i).term(), term) << "node " << i;
}

// A node refused for the peer limit is told (a JoinRefused event naming the reason) and
// does not make itself coordinator of a one-node mesh.
TEST(Hostile, RefusedNodeIsToldAndClaimsNothing) {
  ClusterOptions o;
  o.nodes = 3;
  o.seed = 15;
  o.config.max_peers = 1;
  Cluster c(o);
  std::vector<JoinRefused> refusals;
  c.on_event = [&](std::size_t node, const MeshEvent& e, TimeNs) {
    if (const auto* j = std::get_if<JoinRefused>(&e); j && node == 2) refusals.push_back(*j);
  };
  c.start(0);
  c.start(1);
  ASSERT_TRUE(c.run_until([&] { return c.member(0, 1) && c.member(0, 1)->connected && c.agreed_coordinator(); }, 10 * kSec));
  c.start(2);  // seeded at node 0, whose view is full
  ASSERT_TRUE(c.run_until([&] { return !refusals.empty(); }, 10 * kSec));
  EXPECT_EQ(refusals[0].address, Cluster::address(0));
  EXPECT_EQ(refusals[0].reason, protocol::CloseReason::PeerLimit);
  ASSERT_TRUE(c.run_for(3 * kSec));  // well past election_delay_ms
  EXPECT_NE(c.node(2).coordinator(), std::optional<NodeId>(Cluster::id(2)));
  EXPECT_EQ(c.node(2).term(), 0u);
  EXPECT_EQ(refusals.size(), 1u);  // once per dial, not per retry
}

// A connection's datagrams count only from its member's address: the same datagram
// replayed from another source is dropped and counted (wrong_source).
TEST(Hostile, ConnectionDatagramFromAnotherSourceIsDropped) {
  ClusterOptions o;
  o.nodes = 2;
  o.seed = 15;
  Cluster c(o);
  std::vector<std::uint8_t> captured;
  c.on_send = [&](std::size_t node, const Address& to, std::span<std::uint8_t> buf, std::size_t size) {
    const auto d = protocol::decode_datagram(protocol::Bytes(buf.data(), size));
    if (node == 1 && to == Cluster::address(0) && d.datagram && d.datagram->header.connection_id != 0)
      captured.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(size));
    return size;
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged() && !captured.empty(); }, 10 * kSec));
  c.on_send = nullptr;
  const ConnectionStats* conn = c.node(0).peer_stats(Cluster::id(1));
  ASSERT_NE(conn, nullptr);
  const std::uint64_t seen = conn->packets_received + conn->duplicate_packets;
  for (std::uint32_t n = 0; n < 10; ++n) c.node(0).on_datagram(stranger(n), captured, c.now());
  c.after_call(0);
  conn = c.node(0).peer_stats(Cluster::id(1));
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(conn->packets_received + conn->duplicate_packets, seen);
  EXPECT_EQ(c.node(0).counters().wrong_source, 10u);
  ASSERT_TRUE(c.run_for(2 * kSec));
  EXPECT_TRUE(c.converged());
}

// One handshake bucket for everyone no more: a HELLO flood from many source ports of one
// host (20 per ms, ten times handshake_rate_per_sec) does not keep a legitimate node
// from joining.
TEST(Hostile, JoinSucceedsDuringHelloFlood) {
  ClusterOptions o;
  o.nodes = 3;
  o.seed = 15;
  Cluster c(o);
  c.start(0);
  c.start(1);
  ASSERT_TRUE(c.run_until([&] { return c.member(0, 1) && c.member(0, 1)->connected; }, 10 * kSec));
  protocol::HandshakeFrame hello;
  hello.kind = protocol::HandshakeKind::Hello;
  hello.incarnation = 1;
  // 20,000 Hellos per second, one every 50 us (a real flood is continuous: the joiner's
  // datagrams find no token left over between its batches).
  const auto flood_ms = [&](std::uint32_t ms, std::uint32_t& port) {
    for (std::uint32_t t = 0; t < ms * 20; ++t, ++port) {
      hello.node_id = 0x5000'0000 + port;
      hello.connection_id = port;
      c.node(0).on_datagram(Address::ipv4(10, 9, 0, 1, static_cast<std::uint16_t>(1024 + port % 60000)),
                            connectionless(hello), c.now());
      c.after_call(0);
      if (!c.run_for(50 * kNsPerUs)) return false;
    }
    return true;
  };
  std::uint32_t port = 0;
  ASSERT_TRUE(flood_ms(1000, port));  // the bucket is drained before the joiner comes
  c.start(2);
  TimeNs joined_after = 0;
  for (std::uint32_t waited = 0; waited < 5000 && !joined_after; waited += 10) {
    ASSERT_TRUE(flood_ms(10, port));
    if (c.member(0, 2) && c.member(0, 2)->connected) joined_after = (waited + 10) * kNsPerMs;
  }
  EXPECT_NE(joined_after, 0u) << "node 2 did not join within 5 s of flood";
  EXPECT_GT(c.node(0).counters().rate_limited, 0u);
  std::printf("joined after %llu ms of flood\n", static_cast<unsigned long long>(joined_after / kNsPerMs));
}

// Join-and-vanish churn: 60 nodes join a two-node mesh one after the other and crash.
// node 0's Dead records stay capped (max_dead_records) and its handshake datagrams per
// second stay bounded (dial_rate_per_sec).
TEST(Hostile, ChurnKeepsDeadRecordsAndRedialsBounded) {
  constexpr std::size_t kChurn = 60;
  constexpr std::uint32_t kMaxDead = 16;
  constexpr std::uint64_t kDialRate = 20;
  ClusterOptions o;
  o.nodes = 2 + kChurn;
  o.seed = 15;
  o.config.max_dead_records = kMaxDead;
  o.config.dial_rate_per_sec = kDialRate;
  Cluster c(o);
  const auto dead_records = [&] {
    std::size_t n = 0;
    for (const Member& m : c.node(0).members()) n += m.state == MemberState::Dead || m.state == MemberState::Left;
    return n;
  };
  std::size_t most_dead = 0;
  std::uint64_t most_dials_per_sec = 0;
  std::uint64_t dials_at = 0;
  TimeNs window_start = 0;
  const auto sample = [&] {
    most_dead = std::max(most_dead, dead_records());
    if (c.now() - window_start < kSec) return;
    const std::uint64_t dials = c.node(0).counters().handshake_out;
    most_dials_per_sec = std::max(most_dials_per_sec, (dials - dials_at) * kSec / (c.now() - window_start));
    dials_at = dials;
    window_start = c.now();
  };
  c.start(0);
  c.start(1);  // stays: node 0 keeps hearing someone, so its own health stays good
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 10 * kSec));
  dials_at = c.node(0).counters().handshake_out;
  window_start = c.now();
  for (std::size_t k = 2; k < c.size(); ++k) {
    c.start(k);
    ASSERT_TRUE(c.run_until([&] { return c.member(0, k) && c.member(0, k)->connected; }, 5 * kSec)) << "node " << k;
    c.kill(k);
    ASSERT_TRUE(c.run_for(100 * kNsPerMs));
    sample();
  }
  // Until every churned node is found Dead (bounded), sampling all along.
  for (int n = 0; n < 600 && c.node(0).members().size() > 1 + dead_records(); ++n) {
    ASSERT_TRUE(c.run_for(100 * kNsPerMs));
    sample();
  }
  for (int n = 0; n < 50; ++n) {  // then 5 s of redialling the Dead
    ASSERT_TRUE(c.run_for(100 * kNsPerMs));
    sample();
  }
  EXPECT_EQ(c.node(0).members().size(), 1 + dead_records()) << "a crashed node was never found Dead";
  // The cap, plus the few that can die between two reaps (every 50 ms).
  EXPECT_LE(most_dead, kMaxDead + 2);
  // Hello/HelloCookie within the rate (its one-second burst included), plus Retry/Accept answers to joiners.
  EXPECT_LE(most_dials_per_sec, 2 * kDialRate + 20);
  EXPECT_GT(c.node(0).counters().dead_records_evicted, 0u);
  std::printf("churn: most Dead records %zu, most handshake datagrams/s %llu, evicted %llu, dials deferred %llu\n", most_dead,
              static_cast<unsigned long long>(most_dials_per_sec),
              static_cast<unsigned long long>(c.node(0).counters().dead_records_evicted),
              static_cast<unsigned long long>(c.node(0).counters().dials_deferred));
}

}  // namespace
}  // namespace hana::topology::test
