// Path-MTU discovery (protocol/pmtu_prober.h): the prober's search on its own, and two
// connections over a wire with Ethernet's MTU, where the probes larger than it are
// refused and the connection settles on the 1500-byte size without counting them lost.
#include <gtest/gtest.h>

#include "pair.h"
#include "protocol/pmtu_prober.h"

namespace hana::protocol::test {
namespace {

constexpr std::size_t kIpv4Udp = 28;

TEST(PmtuProber, ProbesNothingUntilAMessageNeedsMoreThanOneDatagram) {
  PmtuProber p;
  p.configure(1452, 65507, kIpv4Udp);
  EXPECT_EQ(p.current(), 1452u);
  EXPECT_EQ(p.probe_due(0), 0u);
  p.want();
  EXPECT_EQ(p.probe_due(0), 65507u) << "loopback's 65536 less IPv4 and UDP, within the cap";
}

TEST(PmtuProber, LostProbesMoveToTheNextLinkMtuAndAnAckSettlesIt) {
  PmtuProber p;
  p.configure(1452, 65507, kIpv4Udp);
  p.want();
  for (std::size_t i = 0; i < PmtuProber::kMaxProbes; ++i) {
    ASSERT_EQ(p.probe_due(0), 65507u);
    p.on_sent(65507);
    EXPECT_EQ(p.probe_due(0), 0u) << "one probe at a time";
    p.on_lost(65507, 0);
  }
  ASSERT_EQ(p.probe_due(0), 9000u - kIpv4Udp) << "jumbo frames next";
  p.on_sent(9000 - kIpv4Udp);
  EXPECT_TRUE(p.on_acked(9000 - kIpv4Udp, 5));
  EXPECT_EQ(p.current(), 9000u - kIpv4Udp);
  EXPECT_EQ(p.probe_due(10), 0u) << "smaller candidates are not worth a probe";
  p.configure(1452, 65507, kIpv4Udp);  // a runtime knob change reconfigures every connection
  EXPECT_EQ(p.probe_due(11), 0u) << "the same configuration must not start the search again";
  EXPECT_EQ(p.current(), 9000u - kIpv4Udp);
  EXPECT_EQ(p.probes_sent(), 4u);
  EXPECT_EQ(p.probes_lost(), 3u);
  // The raise timer: the largest candidate is tried again, the confirmed size is kept.
  EXPECT_EQ(p.probe_due(5 + PmtuProber::kRaiseNs), 65507u);
  p.on_sent(65507);
  p.on_lost(65507, 6 + PmtuProber::kRaiseNs);
  EXPECT_EQ(p.current(), 9000u - kIpv4Udp);
}

TEST(PmtuProber, NothingLargerThanTheCapOrBelowTheBaseIsProbed) {
  PmtuProber p;
  p.configure(1452, 1452, kIpv4Udp);  // cap = base: discovery off
  p.want();
  EXPECT_EQ(p.probe_due(0), 0u);
  PmtuProber q;
  q.configure(1452, 4000, kIpv4Udp);
  q.want();
  EXPECT_EQ(q.probe_due(0), 4000u) << "65536 and 9000 capped to 4000: probed once";
  q.on_sent(4000);
  EXPECT_TRUE(q.on_acked(4000, 1));
  EXPECT_EQ(q.probe_due(2), 0u);
  EXPECT_EQ(q.probe_due(2 + PmtuProber::kRaiseNs), 0u) << "at the cap: nothing left to raise";
}

TEST(PathMtu, AConnectionSettlesOnTheLinkMtuAndItsProbesAreNotLosses) {
  Pair p;  // the wire refuses datagrams above 1472 bytes
  std::vector<MessageId> ids;
  for (std::uint64_t i = 0; i < 20; ++i) {
    auto id = p.a.send(bytes_of(i, 20'000), opts(Lane::Bulk), p.now);
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == ids.size(); }));
  EXPECT_EQ(p.count(p.ev_b, Ev::Kind::Received), ids.size());
  // The search goes on after the data (a refused probe is found lost by a later ack or
  // the probe timeout) until a size is confirmed.
  ASSERT_TRUE(p.run_until([&] { return p.a.stats().datagram_bytes != 1452; }));
  const ConnectionStats& s = p.a.stats();
  EXPECT_EQ(s.datagram_bytes, 1472u);
  EXPECT_EQ(s.pmtu_probes_lost, 2 * PmtuProber::kMaxProbes) << "65507 and 8972, three times each";
  EXPECT_EQ(s.pmtu_probes_sent, s.pmtu_probes_lost + 1);
  EXPECT_EQ(p.too_large, s.pmtu_probes_lost);
  EXPECT_EQ(s.packets_lost, 0u) << "a refused probe is not a lost packet";
  EXPECT_EQ(s.retransmits, 0u);
  EXPECT_EQ(p.b.stats().datagram_bytes, 1452u) << "b sent nothing that needed a larger datagram";
}

TEST(PathMtu, LargeDatagramsOnceTheWireCarriesThem) {
  Pair p;
  p.mtu_bytes = 65507;  // loopback
  const auto first = p.a.send(bytes_of(1, 200'000), opts(Lane::Bulk), p.now);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 1; }));
  EXPECT_EQ(p.a.stats().datagram_bytes, 65507u);
  const std::uint64_t packets_before = p.a.stats().packets_sent;
  const auto second = p.a.send(bytes_of(2, 200'000), opts(Lane::Bulk), p.now);
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 2; }));
  // 200 000 bytes in 64 KiB datagrams: 4 data packets (1452-byte ones would take 139).
  EXPECT_LE(p.a.stats().packets_sent - packets_before, 6u);
  ASSERT_EQ(p.count(p.ev_b, Ev::Kind::Received), 2u);
  EXPECT_EQ(p.ev_b[1].payload, bytes_of(2, 200'000));
}

}  // namespace
}  // namespace hana::protocol::test
