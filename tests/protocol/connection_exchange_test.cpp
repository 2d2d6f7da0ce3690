// Two Connections exchanging datagrams directly, with deterministic drops and reordering.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <set>

#include "pair.h"

namespace hana::protocol::test {
namespace {

TEST(ConnectionExchange, SingleReliableMessageIsDeliveredAndConfirmed) {
  Pair p;
  const auto msg = bytes_of(7, 64);
  auto id = p.a.send(msg, opts(), p.now);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 1; }));
  ASSERT_EQ(p.count(p.ev_b, Ev::Kind::Received), 1u);
  EXPECT_EQ(p.ev_b[0].payload, msg);
  EXPECT_EQ(p.ev_a[0].id, *id);
  EXPECT_EQ(p.a.stats().lanes[2].delivered, 1u);
  EXPECT_EQ(p.b.stats().lanes[2].messages_received, 1u);
  EXPECT_GT(p.a.stats().rtt_smoothed_us, 0u);
}

// A HIGH request answered at once costs two datagrams, like raw UDP: the receiver holds
// the ack for urgent_ack_delay_us and the reply carries it. Without a reply the ack still
// goes out within that delay, so the sender's confirmation is not held up.
TEST(ConnectionExchange, HighPingPongCarriesTheAckOnTheReply) {
  Pair p;
  ASSERT_TRUE(p.a.send(bytes_of(1, 64), opts(Lane::High), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_b, Ev::Kind::Received) == 1; }));
  EXPECT_EQ(p.produced_ba, 0u) << "no separate ack before the application could reply";
  ASSERT_TRUE(p.b.send(bytes_of(2, 64), opts(Lane::High), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Received) == 1; }));
  EXPECT_EQ(p.produced_ba, 1u) << "the reply carries the ack";
  EXPECT_EQ(p.count(p.ev_a, Ev::Kind::Delivered), 1u) << "the ack rode on the reply";
  EXPECT_EQ(p.produced_ab, 1u);
  // No reply to the pong: a acks it on its own within the urgent delay.
  const TimeNs pong_at = p.now;
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_b, Ev::Kind::Delivered) == 1; }));
  EXPECT_LE(p.now - pong_at, Config{}.urgent_ack_delay_us * kNsPerUs + 2 * p.delay_ns);
  EXPECT_EQ(p.produced_ab, 2u);
}

// The side that got the reply goes to sleep with nothing more to say: flush_acks() sends
// the held ack at once instead of at its timer, and only when one is held.
TEST(ConnectionExchange, FlushAcksSendsTheHeldAckWithoutWaitingForItsTimer) {
  Pair p;
  EXPECT_FALSE(p.b.flush_acks(p.now + kNsPerSec));
  ASSERT_TRUE(p.a.send(bytes_of(1, 64), opts(Lane::High), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_b, Ev::Kind::Received) == 1; }));
  std::array<std::uint8_t, 2048> buf{};
  EXPECT_EQ(p.b.poll_transmit(MutableBytes{buf.data(), buf.size()}, p.now), 0u) << "held for a reply";
  EXPECT_FALSE(p.b.flush_acks(p.now + kNsPerUs)) << "b wakes before the ack is due";
  EXPECT_TRUE(p.b.flush_acks(p.now + kNsPerSec));
  const std::size_t n = p.b.poll_transmit(MutableBytes{buf.data(), buf.size()}, p.now);
  EXPECT_GT(n, 0u) << "flushed: the ack leaves now";
  EXPECT_FALSE(p.b.flush_acks(p.now + kNsPerSec)) << "nothing held any more";
}

// Over a stream the pinger's ack of each reply does not travel alone (the echo's loss
// detection is off there): it rides the next ping, or leaves within stream_ack_delay_us
// when nothing follows. The echo's RTT is not inflated by the wait (the ack says how
// long it was held).
TEST(ConnectionExchange, OnAStreamTheAckOfAReplyRidesTheNextMessage) {
  Pair p;
  p.use_stream();
  const TimeNs period = kNsPerMs;  // a pinger at 1000 messages/s
  for (int i = 0; i < 5; ++i) {
    const TimeNs sent_at = p.now;
    ASSERT_TRUE(p.a.send(bytes_of(static_cast<std::uint8_t>(i), 64), opts(Lane::High), p.now).ok());
    ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_b, Ev::Kind::Received) == static_cast<std::size_t>(i + 1); }));
    ASSERT_TRUE(p.b.send(bytes_of(100, 64), opts(Lane::High), p.now).ok());
    ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Received) == static_cast<std::size_t>(i + 1); }));
    EXPECT_FALSE(p.a.flush_acks(sent_at + period)) << "the pinger wakes for its next message before the ack is due";
    p.now = std::max(p.now, sent_at + period);  // the pinger's own wake-up: no timer of a or b is due
  }
  EXPECT_EQ(p.produced_ab, 5u) << "one datagram per ping: no ack of a reply went alone";
  EXPECT_EQ(p.produced_ba, 5u) << "one datagram per reply";
  EXPECT_EQ(p.count(p.ev_b, Ev::Kind::Delivered), 4u) << "each ping carried the ack of the reply before it";
  EXPECT_LT(p.b.stats().rtt_smoothed_us, 200u) << "the held ack's wait is not taken for path delay";
  // Nothing follows the last reply: its ack still leaves, within stream_ack_delay_us.
  const TimeNs last = p.now;
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_b, Ev::Kind::Delivered) == 5; }));
  EXPECT_LE(p.now - last, Config{}.stream_ack_delay_us * kNsPerUs + 2 * p.delay_ns);
}

// Over UDP nothing changes: the same exchange acks each reply on its own within the
// urgent delay (the echo's loss detection needs it).
TEST(ConnectionExchange, OverUdpTheAckOfAReplyStillGoesWithinTheUrgentDelay) {
  Pair p;
  ASSERT_TRUE(p.a.send(bytes_of(1, 64), opts(Lane::High), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_b, Ev::Kind::Received) == 1; }));
  ASSERT_TRUE(p.b.send(bytes_of(2, 64), opts(Lane::High), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Received) == 1; }));
  EXPECT_TRUE(p.a.flush_acks(p.now + kNsPerMs)) << "due before a 1 ms sleep ends";
}

TEST(ConnectionExchange, LoneLostMessageIsRepairedByProbeWithinAFewMilliseconds) {
  Pair p;
  p.drop = [](bool a_to_b, std::uint64_t i) { return a_to_b && i == 0; };
  ASSERT_TRUE(p.a.send(bytes_of(1, 64), opts(Lane::High), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_b, Ev::Kind::Received) == 1; }));
  // The probe timeout follows the measured path (no sample yet here: initial_rtt_us);
  // repair must come from the probe, not from later traffic.
  EXPECT_LT(p.now, 3 * kNsPerMs);
  EXPECT_GE(p.a.stats().pto_count, 1u);
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 1; }));
}

TEST(ConnectionExchange, TailLossProbeCarriesTheLastPacketOfTheBurst) {
  // A burst of 10 one-packet messages whose last three packets are lost: nothing later is
  // acked, so only the probe timeout can find them. Its probes carry the oldest unacked
  // packet (7) and the newest (9, the tail-loss probe); 9's ack then declares 8 lost by
  // time. Unordered delivery shows the order the repairs arrived in.
  Pair p;
  p.drop = [](bool a_to_b, std::uint64_t i) { return a_to_b && i >= 7 && i <= 9; };
  for (std::uint64_t i = 0; i < 10; ++i)
    ASSERT_TRUE(p.a.send(bytes_of(i, 1000), opts(Lane::High, Delivery::ReliableUnordered), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 10; }));
  std::vector<std::uint64_t> order;
  for (const Ev& e : p.ev_b)
    if (e.kind == Ev::Kind::Received) order.push_back(tag_of(e.payload));
  ASSERT_EQ(order.size(), 10u);
  EXPECT_EQ(order[7], 7u);
  EXPECT_EQ(order[8], 9u) << "the tail-loss probe carried the burst's last packet";
  EXPECT_EQ(order[9], 8u);
  EXPECT_EQ(p.a.stats().pto_count, 1u) << "one probe timeout repaired the whole tail";
  EXPECT_GE(p.a.stats().packets_lost, 1u);
}

TEST(ConnectionExchange, LateOriginalCountsAsSpuriousAndWidensTheReorderWindow) {
  // The first of ten one-packet messages is held 5 ms on the wire: the acks of the later
  // ones declare it lost and it is resent; then the original's ack arrives.
  Pair p;
  p.jitter = [](bool a_to_b, std::uint64_t i) { return a_to_b && i == 0 ? 5 * kNsPerMs : 0; };
  for (std::uint64_t i = 0; i < 10; ++i)
    ASSERT_TRUE(p.a.send(bytes_of(i, 1000), opts(Lane::High, Delivery::ReliableUnordered), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.a.stats().spurious_losses >= 1; }));
  EXPECT_EQ(p.a.stats().spurious_losses, 1u);
  EXPECT_EQ(p.a.stats().spurious_retransmits, 1u);
  EXPECT_EQ(p.a.stats().retransmits, 1u);
  EXPECT_EQ(p.count(p.ev_b, Ev::Kind::Received), 10u) << "the copy is dropped as a duplicate";
  // The same delay again is now inside the reordering window: no loss, no retransmission.
  const std::uint64_t held = p.produced_ab + 3;
  p.jitter = [held](bool a_to_b, std::uint64_t i) { return a_to_b && i == held ? 5 * kNsPerMs : 0; };
  for (std::uint64_t i = 10; i < 30; ++i)
    ASSERT_TRUE(p.a.send(bytes_of(i, 1000), opts(Lane::High, Delivery::ReliableUnordered), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 30; }));
  EXPECT_EQ(p.a.stats().retransmits, 1u);
  EXPECT_EQ(p.a.stats().spurious_losses, 1u);
}

TEST(ConnectionExchange, OrderedLaneDeliversEverythingInOrderUnderDropsAndReordering) {
  Pair p;
  p.drop = [](bool, std::uint64_t i) { return i % 5 == 2; };
  p.jitter = [](bool, std::uint64_t i) { return (i % 3) * 15 * kNsPerUs; };
  constexpr int kCount = 300;
  int sent = 0;
  ASSERT_TRUE(p.run_until([&] {
    while (sent < kCount && p.a.send(bytes_of(static_cast<std::uint64_t>(sent), 64 + sent % 200), opts(), p.now).ok()) ++sent;
    return p.count(p.ev_a, Ev::Kind::Delivered) == kCount;
  }));
  std::vector<std::uint64_t> tags;
  for (const auto& e : p.ev_b)
    if (e.kind == Ev::Kind::Received) tags.push_back(tag_of(e.payload));
  ASSERT_EQ(tags.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(tags[static_cast<std::size_t>(i)], static_cast<std::uint64_t>(i));
  EXPECT_GT(p.a.stats().retransmits, 0u);
  EXPECT_EQ(p.count(p.ev_a, Ev::Kind::Failed), 0u);
}

TEST(ConnectionExchange, UnorderedLaneDeliversEachMessageExactlyOnce) {
  Pair p;
  p.drop = [](bool, std::uint64_t i) { return i % 4 == 1; };
  p.jitter = [](bool, std::uint64_t i) { return (i % 4) * 10 * kNsPerUs; };
  constexpr int kCount = 200;
  for (int i = 0; i < kCount; ++i)
    ASSERT_TRUE(p.a.send(bytes_of(static_cast<std::uint64_t>(i), 100), opts(Lane::Normal, Delivery::ReliableUnordered), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == kCount; }));
  std::multiset<std::uint64_t> seen;
  for (const auto& e : p.ev_b)
    if (e.kind == Ev::Kind::Received) seen.insert(tag_of(e.payload));
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(seen.count(static_cast<std::uint64_t>(i)), 1u);
}

TEST(ConnectionExchange, UnreliableSequencedNeverGoesBackwards) {
  Pair p;
  p.drop = [](bool, std::uint64_t i) { return i % 7 == 3; };
  p.jitter = [](bool, std::uint64_t i) { return (i % 2) ? 0 : 40 * kNsPerUs; };
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(p.a.send(bytes_of(static_cast<std::uint64_t>(i), 32), opts(Lane::Normal, Delivery::UnreliableSequenced), p.now).ok());
    p.settle_io();  // one message per datagram
    p.run_for(5 * kNsPerUs);
  }
  p.run_for(2 * kNsPerMs);
  std::uint64_t last = 0;
  bool first = true;
  std::size_t got = 0;
  for (const auto& e : p.ev_b) {
    if (e.kind != Ev::Kind::Received) continue;
    const auto t = tag_of(e.payload);
    if (!first) {
      EXPECT_GT(t, last);
    }
    first = false;
    last = t;
    ++got;
  }
  EXPECT_GT(got, 30u);
  EXPECT_LT(got, 100u);
  EXPECT_GT(p.b.stats().lanes[2].stale_dropped, 0u);
  EXPECT_EQ(p.count(p.ev_a, Ev::Kind::Delivered), 0u);  // unreliable: no confirmations
}

TEST(ConnectionExchange, LargeMessageIsFragmentedAndReassembledUnderLoss) {
  Pair p;
  p.drop = [](bool, std::uint64_t i) { return i % 6 == 4; };
  const auto big = bytes_of(99, 200'000);
  ASSERT_TRUE(p.a.send(big, opts(Lane::Bulk), p.now).ok());
  ASSERT_TRUE(p.a.send(bytes_of(5, 64), opts(Lane::Bulk), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 2; }));
  std::vector<const Ev*> got;
  for (const auto& e : p.ev_b)
    if (e.kind == Ev::Kind::Received) got.push_back(&e);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]->payload, big);
  EXPECT_EQ(tag_of(got[1]->payload), 5u);
  EXPECT_EQ(p.b.stats().reassembly_bytes, 0u);
}

TEST(ConnectionExchange, RetryBudgetFailsMessageAndSkipUnblocksTheOrderedStream) {
  Config c;
  c.max_retransmits = 2;
  c.pto_cap_us = 4000;
  Pair p(c);
  bool blackhole = true;
  p.drop = [&](bool a_to_b, std::uint64_t) { return a_to_b && blackhole; };
  auto first = p.a.send(bytes_of(1, 64), opts(), p.now);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Failed) == 1; }));
  EXPECT_EQ(p.ev_a.back().reason, FailReason::RetryBudget);
  EXPECT_EQ(p.ev_a.back().id, *first);
  blackhole = false;
  ASSERT_TRUE(p.a.send(bytes_of(2, 64), opts(), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_b, Ev::Kind::Received) == 1; }));
  EXPECT_EQ(tag_of(p.ev_b.back().payload), 2u);
}

TEST(ConnectionExchange, RetryBudgetCountsProbeRoundsNotCopies) {
  // A probe round resends the oldest packet, the newest one and a repeat of the probe; a
  // silent peer must cost the message one retransmission per round, so it fails only after
  // max_retransmits rounds (it failed after two when every copy counted).
  Config c;
  c.max_retransmits = 6;
  c.pto_cap_us = 4000;
  Pair p(c);
  p.drop = [&](bool a_to_b, std::uint64_t) { return a_to_b; };
  ASSERT_TRUE(p.a.send(bytes_of(1, 64), opts(), p.now).ok());
  ASSERT_TRUE(p.a.send(bytes_of(2, 64), opts(), p.now).ok());  // a newest packet to probe too
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Failed) >= 1; }));
  EXPECT_EQ(p.ev_a.back().reason, FailReason::RetryBudget);
  EXPECT_GE(p.a.stats().pto_count, c.max_retransmits);
  EXPECT_LE(p.a.stats().pto_count, c.max_retransmits + 1u);
}

TEST(ConnectionExchange, DeadlineFailsMessage) {
  Config c;
  c.message_deadline_ms = 20;
  Pair p(c);
  p.drop = [](bool a_to_b, std::uint64_t) { return a_to_b; };
  ASSERT_TRUE(p.a.send(bytes_of(1, 64), opts(), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Failed) == 1; }));
  EXPECT_EQ(p.ev_a.back().reason, FailReason::Deadline);
  EXPECT_GE(p.now, 20 * kNsPerMs);
  EXPECT_LT(p.now, 30 * kNsPerMs);
}

TEST(ConnectionExchange, LatestValueCoalescesUnsentVersions) {
  Pair p;
  SendOptions o = opts(Lane::High, Delivery::ReliableUnordered);
  o.latest_value = true;
  o.key = 42;
  std::vector<MessageId> ids;
  for (std::uint64_t v = 1; v <= 3; ++v) {
    o.version = v;
    auto id = p.a.send(bytes_of(v, 48), o, p.now);
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  // An older version sent after a newer one is stale on arrival.
  o.version = 2;
  auto stale = p.a.send(bytes_of(2, 48), o, p.now);
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(p.a.stats().lanes[1].coalesced, 3u);
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 1; }));
  ASSERT_EQ(p.count(p.ev_b, Ev::Kind::Received), 1u);
  EXPECT_EQ(p.ev_b[0].version, 3u);
  EXPECT_EQ(p.ev_b[0].key, 42u);
  std::set<MessageId> failed;
  for (const auto& e : p.ev_a)
    if (e.kind == Ev::Kind::Failed) {
      EXPECT_EQ(e.reason, FailReason::Superseded);
      failed.insert(e.id);
    }
  EXPECT_EQ(failed, (std::set<MessageId>{ids[0], ids[1], *stale}));
}

TEST(ConnectionExchange, LatestValueReceiverDropsVersionsNotNewer) {
  Pair p;
  SendOptions o = opts(Lane::Normal, Delivery::ReliableUnordered);
  o.latest_value = true;
  o.key = 7;
  for (std::uint64_t v : {5u, 3u, 5u, 6u}) {
    o.version = v;
    ASSERT_TRUE(p.a.send(bytes_of(v, 16), o, p.now).ok());
    p.settle_io();  // each version leaves before the next is queued: no coalescing
  }
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 4; }));
  std::vector<std::uint64_t> versions;
  for (const auto& e : p.ev_b)
    if (e.kind == Ev::Kind::Received) versions.push_back(e.version);
  EXPECT_EQ(versions, (std::vector<std::uint64_t>{5, 6}));
  EXPECT_EQ(p.b.stats().lanes[2].stale_dropped, 2u);
}

// Mesh-internal messages (kDataMesh) are flagged on arrival, and their latest-value keys
// neither coalesce with nor are filtered by the application's same keys.
TEST(ConnectionExchange, MeshMessagesAreFlaggedAndHaveTheirOwnLatestKeys) {
  Pair p;
  SendOptions o = opts(Lane::Control, Delivery::ReliableOrdered);
  o.latest_value = true;
  o.key = 9;
  o.version = 5;
  ASSERT_TRUE(p.a.send(bytes_of(1, 16), o, p.now).ok());                 // app, version 5
  o.version = 2;
  ASSERT_TRUE(p.a.send(bytes_of(2, 16), o, p.now, 0, true).ok());        // mesh, version 2
  o.version = 3;
  ASSERT_TRUE(p.a.send(bytes_of(3, 16), o, p.now, 0, true).ok());        // coalesces the mesh one only
  EXPECT_EQ(p.a.stats().lanes[0].coalesced, 1u);
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 2; }));
  std::vector<std::pair<bool, std::uint64_t>> got;
  for (const auto& e : p.ev_b)
    if (e.kind == Ev::Kind::Received) got.emplace_back(e.mesh, e.version);
  // Mesh version 3 arrives although the application's key 9 is already at version 5.
  EXPECT_EQ(got, (std::vector<std::pair<bool, std::uint64_t>>{{false, 5}, {true, 3}}));
  o.version = 1;
  ASSERT_TRUE(p.a.send(bytes_of(4, 16), o, p.now, 0, true).ok());  // stale for the mesh key
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 3; }));
  EXPECT_EQ(p.count(p.ev_b, Ev::Kind::Received), 2u);
  EXPECT_EQ(p.b.stats().lanes[0].stale_dropped, 1u);
}

TEST(ConnectionExchange, CloseReachesThePeerAndFailsPending) {
  Pair p;
  p.drop = [](bool a_to_b, std::uint64_t i) { return a_to_b && i == 0; };
  ASSERT_TRUE(p.a.send(bytes_of(1, 64), opts(), p.now).ok());
  p.settle_io();
  p.a.close(CloseReason::Normal, p.now);
  ASSERT_TRUE(p.run_until([&] { return p.b.is_closed(); }));
  EXPECT_TRUE(p.a.is_closed());
  ASSERT_FALSE(p.ev_b.empty());
  EXPECT_EQ(p.ev_b.back().kind, Ev::Kind::Closed);
  EXPECT_TRUE(p.ev_b.back().by_peer);
  EXPECT_EQ(p.count(p.ev_a, Ev::Kind::Failed), 1u);
  EXPECT_FALSE(p.a.send(bytes_of(2, 8), opts(), p.now).ok());
}

TEST(ConnectionExchange, IdleConnectionStaysOpenWithKeepalives) {
  Pair p;
  p.run_for(1 * kNsPerSec);  // > idle_timeout would close without keepalives... 3 s default
  p.run_for(3 * kNsPerSec);
  EXPECT_FALSE(p.a.is_closed());
  EXPECT_FALSE(p.b.is_closed());
}

TEST(ConnectionExchange, SilentPeerIsClosedByIdleTimeout) {
  Pair p;
  p.drop = [](bool a_to_b, std::uint64_t) { return !a_to_b; };  // b never answers
  ASSERT_TRUE(p.run_until([&] { return p.a.is_closed(); }, 10 * kNsPerSec));
  bool idle = false;
  for (const auto& e : p.ev_a) idle |= e.kind == Ev::Kind::Closed && e.close_reason == CloseReason::IdleTimeout;
  EXPECT_TRUE(idle);
}

}  // namespace
}  // namespace hana::protocol::test

namespace hana::protocol::test {
namespace {

TEST(ConnectionExchange, LatestValueCoalescingIsPerLaneModeAndKey) {
  Pair p;
  SendOptions o = opts(Lane::Normal, Delivery::ReliableOrdered);
  o.latest_value = true;
  for (std::uint64_t v = 1; v <= 3; ++v)
    for (std::uint64_t key = 0; key < 100; ++key) {
      o.key = key;
      o.version = v;
      ASSERT_TRUE(p.a.send(bytes_of(key * 10 + v, 40), o, p.now).ok());
    }
  // Same key on another lane and another mode: separate channels, not coalesced.
  o.key = 0;
  o.version = 1;
  o.lane = Lane::High;
  ASSERT_TRUE(p.a.send(bytes_of(999, 40), o, p.now).ok());
  o.lane = Lane::Normal;
  o.delivery = Delivery::ReliableUnordered;
  ASSERT_TRUE(p.a.send(bytes_of(998, 40), o, p.now).ok());
  EXPECT_EQ(p.a.stats().lanes[2].coalesced, 200u);
  EXPECT_EQ(p.a.stats().lanes[2].queue_depth, 101u);
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 102; }));
  std::size_t normal_ordered = 0;
  for (const auto& e : p.ev_b)
    if (e.kind == Ev::Kind::Received && e.lane == Lane::Normal && e.delivery == Delivery::ReliableOrdered) {
      EXPECT_EQ(e.version, 3u);
      ++normal_ordered;
    }
  EXPECT_EQ(normal_ordered, 100u);
  EXPECT_EQ(p.count(p.ev_a, Ev::Kind::Failed), 200u);
  // The receiver keeps versions per channel too: key 0 version 1 arrives on the other two.
  EXPECT_EQ(p.count(p.ev_b, Ev::Kind::Received), 102u);
  EXPECT_EQ(p.b.stats().lanes[2].stale_dropped + p.b.stats().lanes[1].stale_dropped, 0u);
}

}  // namespace
}  // namespace hana::protocol::test

namespace hana::protocol::test {
namespace {

TEST(ConnectionExchange, SmallestDatagramSizeWorksUnderLossWithManyAckRanges) {
  Config c;
  c.max_datagram_bytes = 256;
  Pair p(c);
  p.drop = [](bool, std::uint64_t i) { return i % 3 == 1; };
  p.jitter = [](bool, std::uint64_t i) { return (i % 5) * 7 * kNsPerUs; };
  constexpr int kCount = 400;
  for (int i = 0; i < kCount; ++i)
    ASSERT_TRUE(p.a.send(bytes_of(static_cast<std::uint64_t>(i), 50 + (i % 7) * 100), opts(Lane::Normal, Delivery::ReliableUnordered), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == kCount; }, 20 * kNsPerSec, 500'000));
  EXPECT_EQ(p.count(p.ev_b, Ev::Kind::Received), static_cast<std::size_t>(kCount));
  EXPECT_EQ(p.count(p.ev_a, Ev::Kind::Failed), 0u);
}

}  // namespace
}  // namespace hana::protocol::test
