// Discovery across a link: two network namespaces joined by a veth pair, two nodes in one
// and one in the other, no seeds, no multicast route; only a group and the interface to
// use. Covers IPv6 link-local groups (ff02::/16, which exist once per link and so need the
// interface) with link-local peer addresses, and IPv4 multicast with the interface named by
// its name. Needs root; skips with a message otherwise. Namespaces carry the process id
// and are always deleted.
#include <gtest/gtest.h>

#include <net/if.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "engine/clock.h"
#include "hana/interface.h"
#include "hana/node.h"
#include "netns_harness.h"

namespace hana::test {
namespace {

constexpr TimeNs kDiscoveryTimeoutNs = 20 * kNsPerSec;

// The index of `dev` as seen inside `ns` (indexes are per namespace).
std::uint32_t index_in(const std::string& ns, const std::string& dev) {
  std::uint32_t index = 0;
  (void)run_in_netns(ns, [&] { index = ::if_nametoindex(dev.c_str()); });
  return index;
}

struct Placement {
  const std::string* ns;
  NodeOptions options;
};

std::vector<std::unique_ptr<Node>> start_all(std::vector<Placement> placements, IoBackend backend) {
  std::vector<std::unique_ptr<Node>> nodes;
  for (std::size_t i = 0; i < placements.size(); ++i) {
    NodeOptions& o = placements[i].options;
    o.backend = backend;
    o.name = "veth" + std::to_string(i);
    o.log.level = LogLevel::Info;  // a discovery failure is then visible in the test log
    nodes.push_back(start_node_in(*placements[i].ns, o));
    if (!nodes.back()) return {};
  }
  return nodes;
}

class VethDiscovery : public ::testing::TestWithParam<IoBackend> {};

// Nodes bound to [::]:0 and told only the group and the interface name: beacons leave
// from each side's link-local address, and the peer on the other side must be reached at
// that address with its own interface as the scope.
TEST_P(VethDiscovery, Ipv6LinkLocalGroupWithOnlyTheInterface) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces and a veth pair";
  VethPair link("m6", static_cast<int>(GetParam()));
  link.ip(link.a(), "addr add fe80::a/64 dev " + link.dev_a() + " nodad", "IPv6 link-local address setup failed");
  link.ip(link.b(), "addr add fe80::b/64 dev " + link.dev_b() + " nodad", "IPv6 link-local address setup failed");
  if (!link.error().empty()) GTEST_SKIP() << "veth pair unavailable: " << link.error();
  const Address group = *Address::parse("[ff02::4e41:6]:45681");
  std::vector<Placement> at;
  for (const auto* ns : {&link.a(), &link.a(), &link.b()}) {
    NodeOptions o;
    o.bind = *Address::parse("[::]:0");
    o.beacon_target = group;
    o.beacon_interface = ns == &link.a() ? link.dev_a() : link.dev_b();
    at.push_back({ns, o});
  }
  auto nodes = start_all(at, GetParam());
  ASSERT_EQ(nodes.size(), 3u);
  const auto seen = expect_full_mesh(nodes, kDiscoveryTimeoutNs);
  // Across the veth each side is known by its link-local address, scoped to the local end.
  const Address a_at_b = seen[2].count(nodes[0]->id()) ? seen[2].at(nodes[0]->id()) : Address{};
  EXPECT_EQ(a_at_b.family, 6);
  EXPECT_EQ(a_at_b.ip, Address::parse("[fe80::a]:0")->ip) << a_at_b.to_string();
  EXPECT_EQ(a_at_b.scope_id, index_in(link.b(), link.dev_b())) << a_at_b.to_string();
  const Address b_at_a = seen[0].count(nodes[2]->id()) ? seen[0].at(nodes[2]->id()) : Address{};
  EXPECT_EQ(b_at_a.ip, Address::parse("[fe80::b]:0")->ip) << b_at_a.to_string();
  EXPECT_EQ(b_at_a.scope_id, index_in(link.a(), link.dev_a())) << b_at_a.to_string();
  for (auto& n : nodes) n->stop();
}

// Nodes bound to a link-local address (with its interface as the scope) and no
// beacon_interface: the group is joined on the bound address's interface.
TEST_P(VethDiscovery, Ipv6LinkLocalBindImpliesTheInterface) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces and a veth pair";
  VethPair link("l6", static_cast<int>(GetParam()));
  link.ip(link.a(), "addr add fe80::a/64 dev " + link.dev_a() + " nodad", "IPv6 link-local address setup failed");
  link.ip(link.b(), "addr add fe80::b/64 dev " + link.dev_b() + " nodad", "IPv6 link-local address setup failed");
  if (!link.error().empty()) GTEST_SKIP() << "veth pair unavailable: " << link.error();
  std::vector<Placement> at;
  for (const auto* ns : {&link.a(), &link.a(), &link.b()}) {
    const bool on_a = ns == &link.a();
    NodeOptions o;
    // The scope by name, resolved where the interface lives.
    const std::string bind = on_a ? "[fe80::a%" + link.dev_a() + "]:0" : "[fe80::b%" + link.dev_b() + "]:0";
    std::optional<Address> parsed;
    (void)run_in_netns(*ns, [&] { parsed = parse_address(bind); });
    ASSERT_TRUE(parsed) << bind;
    o.bind = *parsed;
    o.beacon_target = *Address::parse("[ff02::4e41:7]:45683");
    at.push_back({ns, o});
  }
  auto nodes = start_all(at, GetParam());
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[2]->local_address().scope_id, index_in(link.b(), link.dev_b()));
  (void)expect_full_mesh(nodes, kDiscoveryTimeoutNs);
  for (auto& n : nodes) n->stop();
}

// IPv4 with the interface given by name and no multicast route: without the interface the
// beacons would have no way out (IP_MULTICAST_IF) and the join no interface.
TEST_P(VethDiscovery, Ipv4GroupWithTheInterfaceByName) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces and a veth pair";
  VethPair link("m4", static_cast<int>(GetParam()));
  link.ip(link.a(), "addr add 10.79.0.1/24 dev " + link.dev_a(), "IPv4 address setup failed");
  link.ip(link.b(), "addr add 10.79.0.2/24 dev " + link.dev_b(), "IPv4 address setup failed");
  if (!link.error().empty()) GTEST_SKIP() << "veth pair unavailable: " << link.error();
  std::vector<Placement> at;
  for (const auto* ns : {&link.a(), &link.a(), &link.b()}) {
    const bool on_a = ns == &link.a();
    NodeOptions o;
    o.bind = on_a ? Address::ipv4(10, 79, 0, 1, 0) : Address::ipv4(10, 79, 0, 2, 0);
    o.beacon_target = Address::ipv4(239, 77, 0, 9, 45'682);
    o.beacon_interface = on_a ? link.dev_a() : link.dev_b();
    at.push_back({ns, o});
  }
  auto nodes = start_all(at, GetParam());
  ASSERT_EQ(nodes.size(), 3u);
  (void)expect_full_mesh(nodes, kDiscoveryTimeoutNs);
  for (auto& n : nodes) n->stop();
}

INSTANTIATE_TEST_SUITE_P(Backends, VethDiscovery, ::testing::Values(IoBackend::Uring, IoBackend::Epoll),
                         [](const ::testing::TestParamInfo<IoBackend>& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace hana::test
