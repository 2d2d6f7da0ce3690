// Nodes with transport = tcp (issue 17), both backends: every datagram between them rides
// one TCP stream (no UDP datagram leaves either node), reliable messages on every lane
// arrive exactly once and in order with the connection's own repair off, and the failure
// detector's probes over the stream still find a silent peer.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "lane_messages.h"
#include "node_harness.h"

namespace hana::test {
namespace {

Config forced_tcp(Config c) {
  c.transport = 2;
  return c;
}

class TcpNodeTest : public ::testing::TestWithParam<IoBackend> {};

TEST_P(TcpNodeTest, EveryLaneExactlyOnceInOrderOverTheStream) {
  const Config c = forced_tcp(patient_failure_detection());
  auto a = start_node(GetParam(), c);
  auto b = start_node(GetParam(), c);
  ASSERT_TRUE(a && b);
  const auto [b_id, a_id] = connect_pair(*a, *b);
  ASSERT_NE(b_id, 0u);
  ASSERT_NE(a_id, 0u);
  constexpr std::uint32_t kPerLane = 300;
  std::set<MessageId> accepted;
  for (std::uint32_t seq = 0; seq < kPerLane; ++seq) {
    for (std::uint8_t lane = 0; lane < kLaneCount; ++lane) {
      auto r = a->send(b_id, static_cast<Lane>(lane), lane_message(lane, seq));
      ASSERT_TRUE(r.ok());
      accepted.insert(*r);
    }
  }
  LaneOrder order;
  pump_until(*b, [&](Event& e) { order.take(e); }, [&] { return order.received >= kPerLane * kLaneCount; },
             30 * kNsPerSec);
  EXPECT_EQ(order.received, kPerLane * kLaneCount);
  EXPECT_EQ(order.out_of_order, 0u);
  SendOutcomes outcomes;
  pump_until(*a, [&](Event& e) { outcomes.take(e); }, [&] { return outcomes.settled(accepted.size()); },
             30 * kNsPerSec);
  EXPECT_EQ(outcomes.delivered, accepted);
  EXPECT_EQ(outcomes.failed, 0u);
  // Over the stream only: no UDP datagram left either node, and no repair was needed.
  const NodeStats sa = a->stats(), sb = b->stats();
  EXPECT_EQ(sa.engine_counter("datagrams_sent"), 0u);
  EXPECT_EQ(sb.engine_counter("datagrams_sent"), 0u);
  EXPECT_GT(sa.engine_counter("tcp_datagrams_sent"), 0u);
  EXPECT_GT(sb.engine_counter("tcp_datagrams_received"), 0u);
  ASSERT_EQ(sa.peers.size(), 1u);
  EXPECT_EQ(sa.peers[0].transport, Transport::Tcp);
}

TEST_P(TcpNodeTest, SilentPeerIsDeclaredDeadOverTheStream) {
  const Config c = forced_tcp(Config{});
  auto a = start_node(GetParam(), c);
  auto b = start_node(GetParam(), c);
  ASSERT_TRUE(a && b);
  const auto ids = connect_pair(*a, *b);
  ASSERT_NE(ids.first, 0u);
  // b goes silent: every datagram it sends, on its stream too, is dropped.
  ASSERT_TRUE(b->set("fault_loss_pct", "100").ok());
  (void)b->stats();  // a round trip through b's loop: the knob is applied
  bool down = false;
  pump_until(*a, [&](Event& e) { down |= e.kind == EventKind::PeerDisconnected && e.peer == ids.first; },
             [&] { return down; }, 15 * kNsPerSec);
  EXPECT_TRUE(down);
}

INSTANTIATE_TEST_SUITE_P(Backends, TcpNodeTest, ::testing::Values(IoBackend::Uring, IoBackend::Epoll), backend_name);

}  // namespace
}  // namespace hana::test
