// Hostile input from the LAN, unkeyed (issue 15, "Bounded under hostile input"): each
// probe an attacker ran against a mesh, replayed in the simulator against a converged
// cluster. Every test failed before the fix it names.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace hana::topology::test
