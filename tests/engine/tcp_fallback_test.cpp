// The TCP path's automatic fallback (issue 17), both backends, with the fault injector
// standing in for a network that blocks UDP (fault_drop_udp: every UDP datagram a node
// sends or receives is dropped, its TCP streams pass): two nodes at default transport
// (auto) meet over their streams within the 3 s, and when UDP comes back the pair
// moves back to it under traffic with every reliable message exactly once and in order
// per lane; a keyed pair does both too.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "lane_messages.h"
#include "node_harness.h"

namespace hana::test {
namespace {

constexpr TimeNs kFallbackBoundNs = 3 * kNsPerSec;  // the bound, from the first attempt

Config udp_blocked(Config c) {
  c.fault_drop_udp = true;
  return c;
}

Transport transport_of(const NodeStats& s, NodeId peer) {
  for (const auto& p : s.peers)
    if (p.peer == peer) return p.transport;
  return Transport::Udp;
}

class TcpFallbackTest : public ::testing::TestWithParam<IoBackend> {};

TEST_P(TcpFallbackTest, PairMeetsOverTheStreamWhenUdpIsBlocked) {
  const Config c = udp_blocked(patient_failure_detection());
  auto a = start_node(GetParam(), c);
  auto b = start_node(GetParam(), c);
  ASSERT_TRUE(a && b);
  const TimeNs started = engine::monotonic_now_ns();
  ASSERT_TRUE(a->connect(b->local_address()).ok());
  NodeId b_id = 0;
  pump_until(*a, [&](Event& e) { if (e.kind == EventKind::PeerConnected) b_id = e.peer; },
             [&] { return b_id != 0; }, kFallbackBoundNs);
  ASSERT_NE(b_id, 0u) << "no connection over the stream within 3 s of the first attempt";
  EXPECT_LE(engine::monotonic_now_ns() - started, kFallbackBoundNs);
  NodeId a_id = 0;
  pump_until(*b, [&](Event& e) { if (e.kind == EventKind::PeerConnected) a_id = e.peer; },
             [&] { return a_id != 0; }, kConnectTimeoutNs);
  ASSERT_NE(a_id, 0u);

  // A message each way, over the stream.
  const std::vector<std::uint8_t> hello(32, 7);
  ASSERT_TRUE(a->send(b_id, Lane::High, hello).ok());
  bool got = false;
  pump_until(*b, [&](Event& e) { got |= e.kind == EventKind::Received && e.peer == a_id; }, [&] { return got; },
             kConnectTimeoutNs);
  EXPECT_TRUE(got);

  const NodeStats sa = a->stats(), sb = b->stats();
  EXPECT_EQ(transport_of(sa, b_id), Transport::Tcp);
  EXPECT_EQ(transport_of(sb, a_id), Transport::Tcp);
  EXPECT_GE(sa.mesh.tcp_fallbacks, 1u);
  EXPECT_GT(sa.engine_counter("tcp_datagrams_sent"), 0u);
  EXPECT_GT(sb.engine_counter("tcp_datagrams_received"), 0u);
  // UDP really was blocked: the fallback was needed, and nothing came in over UDP.
  EXPECT_GT(sa.engine_counter("fault_dropped"), 0u);
  EXPECT_EQ(sa.mesh.moved_to_udp, 0u);
}

TEST_P(TcpFallbackTest, MovesBackToUdpUnderTrafficExactlyOnceInOrder) {
  Config c = udp_blocked(patient_failure_detection());
  c.udp_probe_min_ms = 100;  // a short test: probe soon after UDP returns
  c.udp_probe_max_ms = 400;
  auto a = start_node(GetParam(), c);
  auto b = start_node(GetParam(), c);
  ASSERT_TRUE(a && b);
  const auto [b_id, a_id] = connect_pair(*a, *b);
  ASSERT_NE(b_id, 0u);
  ASSERT_NE(a_id, 0u);
  ASSERT_EQ(transport_of(a->stats(), b_id), Transport::Tcp);

  // a sends on every lane all along; UDP comes back a third of the way in. The pair
  // moves while messages are in flight on the stream; a keeps sending until both sides
  // are on UDP and kMinPerLane went per lane, so the move happens under traffic.
  constexpr std::uint32_t kMinPerLane = 600;
  constexpr std::uint32_t kMaxPerLane = 20'000;
  std::set<MessageId> accepted;
  LaneOrder order;
  auto take = [&](Event& e) { order.take(e); };
  bool unblocked = false, moved = false;
  std::uint32_t seq = 0;
  SendOutcomes outcomes;
  auto outcome = [&](Event& e) { outcomes.take(e); };
  const TimeNs deadline = engine::monotonic_now_ns() + 30 * kNsPerSec;
  Event ev;
  while (seq < kMaxPerLane && engine::monotonic_now_ns() < deadline && !(moved && seq >= kMinPerLane)) {
    for (std::uint8_t lane = 0; lane < kLaneCount; ++lane) {
      auto r = a->send(b_id, static_cast<Lane>(lane), lane_message(lane, seq));
      ASSERT_TRUE(r.ok());
      accepted.insert(*r);
    }
    ++seq;
    if (seq == kMinPerLane / 3 && !unblocked) {
      ASSERT_TRUE(a->set("fault_drop_udp", "false").ok());
      ASSERT_TRUE(b->set("fault_drop_udp", "false").ok());
      unblocked = true;
    }
    while (b->wait_event(ev, seq % 8 == 0 ? kNsPerMs : 0)) take(ev);
    while (a->poll_event(ev)) outcome(ev);
    if (unblocked && seq % 32 == 0)
      moved = transport_of(a->stats(), b_id) == Transport::Udp && transport_of(b->stats(), a_id) == Transport::Udp;
  }
  ASSERT_TRUE(moved) << "the pair did not move back to UDP";
  const std::uint32_t total = seq * kLaneCount;
  pump_until(*b, take, [&] { return order.received >= total; }, 30 * kNsPerSec);
  pump_until(*a, outcome, [&] { return outcomes.settled(accepted.size()); }, 30 * kNsPerSec);
  // Give a duplicate the chance to show: anything still in flight arrives now.
  pump_until(*b, take, [] { return false; }, 200 * kNsPerMs);
  EXPECT_EQ(order.received, total);
  EXPECT_EQ(order.out_of_order, 0u);
  for (std::size_t l = 0; l < kLaneCount; ++l) EXPECT_EQ(order.last[l], static_cast<std::int64_t>(seq) - 1) << "lane " << l;
  EXPECT_EQ(outcomes.failed, 0u);
  EXPECT_EQ(outcomes.delivered, accepted);
  const NodeStats sa = a->stats(), sb = b->stats();
  EXPECT_GE(sa.mesh.moved_to_udp + sb.mesh.moved_to_udp, 2u);
  EXPECT_GT(sa.engine_counter("datagrams_sent"), 0u);  // UDP carries the traffic now
}

// A keyed mesh (docs/security.md) over the TCP path: the streams carry the same sealed
// datagrams, the pair meets and talks over them, and the sealed UDP path probe's answer
// brings it back to UDP once UDP passes.
TEST_P(TcpFallbackTest, KeyedPairFallsBackAndReturns) {
  Config c = udp_blocked(patient_failure_detection());
  c.udp_probe_min_ms = 100;
  c.udp_probe_max_ms = 400;
  PresharedKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(0x5a + i);
  auto keyed = [&] {
    NodeOptions o = loopback_options(GetParam());
    o.keys = {key};
    return start_node_with(c, std::move(o));
  };
  auto a = keyed();
  auto b = keyed();
  ASSERT_TRUE(a && b);
  // Plain copies, not structured bindings: clang 14 (the TSan build) cannot capture those.
  const auto ids = connect_pair(*a, *b);
  const NodeId b_id = ids.first, a_id = ids.second;
  ASSERT_NE(b_id, 0u);
  ASSERT_NE(a_id, 0u);
  EXPECT_EQ(transport_of(a->stats(), b_id), Transport::Tcp);
  const std::vector<std::uint8_t> hello(48, 3);
  ASSERT_TRUE(a->send(b_id, Lane::Normal, hello).ok());
  bool got = false;
  pump_until(*b, [&](Event& e) { got |= e.kind == EventKind::Received && e.peer == a_id; }, [&] { return got; },
             kConnectTimeoutNs);
  EXPECT_TRUE(got);

  ASSERT_TRUE(a->set("fault_drop_udp", "false").ok());
  ASSERT_TRUE(b->set("fault_drop_udp", "false").ok());
  bool back = false;
  pump_until(*a, [](Event&) {}, [&] {
    back = transport_of(a->stats(), b_id) == Transport::Udp && transport_of(b->stats(), a_id) == Transport::Udp;
    return back;
  }, 10 * kNsPerSec);
  EXPECT_TRUE(back);
  const NodeStats sa = a->stats(), sb = b->stats();
  EXPECT_EQ(sa.mesh.auth_failures, 0u);
  EXPECT_EQ(sb.mesh.auth_failures, 0u);
  EXPECT_GE(sa.mesh.moved_to_udp, 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, TcpFallbackTest, ::testing::Values(IoBackend::Uring, IoBackend::Epoll), backend_name);

}  // namespace
}  // namespace hana::test
