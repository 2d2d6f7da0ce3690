// Discovery by multicast beacons: three nodes in a private network namespace, no seeds,
// only a beacon_target in 239/8, must all connect to each other. Needs root (it creates
// the namespace and a multicast route on its loopback); skips with a message otherwise.
// The namespace carries the process id and is always deleted.
#include <gtest/gtest.h>

#include <unistd.h>

#include <string>
#include <vector>

#include "engine/clock.h"
#include "hana/node.h"
#include "netns_harness.h"

namespace hana::test {
namespace {

class MulticastNetns {
 public:
  enum class Setup { MulticastRoute, NoMulticastRoute, Broadcast };
  explicit MulticastNetns(Setup setup = Setup::MulticastRoute)
      : name_("hana-mc-" + std::to_string(::getpid()) + (setup == Setup::MulticastRoute     ? ""
                                                         : setup == Setup::NoMulticastRoute ? "-noroute"
                                                                                            : "-bcast")) {
    if (sh("ip netns add " + name_) != 0) {
      error_ = "ip netns add failed (no CAP_SYS_ADMIN, or no iproute2)";
      return;
    }
    created_ = true;
    const std::string ip = "ip -n " + name_ + " ";
    if (sh(ip + "link set lo up") != 0) error_ = "ip link set lo up failed";
    if (setup == Setup::MulticastRoute &&
        (sh(ip + "link set lo multicast on") != 0 || sh(ip + "route add 224.0.0.0/4 dev lo") != 0))
      error_ = "loopback multicast setup in the namespace failed";
    // A veth pair inside the namespace gives a subnet with a broadcast address; the kernel
    // delivers local broadcasts to local sockets itself.
    if (setup == Setup::Broadcast &&
        (sh(ip + "link add hmc0 type veth peer name hmc1") != 0 ||
         sh(ip + "addr add 10.78.0.1/24 brd + dev hmc0") != 0 || sh(ip + "link set hmc0 up") != 0 ||
         sh(ip + "link set hmc1 up") != 0))
      error_ = "veth setup in the namespace failed";
  }
  ~MulticastNetns() {
    if (created_) sh("ip netns del " + name_);
  }
  const std::string& error() const { return error_; }

  // Creates and starts a node inside the namespace.
  std::unique_ptr<Node> start_node(NodeOptions options) const { return start_node_in(name_, std::move(options)); }

 private:
  std::string name_;
  std::string error_;
  bool created_ = false;
};


class MulticastDiscovery : public ::testing::TestWithParam<IoBackend> {};

// Starts three nodes with only `beacon_target` and checks each connects to the other two.
void expect_three_nodes_discover(const MulticastNetns& ns, IoBackend backend, Address bind, Address group) {
  constexpr int kNodes = 3;
  std::vector<std::unique_ptr<Node>> nodes;
  for (int i = 0; i < kNodes; ++i) {
    NodeOptions o;
    o.bind = bind;
    o.beacon_target = group;
    o.backend = backend;
    o.name = "mc" + std::to_string(i);
    o.log.level = LogLevel::Info;  // a discovery failure is then visible in the test log
    nodes.push_back(ns.start_node(std::move(o)));
    ASSERT_TRUE(nodes.back());
    ASSERT_EQ(nodes.back()->backend(), backend);
  }
  expect_full_mesh(nodes, 20 * kNsPerSec);
  for (auto& n : nodes) n->stop();
}

TEST_P(MulticastDiscovery, ThreeNodesWithoutSeedsFindEachOther) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates a network namespace with a multicast route on lo";
  MulticastNetns ns;
  if (!ns.error().empty()) GTEST_SKIP() << "multicast namespace unavailable: " << ns.error();
  expect_three_nodes_discover(ns, GetParam(), Address::ipv4(127, 0, 0, 1, 0), Address::ipv4(239, 77, 0, 7, 45'677));
}

TEST_P(MulticastDiscovery, ThreeNodesFindEachOtherBySubnetBroadcast) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates a network namespace with a dummy interface";
  MulticastNetns ns(MulticastNetns::Setup::Broadcast);
  if (!ns.error().empty()) GTEST_SKIP() << "broadcast namespace unavailable: " << ns.error();
  expect_three_nodes_discover(ns, GetParam(), Address::ipv4(10, 78, 0, 1, 0), Address::ipv4(10, 78, 0, 255, 45'679));
}

// Without a multicast route, joining the group fails: the node logs it and runs anyway
// (it can still be reached through seeds or connect()).
TEST_P(MulticastDiscovery, NodeStartsWhenTheGroupCannotBeJoined) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates a network namespace";
  MulticastNetns ns(MulticastNetns::Setup::NoMulticastRoute);
  if (!ns.error().empty()) GTEST_SKIP() << "namespace unavailable: " << ns.error();
  NodeOptions o;
  o.bind = Address::ipv4(127, 0, 0, 1, 0);
  o.beacon_target = Address::ipv4(239, 77, 0, 8, 45'678);
  o.backend = GetParam();
  o.log.level = LogLevel::Info;
  auto a = ns.start_node(o);
  o.beacon_target.reset();
  auto b = ns.start_node(o);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->running());
  ASSERT_TRUE(b->connect(a->local_address()).ok());
  NodeId a_at_b = 0;
  const TimeNs deadline = engine::monotonic_now_ns() + 10 * kNsPerSec;
  Event ev;
  for (long turn = 0; turn < 1'000'000 && a_at_b == 0 && engine::monotonic_now_ns() < deadline; ++turn) {
    Event other;
    (void)a->poll_event(other);  // keep a's queue drained
    if (b->wait_event(ev, 5 * kNsPerMs) && ev.kind == EventKind::PeerConnected) a_at_b = ev.peer;
  }
  EXPECT_EQ(a_at_b, a->id()) << "the node without discovery no longer accepts connections";
  a->stop();
  b->stop();
}

INSTANTIATE_TEST_SUITE_P(Backends, MulticastDiscovery, ::testing::Values(IoBackend::Uring, IoBackend::Epoll),
                         [](const ::testing::TestParamInfo<IoBackend>& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace hana::test
