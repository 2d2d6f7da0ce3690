// Two nodes in two network namespaces joined by a veth pair, with nftables dropping a
// random share of UDP on each ingress (`meta l4proto udp numgen random mod 100 < N drop`).
// Needs root; skips with a message otherwise. Namespace and interface names carry the
// process id so parallel runs do not collide; the destructor always deletes them.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <thread>

#include "node_harness.h"

namespace hana::test {
namespace {

int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

class NetnsLab {
 public:
  NetnsLab(int loss_pct, int index) {
    const std::string id = std::to_string(::getpid() % 100000) + "x" + std::to_string(index);
    ns_a_ = "hana-" + id + "-a";
    ns_b_ = "hana-" + id + "-b";
    const std::string va = "hv" + id + "a", vb = "hv" + id + "b";
    if (sh("ip netns add " + ns_a_) != 0 || sh("ip netns add " + ns_b_) != 0) {
      error_ = "ip netns add failed (no CAP_SYS_ADMIN, or no iproute2)";
      return;
    }
    const bool ok =
        sh("ip link add " + va + " netns " + ns_a_ + " type veth peer name " + vb + " netns " + ns_b_) == 0 &&
        sh("ip -n " + ns_a_ + " addr add 10.77.0.1/24 dev " + va) == 0 &&
        sh("ip -n " + ns_b_ + " addr add 10.77.0.2/24 dev " + vb) == 0 &&
        sh("ip -n " + ns_a_ + " link set " + va + " up") == 0 && sh("ip -n " + ns_b_ + " link set " + vb + " up") == 0 &&
        sh("ip -n " + ns_a_ + " link set lo up") == 0 && sh("ip -n " + ns_b_ + " link set lo up") == 0;
    if (!ok) {
      error_ = "veth setup failed";
      return;
    }
    for (const auto& [ns, dev] : {std::pair{ns_a_, va}, std::pair{ns_b_, vb}}) {
      const std::string rules = "table netdev hana_loss { chain in { type filter hook ingress device " + dev +
                                " priority 0; meta l4proto udp numgen random mod 100 < " +
                                std::to_string(loss_pct) + " drop; }; }";
      if (sh("ip netns exec " + ns + " nft '" + rules + "'") != 0) {
        error_ = "nft ingress rule failed (nftables missing or netdev family unsupported)";
        return;
      }
    }
  }
  ~NetnsLab() {
    sh("ip netns del " + ns_a_);  // deleting a namespace deletes its veth end (and the pair)
    sh("ip netns del " + ns_b_);
  }
  const std::string& error() const { return error_; }

  // Creates and starts a node whose socket lives in `ns` (setns on a helper thread).
  static std::unique_ptr<Node> start_in(const std::string& ns, Address bind, const Config& config) {
    std::unique_ptr<Node> node;
    std::thread t([&] {
      const int fd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) return;
      ::close(fd);
      node = start_node(IoBackend::Auto, config, bind);
    });
    t.join();
    return node;
  }
  const std::string& a() const { return ns_a_; }
  const std::string& b() const { return ns_b_; }

 private:
  std::string ns_a_, ns_b_, error_;
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
