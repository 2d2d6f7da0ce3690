// SendOptions::more (a burst queued without a loop turn each, sent by the next turn) and
// SendOptions::delivered_event (a message confirmed without a Delivered event). Shared
// threading: the epoll backend.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "node_harness.h"

namespace hana::test {
namespace {

SendOptions burst_options() {
  SendOptions o;
  o.lane = Lane::Bulk;
  o.delivery = Delivery::ReliableOrdered;
  o.more = true;
  return o;
}

std::uint64_t packets_sent_to(Node& n, NodeId peer) {
  for (const auto& p : n.stats().peers)
    if (p.peer == peer) return p.connection.packets_sent;
  return 0;
}

// Receives on `b` until `count` messages arrived; returns their first bytes in order.
std::vector<std::uint8_t> receive_numbers(Node& b, std::size_t count) {
  std::vector<std::uint8_t> got;
  pump_until(b, [&](Event& e) { if (e.kind == EventKind::Received) got.push_back(e.payload.bytes()[0]); },
             [&] { return got.size() >= count; }, 10 * kNsPerSec);
  return got;
}

// Fifty small messages queued with `more` leave with the flush in a few datagrams, in
// order; without the option each send would run a turn and send its own datagram.
TEST(SendMore, ABurstLeavesWithTheFlushInAFewDatagrams) {
  std::unique_ptr<Node> a, b;
  const auto ids = start_connected(a, b, IoBackend::Epoll);
  ASSERT_NE(ids.first, 0u);
  constexpr std::uint8_t kMessages = 50;
  const std::uint64_t deferred_before = a->stats().engine_counter("sends_deferred");
  const std::uint64_t packets_before = packets_sent_to(*a, ids.first);
  for (std::uint8_t i = 0; i < kMessages; ++i) {
    std::uint8_t msg[64] = {i};
    ASSERT_TRUE(a->send(ids.first, msg, burst_options()).ok());
  }
  a->flush();
  const auto got = receive_numbers(*b, kMessages);
  ASSERT_EQ(got.size(), kMessages);
  for (std::uint8_t i = 0; i < kMessages; ++i) EXPECT_EQ(got[i], i);
  // The standby may hold the loop for a timer while a send comes (that one takes the
  // lane queue), never for most of them.
  EXPECT_GT(a->stats().engine_counter("sends_deferred") - deferred_before, kMessages / 2u);
  // Timers (probes, keepalives) may add a datagram or two meanwhile.
  EXPECT_LT(packets_sent_to(*a, ids.first) - packets_before, kMessages / 4u);
}

// An application that queues with `more` and never calls in again: the node's own thread
// sends the message. (The send arms the standby within the grace; without that arm the
// mesh's maintenance turn, at most 100 ms away, would still send it, so this checks the
// outcome, not the arm's timing: speed is not asserted in tests.)
TEST(SendMore, AMessageLeftQueuedIsSentByTheStandby) {
  const Config c = quiet_pair();
  ASSERT_TRUE(c.validate().ok()) << c.validate().error().message;
  std::unique_ptr<Node> a, b;
  const auto ids = start_connected(a, b, IoBackend::Epoll, c);
  ASSERT_NE(ids.first, 0u);
  const std::uint8_t msg[8] = {42};
  ASSERT_TRUE(a->send(ids.first, msg, burst_options()).ok());
  // a's application does nothing more; only b's thread calls in.
  const auto got = receive_numbers(*b, 1);
  ASSERT_EQ(got.size(), 1u) << "the queued message never left";
  EXPECT_EQ(got[0], 42);
}

// delivered_event = false: the message is confirmed (the lane's delivered count) but no
// Delivered event reports it; a message sent after it with the default still gets one.
TEST(SendMore, NoDeliveredEventWhenTheSenderAsksForNone) {
  std::unique_ptr<Node> a, b;
  const auto ids = start_connected(a, b, IoBackend::Epoll);
  ASSERT_NE(ids.first, 0u);
  SendOptions quiet;
  quiet.lane = Lane::Normal;
  quiet.delivered_event = false;
  std::vector<MessageId> quiet_ids;
  const std::uint8_t msg[16] = {1};
  for (int i = 0; i < 5; ++i) {
    auto id = a->send(ids.first, msg, quiet);
    ASSERT_TRUE(id.ok());
    quiet_ids.push_back(*id);
  }
  auto last = a->send(ids.first, Lane::Normal, msg);  // ordered after the quiet ones
  ASSERT_TRUE(last.ok());
  int quiet_reported = 0;
  bool last_delivered = false;
  pump_until(*a, [&](Event& e) {
    if (e.kind != EventKind::Delivered) return;
    last_delivered |= e.id == *last;
    for (MessageId q : quiet_ids) quiet_reported += e.id == q;
  }, [&] { return last_delivered; }, 10 * kNsPerSec);
  // b's application must take them for the acks to flow both ways in time.
  EXPECT_EQ(receive_numbers(*b, 6).size(), 6u);
  ASSERT_TRUE(last_delivered);
  EXPECT_EQ(quiet_reported, 0);
  std::uint64_t delivered = 0;
  for (const auto& p : a->stats().peers)
    if (p.peer == ids.first) delivered = p.connection.lanes[static_cast<std::size_t>(Lane::Normal)].delivered;
  EXPECT_GE(delivered, 6u);
}

}  // namespace
}  // namespace hana::test
