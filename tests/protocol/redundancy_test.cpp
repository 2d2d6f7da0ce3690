// high_redundancy: spaced copies of Control/High datagrams (protocol/redundant_copies.h)
// and what the connection does with them at both ends.
#include <gtest/gtest.h>

#include <array>

#include "pair.h"
#include "protocol/redundant_copies.h"

namespace hana::protocol::test {
namespace {

std::array<std::uint8_t, 16> datagram_with(std::uint8_t tag) {
  std::array<std::uint8_t, 16> d{};
  d.fill(tag);
  return d;
}

TEST(RedundantCopies, CopiesComeOutInOrderOnceDueAndAsOftenAsAsked) {
  RedundantCopies c;
  const auto a = datagram_with(1), b = datagram_with(2);
  ASSERT_TRUE(c.keep(Bytes(a.data(), a.size()), 100, 2, 64));
  ASSERT_TRUE(c.keep(Bytes(b.data(), b.size()), 150, 1, 64));
  std::array<std::uint8_t, 64> out{};
  MutableBytes buf(out.data(), out.size());
  EXPECT_EQ(c.take_due(buf, 99, 50), 0u) << "not due yet";
  EXPECT_EQ(c.next_due(), TimeNs{100});
  ASSERT_EQ(c.take_due(buf, 100, 50), a.size());
  EXPECT_EQ(out[0], 1);
  // a's second copy is due at 150 and queued behind b.
  ASSERT_EQ(c.take_due(buf, 150, 50), b.size());
  EXPECT_EQ(out[0], 2);
  ASSERT_EQ(c.take_due(buf, 150, 50), a.size());
  EXPECT_EQ(out[0], 1);
  EXPECT_EQ(c.take_due(buf, 1000, 50), 0u);
  EXPECT_FALSE(c.next_due().has_value());
}

TEST(RedundantCopies, AFullRingLeavesTheNewDatagramUnprotected) {
  RedundantCopies c;
  const auto d = datagram_with(3);
  for (std::size_t i = 0; i < RedundantCopies::kSlots; ++i) ASSERT_TRUE(c.keep(Bytes(d.data(), d.size()), 10, 1, 64));
  EXPECT_FALSE(c.keep(Bytes(d.data(), d.size()), 10, 1, 64));
  EXPECT_FALSE(c.keep(Bytes(d.data(), d.size()), 10, 0, 64)) << "zero copies is nothing to keep";
  EXPECT_EQ(c.pending(), RedundantCopies::kSlots);
}

Config redundant(std::uint32_t copies = 1) {
  Config c;
  c.high_redundancy = copies;
  return c;
}

// The first datagram of a HIGH message is lost; its copy arrives and nothing is repaired.
TEST(Redundancy, ALostHighDatagramIsCoveredByItsCopyWithoutRetransmission) {
  Pair p(redundant());
  p.drop = [](bool a_to_b, std::uint64_t index) { return a_to_b && index == 0; };
  const auto msg = bytes_of(5, 200);
  ASSERT_TRUE(p.a.send(msg, opts(Lane::High), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 1; }));
  ASSERT_EQ(p.count(p.ev_b, Ev::Kind::Received), 1u);
  EXPECT_EQ(p.ev_b[0].payload, msg);
  EXPECT_EQ(p.a.stats().retransmits, 0u);
  EXPECT_EQ(p.a.stats().pto_count, 0u);
  EXPECT_EQ(p.a.stats().redundant_packets, 1u);
  EXPECT_GT(p.a.stats().redundant_bytes, 0u);
  EXPECT_EQ(p.dropped, 1u);
}

// Both copies arrive: the receiver takes the first and drops the second as a duplicate.
TEST(Redundancy, TheReceiverDeliversOnceWhenBothCopiesArrive) {
  Pair p(redundant(2));
  ASSERT_TRUE(p.a.send(bytes_of(1, 64), opts(Lane::Control), p.now).ok());
  ASSERT_TRUE(p.a.send(bytes_of(2, 64), opts(Lane::High), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 2; }));
  p.run_for(10 * kNsPerMs);
  EXPECT_EQ(p.count(p.ev_b, Ev::Kind::Received), 2u);
  const std::uint64_t copies = p.a.stats().redundant_packets;
  EXPECT_GT(copies, 0u);
  EXPECT_EQ(copies % 2, 0u) << "two copies of every protected datagram";
  EXPECT_EQ(p.b.stats().duplicate_packets, copies) << "every copy arrived and was dropped";
}

// Normal and Bulk never pay for it.
TEST(Redundancy, NormalAndBulkAreNotCopied) {
  Pair p(redundant());
  ASSERT_TRUE(p.a.send(bytes_of(1, 64), opts(Lane::Normal), p.now).ok());
  ASSERT_TRUE(p.a.send(bytes_of(2, 5000), opts(Lane::Bulk), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 2; }));
  EXPECT_EQ(p.a.stats().redundant_packets, 0u);
}

// With spacing the copy waits for its time: the connection's deadline says when.
TEST(Redundancy, ASpacedCopyLeavesAtItsDeadline) {
  Config c = redundant();
  c.redundancy_spacing_us = 300;
  Pair p(c);
  ASSERT_TRUE(p.a.send(bytes_of(1, 64), opts(Lane::High), p.now).ok());
  std::array<std::uint8_t, 2048> buf{};
  const MutableBytes out(buf.data(), buf.size());
  const TimeNs t0 = p.now;
  ASSERT_GT(p.a.poll_transmit(out, t0), 0u);
  EXPECT_FALSE(p.a.transmitted_alone());
  EXPECT_EQ(p.a.poll_transmit(out, t0), 0u) << "the copy is not due yet";
  const auto next = p.a.next_timeout();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, t0 + 300 * kNsPerUs);
  p.a.on_timeout(*next);
  EXPECT_GT(p.a.poll_transmit(out, *next), 0u);
  EXPECT_TRUE(p.a.transmitted_alone()) << "the engine sends it alone, not in its original's GSO burst";
  EXPECT_EQ(p.a.stats().redundant_packets, 1u);
}

}  // namespace
}  // namespace hana::protocol::test
