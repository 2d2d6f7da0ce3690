// Discovery options that cannot work are refused by Node::create with InvalidArgument
// (and a message saying why), before any socket exists; options that can work are
// accepted. Interface names, indexes and addresses resolve through hana/interface.h.
// Needs no root: only `lo` is named.
#include <gtest/gtest.h>

#include <net/if.h>

#include <string>

#include "hana/interface.h"
#include "hana/node.h"

namespace hana::test {
namespace {

Address v6(const char* text) { return *Address::parse(text); }

NodeOptions discovery(Address bind, std::optional<Address> group, std::string interface = {}) {
  NodeOptions o;
  o.bind = bind;
  o.beacon_target = group;
  o.beacon_interface = std::move(interface);
  o.log.level = LogLevel::Off;
  return o;
}

// The reason create() refused `o`, or "" when it accepted it.
std::string refusal(const NodeOptions& o) {
  auto n = Node::create(Config{}, o);
  if (n) return "";
  EXPECT_EQ(n.error().code, Errc::InvalidArgument) << n.error().message;
  return n.error().message;
}

const Address kAny4 = Address::ipv4(0, 0, 0, 0, 0);
const Address kAny6 = v6("[::]:0");

TEST(DiscoveryOptions, GroupMustBeAGroupWithAPort) {
  EXPECT_NE(refusal(discovery(kAny4, Address::ipv4(10, 1, 2, 3, 5000))), "") << "unicast, not a local broadcast";
  EXPECT_NE(refusal(discovery(kAny6, v6("[2001:db8::1]:5000"))), "") << "IPv6 unicast";
  EXPECT_NE(refusal(discovery(kAny4, Address::ipv4(239, 1, 2, 3, 0))), "") << "port 0";
  EXPECT_NE(refusal(discovery(kAny6, v6("[ff15::1]:0"))), "") << "port 0";
  EXPECT_NE(refusal(discovery(kAny4, Address::ipv4(240, 0, 0, 1, 5000))), "") << "class E is not multicast";
  EXPECT_EQ(refusal(discovery(kAny4, Address::ipv4(239, 1, 2, 3, 5000))), "");
  EXPECT_EQ(refusal(discovery(kAny4, Address::ipv4(255, 255, 255, 255, 5000))), "");
  EXPECT_EQ(refusal(discovery(kAny6, v6("[ff15::4e41]:5000"))), "") << "site-scope group: the kernel picks the interface";
}

TEST(DiscoveryOptions, GroupAndBindMustShareAFamily) {
  const std::string six_on_four = refusal(discovery(Address::ipv4(127, 0, 0, 1, 0), v6("[ff15::1]:5000")));
  EXPECT_NE(six_on_four.find("IPv6 bind"), std::string::npos) << six_on_four;
  const std::string four_on_six = refusal(discovery(kAny6, Address::ipv4(239, 1, 2, 3, 5000)));
  EXPECT_NE(four_on_six.find("IPv4 bind"), std::string::npos) << four_on_six;
}

TEST(DiscoveryOptions, LinkLocalGroupNeedsAnInterface) {
  const std::string why = refusal(discovery(kAny6, v6("[ff02::4e41]:5000")));
  EXPECT_NE(why.find("beacon_interface"), std::string::npos) << why;
  EXPECT_EQ(refusal(discovery(kAny6, v6("[ff02::4e41]:5000"), "lo")), "");
  // A scope in the group itself names the interface too.
  Address scoped = v6("[ff02::4e41]:5000");
  scoped.scope_id = ::if_nametoindex("lo");
  EXPECT_EQ(refusal(discovery(kAny6, scoped)), "");
}

TEST(DiscoveryOptions, InterfaceByNameIndexOrAddress) {
  const std::uint32_t lo = ::if_nametoindex("lo");
  ASSERT_NE(lo, 0u);
  const Address group = Address::ipv4(239, 1, 2, 3, 5000);
  for (const std::string& spec : {std::string("lo"), std::to_string(lo), std::string("127.0.0.1"), std::string("::1")}) {
    EXPECT_EQ(refusal(discovery(kAny4, group, spec)), "") << spec;
    auto index = interface_index(spec);
    ASSERT_TRUE(index) << spec;
    EXPECT_EQ(*index, lo) << spec;
  }
  for (const char* bad : {"no-such-if9", "999999", "192.0.2.55", "0", "a-name-longer-than-ifnamsiz", ""}) {
    EXPECT_FALSE(interface_index(bad)) << bad;
    if (*bad) {
      EXPECT_NE(refusal(discovery(kAny4, group, bad)), "") << bad;
    }
  }
}

TEST(DiscoveryOptions, InterfaceOnlyWithAMulticastGroup) {
  EXPECT_NE(refusal(discovery(kAny4, std::nullopt, "lo")), "") << "an interface without a group";
  const std::string why = refusal(discovery(kAny4, Address::ipv4(255, 255, 255, 255, 5000), "lo"));
  EXPECT_NE(why.find("broadcast"), std::string::npos) << why;
}

TEST(DiscoveryOptions, LinkLocalBindNeedsItsScopeAndAgreesWithTheInterface) {
  NodeOptions o = discovery(v6("[fe80::1]:0"), std::nullopt);
  EXPECT_NE(refusal(o), "") << "link-local bind without a scope";
  Address bind = v6("[fe80::1]:0");
  bind.scope_id = ::if_nametoindex("lo");
  // A different interface than the bound one cannot be used from that socket.
  const std::uint32_t other = bind.scope_id + 100000;
  Address group = v6("[ff02::4e41]:5000");
  group.scope_id = other;
  EXPECT_NE(refusal(discovery(bind, group)), "");
  EXPECT_EQ(refusal(discovery(bind, v6("[ff02::4e41]:5000"))), "") << "the bind's interface is the group's";
}

TEST(DiscoveryOptions, ParseAddressResolvesScopeNames) {
  const auto a = parse_address("[fe80::1%lo]:7000");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->scope_id, ::if_nametoindex("lo"));
  EXPECT_EQ(a->port, 7000);
  EXPECT_EQ(parse_address("[fe80::1%1]:7000"), Address::parse("[fe80::1%1]:7000"));
  EXPECT_EQ(parse_address("127.0.0.1:9"), Address::parse("127.0.0.1:9"));
  EXPECT_FALSE(parse_address("[fe80::1%no-such-if9]:7000"));
  EXPECT_FALSE(parse_address("[fe80::1%lo]"));
  EXPECT_FALSE(parse_address("[2001:db8::1%lo]:7000"));
}

}  // namespace
}  // namespace hana::test
