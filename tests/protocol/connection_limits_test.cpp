// API errors, bounded queues, peer misbehaviour and lane isolation.
#include <gtest/gtest.h>

#include <algorithm>

#include "pair.h"

namespace hana::protocol::test {
namespace {

// Feeds one hand-built datagram with `frames` into `c`; returns what became of it.
Connection::Arrival inject(Connection& c, std::uint64_t pn, std::initializer_list<Frame> frames, TimeNs now) {
  std::vector<std::uint8_t> buf(kMaxDatagramBytes);
  Header h;
  h.connection_id = c.ids().local;
  h.packet_number = pn;
  DatagramWriter w(buf, kMaxDatagramBytes, h);
  for (const Frame& f : frames) EXPECT_TRUE(w.append(f));
  const std::size_t n = w.finish();
  auto r = decode_datagram(Bytes(buf.data(), n));
  EXPECT_TRUE(r.datagram.has_value());
  if (!r.datagram) return Connection::Arrival::Dropped;
  return c.on_datagram(*r.datagram, now);
}

TEST(ConnectionLimits, ApiErrors) {
  Config cfg;
  cfg.lane_queue_messages = 4;
  cfg.max_message_bytes = 1000;
  Connection c(cfg, {1, 2}, 0);
  const auto msg = bytes_of(1, 10);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(c.send(msg, opts(Lane::Bulk), 0).ok());
  auto full = c.send(msg, opts(Lane::Bulk), 0);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, Errc::QueueFull);
  EXPECT_TRUE(c.send(msg, opts(Lane::High), 0).ok()) << "each lane has its own bound";
  auto big = c.send(bytes_of(1, 1001), opts(), 0);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, Errc::MessageTooLarge);
  SendOptions bad;
  bad.lane = static_cast<Lane>(9);
  auto inval = c.send(msg, bad, 0);
  ASSERT_FALSE(inval.ok());
  EXPECT_EQ(inval.error().code, Errc::InvalidArgument);
  // Caller-chosen ids are kept; 0 means "number it for me".
  auto mine = c.send(msg, opts(Lane::Control), 0, 777);
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(*mine, 777u);
  EXPECT_EQ(c.stats().lanes[3].queue_depth, 4u);
  // Sending drains the queue: QueueFull is back-pressure, not a permanent state.
  std::vector<std::uint8_t> buf(kMaxDatagramBytes);
  while (c.poll_transmit(buf, 0) > 0) {
  }
  EXPECT_EQ(c.stats().lanes[3].queue_depth, 0u);
  EXPECT_TRUE(c.send(msg, opts(Lane::Bulk), 0).ok());
}

// transmit_drained() is a promise the mesh relies on to stop asking: after a datagram
// it says true only when the next poll_transmit would write nothing. Checked over one
// small message (drained at once) and a fragmented one (not drained until its last
// fragment, and never wrongly).
TEST(ConnectionLimits, TransmitDrainedOnlyWhenAnotherPollWouldFindNothing) {
  Connection c(Config{}, {1, 2}, 0);
  std::vector<std::uint8_t> buf(kMaxDatagramBytes);
  ASSERT_TRUE(c.send(bytes_of(1, 64), opts(Lane::High), 0).ok());
  ASSERT_GT(c.poll_transmit(buf, 0), 0u);
  EXPECT_TRUE(c.transmit_drained());
  EXPECT_EQ(c.poll_transmit(buf, 0), 0u);

  ASSERT_TRUE(c.send(bytes_of(2, 10'000), opts(Lane::Bulk), 0).ok());
  int datagrams = 0, drained = 0;
  for (int i = 0; i < 100; ++i) {
    if (c.poll_transmit(buf, 0) == 0) break;
    ++datagrams;
    if (!c.transmit_drained()) continue;
    ++drained;
    EXPECT_EQ(c.poll_transmit(buf, 0), 0u) << "drained, yet datagram " << datagrams << " was followed by another";
    break;
  }
  EXPECT_GT(datagrams, 1);
  EXPECT_LE(drained, 1);
}

TEST(ConnectionLimits, PeerExceedingReassemblyLimitIsCutOff) {
  Config cfg;
  cfg.reassembly_limit_bytes = 65536;
  Connection c(cfg, {1, 2}, 0);
  const auto chunk = bytes_of(3, 1000);
  DataFrame d;
  d.fragmented = true;
  d.total_length = 60'000;
  d.payload = chunk;
  d.sequence = 0;
  inject(c, 0, {d}, 0);
  EXPECT_FALSE(c.is_closed());
  EXPECT_EQ(c.stats().reassembly_bytes, 60'000u);
  d.sequence = 1;  // a second partial message would need 120 kB
  inject(c, 1, {d}, 0);
  EXPECT_EQ(c.stats().resource_limit_closes, 1u);
  bool saw = false;
  while (auto e = c.poll_event())
    if (auto* cl = std::get_if<ClosedEvent>(&*e)) saw = cl->reason == CloseReason::ResourceLimit && !cl->by_peer;
  EXPECT_TRUE(saw);
  EXPECT_EQ(c.stats().reassembly_bytes, 0u);
  // The CLOSE frame goes out (twice, against loss), then nothing more.
  std::vector<std::uint8_t> buf(kMaxDatagramBytes);
  EXPECT_GT(c.poll_transmit(buf, 0), 0u);
  EXPECT_FALSE(c.is_closed());
  EXPECT_GT(c.poll_transmit(buf, 0), 0u);
  EXPECT_TRUE(c.is_closed());
  EXPECT_EQ(c.poll_transmit(buf, 0), 0u);
  d.sequence = 2;
  EXPECT_EQ(inject(c, 2, {d}, 0), Connection::Arrival::Dropped) << "a closed connection applies nothing";
}

TEST(ConnectionLimits, HeldBackOrderedMessagesCountAgainstTheLimit) {
  Config cfg;
  cfg.reassembly_limit_bytes = 65536;
  Connection c(cfg, {1, 2}, 0);
  const auto chunk = bytes_of(3, 1200);
  DataFrame d;
  d.payload = chunk;
  // Sequence 0 never arrives: everything else is held back.
  std::uint64_t pn = 0;
  for (std::uint64_t seq = 1; seq < 100 && !c.is_closed(); ++seq) {
    d.sequence = seq;
    inject(c, pn++, {d}, 0);
    std::vector<std::uint8_t> buf(kMaxDatagramBytes);
    while (c.poll_transmit(buf, 0) > 0) {
    }
  }
  EXPECT_EQ(c.stats().resource_limit_closes, 1u);
  EXPECT_LT(pn, 60u);
}

TEST(ConnectionLimits, DuplicatePacketsAndBogusAcksAreCountedAndIgnored) {
  Connection c(Config{}, {1, 2}, 0);
  DataFrame d;
  const auto chunk = bytes_of(4, 10);
  d.payload = chunk;
  EXPECT_EQ(inject(c, 5, {d}, 0), Connection::Arrival::New);
  EXPECT_EQ(inject(c, 5, {d}, 0), Connection::Arrival::Duplicate) << "the mesh reads replays from this";
  EXPECT_EQ(c.stats().duplicate_packets, 1u);
  int received = 0;
  while (auto e = c.poll_event()) received += std::holds_alternative<ReceivedEvent>(*e);
  EXPECT_EQ(received, 1);
  AckFrame ack;
  ack.range_count = 1;
  ack.ranges[0] = AckRange{0, 1000};  // we never sent anything
  inject(c, 6, {ack}, 0);
  EXPECT_EQ(c.stats().unexpected_acks, 1u);
  EXPECT_FALSE(c.is_closed());
}

TEST(ConnectionLimits, InconsistentFragmentsAreCountedNotFatal) {
  Connection c(Config{}, {1, 2}, 0);
  const auto chunk = bytes_of(3, 100);
  DataFrame d;
  d.fragmented = true;
  d.total_length = 1000;
  d.payload = chunk;
  inject(c, 0, {d}, 0);
  d.total_length = 2000;  // same message, different length
  d.fragment_offset = 100;
  inject(c, 1, {d}, 0);
  EXPECT_EQ(c.stats().bad_frames, 1u);
  EXPECT_FALSE(c.is_closed());
}

TEST(ConnectionLimits, BulkLossNeverDelaysHighLane) {
  Pair p;
  // Lose every datagram that carries Bulk data for a while (detected by size: bulk
  // messages are 1000 B, high ones 32 B).
  p.drop = [](bool a_to_b, std::uint64_t i) { return a_to_b && i % 3 == 0; };
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(p.a.send(bytes_of(1000 + i, 1000), opts(Lane::Bulk), p.now).ok());
  p.settle_io();
  ASSERT_TRUE(p.a.send(bytes_of(1, 32), opts(Lane::High), p.now).ok());
  const TimeNs sent_at = p.now;
  ASSERT_TRUE(p.run_until([&] {
    for (const auto& e : p.ev_b)
      if (e.kind == Ev::Kind::Received && e.lane == Lane::High) return true;
    return false;
  }));
  // Delivered without waiting for Bulk's repairs (those need a PTO or more acks).
  EXPECT_LT(p.now - sent_at, 200 * kNsPerUs);
}

TEST(ConnectionLimits, TokenBucketCapsBandwidthAndShedsUnreliable) {
  Config cfg;
  cfg.token_rate_bytes_per_sec = 10'000'000;  // 10 MB/s
  cfg.token_burst_bytes = 20'000;
  Pair p(cfg);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(p.a.send(bytes_of(i, 1000), opts(Lane::Bulk), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 200; }));
  // 200 kB at 10 MB/s after a 20 kB burst takes at least 18 ms of virtual time.
  EXPECT_GE(p.now, 17 * kNsPerMs);
  EXPECT_GT(p.a.stats().token_bucket_delays, 0u);
  // Bucket is drained: unreliable sends are shed, not queued.
  for (int i = 0; i < 100; ++i) (void)p.a.send(bytes_of(i, 1000), opts(Lane::Bulk, Delivery::Unreliable), p.now);
  EXPECT_GT(p.a.stats().token_bucket_drops, 0u);
}

TEST(ConnectionLimits, RuntimeConfigChangesApply) {
  Pair p;
  Config c;
  c.max_message_bytes = 10;
  p.a.apply_runtime_config(c);
  auto r = p.a.send(bytes_of(1, 11), opts(), p.now);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::MessageTooLarge);
}

}  // namespace
}  // namespace hana::protocol::test

namespace hana::protocol::test {
namespace {

TEST(ConnectionTimers, ProbeTimeoutBacksOffExponentiallyUpToTheCap) {
  Config c;
  c.pto_cap_us = 10'000;
  Pair p(c);
  std::vector<TimeNs> produced;
  p.drop = [&](bool a_to_b, std::uint64_t) {
    if (a_to_b) produced.push_back(p.now);
    return true;  // black hole both ways
  };
  ASSERT_TRUE(p.a.send(bytes_of(1, 64), opts(), p.now).ok());
  p.run_for(40 * kNsPerMs);
  // Distinct send instants: the original, then one probe burst (two packets) per PTO.
  std::vector<TimeNs> instants;
  for (TimeNs t : produced)
    if (instants.empty() || instants.back() != t) instants.push_back(t);
  ASSERT_GE(instants.size(), 6u);
  // No RTT sample yet: srtt 500 us, rttvar 250 us -> 500 + 1000 + 100 = 1.6 ms (above the 1 ms floor).
  const std::vector<TimeNs> expected_gaps = {1'600'000, 3'200'000, 6'400'000, 10'000'000, 10'000'000};
  for (std::size_t i = 0; i < expected_gaps.size(); ++i) EXPECT_EQ(instants[i + 1] - instants[i], expected_gaps[i]) << i;
  EXPECT_EQ(std::count(produced.begin(), produced.end(), instants[1]), 2) << "two probes per timeout";
  EXPECT_GE(p.a.stats().pto_count, 5u);
}

TEST(ConnectionTimers, ProbeTimeoutFollowsTheMeasuredPathOnceRttIsKnown) {
  // 20 us one way, the ack held 100 us (urgent_ack_delay_us): the first sample is 140 us,
  // rttvar 70 us -> PTO = 140 + 4 x 70 + 100 (max_ack_delay) = 520 us, not a fixed 1 ms.
  Pair p;
  ASSERT_TRUE(p.a.send(bytes_of(1, 64), opts(), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == 1; }));
  std::vector<TimeNs> produced;
  p.drop = [&](bool a_to_b, std::uint64_t) {
    if (a_to_b) produced.push_back(p.now);
    return a_to_b && produced.size() == 1;  // lose only the next message's first copy
  };
  const TimeNs sent_at = p.now;
  ASSERT_TRUE(p.a.send(bytes_of(2, 64), opts(), p.now).ok());
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_b, Ev::Kind::Received) == 2; }));
  ASSERT_GE(produced.size(), 2u);
  EXPECT_EQ(produced[1] - sent_at, 520 * kNsPerUs);
}

TEST(ConnectionLimits, UrgentLanesGetHeadroomBeyondAFullWindow) {
  Pair p;
  p.drop = [](bool, std::uint64_t) { return true; };  // no acks: the window stays full
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(p.a.send(bytes_of(i, 1000), opts(Lane::Bulk), p.now).ok());
  p.settle_io();
  const std::uint64_t before = p.produced_ab;
  EXPECT_GE(p.a.stats().bytes_in_flight, p.a.stats().cwnd_bytes);
  EXPECT_GT(p.a.stats().lanes[3].queue_depth, 0u) << "bulk is window-limited";
  ASSERT_TRUE(p.a.send(bytes_of(1, 32), opts(Lane::High), p.now).ok());
  p.settle_io();
  EXPECT_EQ(p.produced_ab, before + 1);
}

}  // namespace
}  // namespace hana::protocol::test

namespace hana::protocol::test {
namespace {

TEST(ConnectionLimits, StarvationGuardGivesBulkItsShareWhileHighIsBusy) {
  Config c;
  c.starvation_share_pct = 20;
  Pair p(c);
  // One datagram per arrival instant, so the receiver's event order is the arrival order
  // (within one batch it hands High events over first).
  p.jitter = [](bool, std::uint64_t index) { return static_cast<TimeNs>(index); };
  // Both lanes backlogged; 100-byte messages so each datagram holds several frames.
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(p.a.send(bytes_of(i, 100), opts(Lane::High), p.now).ok());
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(p.a.send(bytes_of(10'000 + i, 100), opts(Lane::Bulk), p.now).ok());
  // Look at the first 1000 messages received: strict priority alone would make them all High.
  ASSERT_TRUE(p.run_until([&] { return p.count(p.ev_b, Ev::Kind::Received) >= 1000; }));
  std::size_t bulk = 0, seen = 0;
  for (const auto& e : p.ev_b) {
    if (e.kind != Ev::Kind::Received || seen == 1000) continue;
    ++seen;
    bulk += e.lane == Lane::Bulk;
  }
  EXPECT_GE(bulk, 150u);  // ~20% share
  EXPECT_LE(bulk, 250u);
}

}  // namespace
}  // namespace hana::protocol::test

namespace hana::protocol::test {
namespace {

TEST(ConnectionLimits, AckNamingUnsentPacketsStillAcksTheRealOnes) {
  Connection c(Config{}, {1, 2}, 0);
  std::vector<std::uint8_t> buf(kMaxDatagramBytes);
  ASSERT_TRUE(c.send(bytes_of(1, 64), opts(), 0).ok());
  ASSERT_GT(c.poll_transmit(buf, 0), 0u);  // packet 0
  AckFrame ack;
  ack.range_count = 2;
  ack.ranges[0] = AckRange{1'000'000, 1'000'000};  // never sent
  ack.ranges[1] = AckRange{0, 0};
  inject(c, 0, {ack}, 50 * kNsPerUs);
  EXPECT_EQ(c.stats().unexpected_acks, 1u);
  bool delivered = false;
  while (auto e = c.poll_event()) delivered |= std::holds_alternative<DeliveredEvent>(*e);
  EXPECT_TRUE(delivered);
  EXPECT_EQ(c.stats().bytes_in_flight, 0u);
}

}  // namespace
}  // namespace hana::protocol::test
