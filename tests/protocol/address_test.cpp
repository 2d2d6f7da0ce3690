// hana::Address text form and IPv6 scopes (pure text: no interface lookups here).
#include <gtest/gtest.h>

#include <unordered_set>

#include "hana/address.h"

namespace hana {
namespace {

TEST(Address, ParsesANumericIpv6ScopeAndPrintsItBack) {
  const auto a = Address::parse("[fe80::1%3]:7000");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->family, 6);
  EXPECT_EQ(a->scope_id, 3u);
  EXPECT_EQ(a->port, 7000);
  EXPECT_EQ(a->to_string(), "[fe80::1%3]:7000");
  EXPECT_EQ(Address::parse(a->to_string()), a);
  const auto group = Address::parse("[ff02::4e41%12]:1");
  ASSERT_TRUE(group);
  EXPECT_EQ(group->scope_id, 12u);
}

TEST(Address, RejectsScopesThatCannotBeRight) {
  EXPECT_FALSE(Address::parse("[fe80::1%]:7000"));
  EXPECT_FALSE(Address::parse("[fe80::1%0]:7000"));
  EXPECT_FALSE(Address::parse("[fe80::1%-1]:7000"));
  EXPECT_FALSE(Address::parse("[fe80::1%eth0]:7000")) << "names need hana::parse_address (engine)";
  EXPECT_FALSE(Address::parse("[2001:db8::1%3]:7000")) << "a global address has no scope";
  EXPECT_FALSE(Address::parse("[ff05::1%3]:7000")) << "a site-scope group has no interface scope";
  EXPECT_FALSE(Address::parse("10.0.0.1%3:7000"));
}

TEST(Address, ScopeIsPartOfTheIdentity) {
  Address a = *Address::parse("[fe80::1%3]:7000");
  Address b = a;
  b.scope_id = 4;
  EXPECT_NE(a, b);
  std::unordered_set<Address, AddressHash> set{a, b};
  EXPECT_EQ(set.size(), 2u);
}

TEST(Address, MulticastAndScopeClassification) {
  EXPECT_TRUE(Address::ipv4(239, 1, 2, 3, 1).is_multicast());
  EXPECT_TRUE(Address::ipv4(224, 0, 0, 1, 1).is_multicast());
  EXPECT_FALSE(Address::ipv4(240, 0, 0, 1, 1).is_multicast());
  EXPECT_FALSE(Address::ipv4(10, 0, 0, 255, 1).is_multicast());
  EXPECT_TRUE(Address::parse("[ff02::1]:1")->is_multicast());
  EXPECT_TRUE(Address::parse("[ff15::1]:1")->is_multicast());
  EXPECT_FALSE(Address::parse("[fe80::1]:1")->is_multicast());

  EXPECT_TRUE(Address::parse("[fe80::1]:1")->needs_scope());
  EXPECT_TRUE(Address::parse("[febf::1]:1")->needs_scope());
  EXPECT_FALSE(Address::parse("[fec0::1]:1")->needs_scope());
  EXPECT_TRUE(Address::parse("[ff02::1]:1")->needs_scope());
  EXPECT_TRUE(Address::parse("[ff12::1]:1")->needs_scope()) << "transient flag, link scope";
  EXPECT_TRUE(Address::parse("[ff01::1]:1")->needs_scope());
  EXPECT_FALSE(Address::parse("[ff05::1]:1")->needs_scope());
  EXPECT_FALSE(Address::parse("[ff0e::1]:1")->needs_scope());
  EXPECT_FALSE(Address::parse("[::1]:1")->needs_scope());
  EXPECT_FALSE(Address::ipv4(169, 254, 0, 1, 1).needs_scope());
}

}  // namespace
}  // namespace hana
