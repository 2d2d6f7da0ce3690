// Two nodes in two network namespaces joined by a veth pair, with nftables dropping a
// random share of UDP on each ingress (`meta l4proto udp numgen random mod 100 < N drop`).
// Needs root; skips with a message otherwise. Namespace and interface names carry the
// process id so parallel runs do not collide; the destructor always deletes them.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <set>
#include <string>

#include "netns_harness.h"
#include "node_harness.h"

namespace hana::test {
namespace {

// The loss lab: the shared veth pair (netns_harness.h) with IPv4 addresses and nftables
// dropping loss_pct % of UDP on each ingress.
class NetnsLab {
 public:
  NetnsLab(int loss_pct, int index) : pair_("x", index) {
    if (!pair_.ip(a(), "addr add 10.77.0.1/24 dev " + pair_.dev_a(), "veth address setup failed") ||
        !pair_.ip(b(), "addr add 10.77.0.2/24 dev " + pair_.dev_b(), "veth address setup failed"))
      return;
    for (const auto& [ns, dev] : {std::pair{a(), pair_.dev_a()}, std::pair{b(), pair_.dev_b()}}) {
      const std::string rules = "table netdev hana_loss { chain in { type filter hook ingress device " + dev +
                                " priority 0; meta l4proto udp numgen random mod 100 < " +
                                std::to_string(loss_pct) + " drop; }; }";
      if (sh("ip netns exec " + ns + " nft '" + rules + "'") != 0) {
        pair_.set_error("nft ingress rule failed (nftables missing or netdev family unsupported)");
        return;
      }
    }
  }
  const std::string& error() const { return pair_.error(); }

  // Creates and starts a node whose socket lives in `ns`.
  static std::unique_ptr<Node> start_in(const std::string& ns, Address bind, const Config& config) {
    NodeOptions o;
    o.bind = bind;
    o.log.level = LogLevel::Off;
    return start_node_in(ns, std::move(o), config);
  }
  const std::string& a() const { return pair_.a(); }
  const std::string& b() const { return pair_.b(); }

 private:
  VethPair pair_;
};

TEST(Netns, ReliableMessagesArriveExactlyOnceInOrderUnderRandomLoss) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces, a veth pair and nftables rules";
  constexpr int kLossPct = 5;
  NetnsLab lab(kLossPct, 0);
  if (!lab.error().empty()) GTEST_SKIP() << "loss lab unavailable: " << lab.error();
  Config c;
  // Without GSO: a veth carries a GSO batch as one skb to the peer's ingress hook, so nft
  // would drop whole batches of up to 16 datagrams instead of single datagrams.
  c.gso = false;
  auto a = NetnsLab::start_in(lab.a(), Address::ipv4(10, 77, 0, 1, 0), c);
  auto b = NetnsLab::start_in(lab.b(), Address::ipv4(10, 77, 0, 2, 0), c);
  ASSERT_TRUE(a && b);
  const auto ids = connect_pair(*a, *b);
  const NodeId b_id = ids.first;
  ASSERT_NE(b_id, 0u) << "no connection across the veth";
  constexpr std::uint32_t kCount = 400;
  std::set<MessageId> accepted;
  for (std::uint32_t i = 0; i < kCount; ++i) {
    std::uint8_t payload[1000] = {};  // one message per datagram: about 400 datagrams face the loss
    std::memcpy(payload, &i, 4);
    auto r = a->send(b_id, Lane::High, payload);
    ASSERT_TRUE(r.ok());
    accepted.insert(*r);
  }
  std::vector<std::uint32_t> got;
  pump_until(*b,
             [&](Event& e) {
               if (e.kind != EventKind::Received) return;
               std::uint32_t seq;
               std::memcpy(&seq, e.payload.bytes().data(), 4);
               got.push_back(seq);
             },
             [&] { return got.size() >= kCount; }, 30 * kNsPerSec);
  ASSERT_EQ(got.size(), kCount);
  for (std::uint32_t i = 0; i < kCount; ++i) EXPECT_EQ(got[i], i);
  std::set<MessageId> delivered;
  pump_until(*a, [&](Event& e) { if (e.kind == EventKind::Delivered) delivered.insert(e.id); },
             [&] { return delivered.size() >= accepted.size(); }, 30 * kNsPerSec);
  EXPECT_EQ(delivered, accepted);
  // The loss was real: the sender had to repair it.
  const NodeStats s = a->stats();
  ASSERT_EQ(s.peers.size(), 1u);
  EXPECT_GT(s.peers[0].connection.retransmits + s.peers[0].connection.packets_lost, 0u)
      << "packets sent " << s.peers[0].connection.packets_sent;
}

}  // namespace
}  // namespace hana::test
