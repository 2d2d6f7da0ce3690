// Received packet numbers -> ACK ranges, duplicate suppression, ack timing.
#include <gtest/gtest.h>

#include "protocol/ack_tracker.h"

namespace hana::protocol {
namespace {

std::vector<AckRange> ranges(const AckTracker& t) {
  std::vector<AckRange> v;
  for (std::size_t i = 0; i < t.range_count(); ++i) v.push_back(t.range(i));
  return v;
}

TEST(AckTracker, MergesAndSplitsRanges) {
  AckTracker t;
  for (std::uint64_t pn : {0, 1, 2, 5, 6, 9}) EXPECT_EQ(t.on_packet(pn, 0), AckTracker::Arrival::New);
  EXPECT_EQ(ranges(t), (std::vector<AckRange>{{9, 9}, {5, 6}, {0, 2}}));
  EXPECT_EQ(t.on_packet(4, 0), AckTracker::Arrival::New);  // extends {5,6} down
  EXPECT_EQ(t.on_packet(3, 0), AckTracker::Arrival::New);  // joins {0,2} and {4,6}
  EXPECT_EQ(ranges(t), (std::vector<AckRange>{{9, 9}, {0, 6}}));
  EXPECT_EQ(t.on_packet(8, 0), AckTracker::Arrival::New);
  EXPECT_EQ(t.on_packet(7, 0), AckTracker::Arrival::New);
  EXPECT_EQ(ranges(t), (std::vector<AckRange>{{0, 9}}));
  EXPECT_EQ(t.on_packet(20, 0), AckTracker::Arrival::New);
  EXPECT_EQ(t.on_packet(15, 0), AckTracker::Arrival::New);  // isolated, between ranges
  EXPECT_EQ(ranges(t), (std::vector<AckRange>{{20, 20}, {15, 15}, {0, 9}}));
}

TEST(AckTracker, DetectsDuplicates) {
  AckTracker t;
  for (std::uint64_t pn : {3, 4, 10}) ASSERT_EQ(t.on_packet(pn, 0), AckTracker::Arrival::New);
  EXPECT_EQ(t.on_packet(3, 0), AckTracker::Arrival::Duplicate);
  EXPECT_EQ(t.on_packet(10, 0), AckTracker::Arrival::Duplicate);
  EXPECT_EQ(t.on_packet(4, 0), AckTracker::Arrival::Duplicate);
  EXPECT_EQ(t.on_packet(7, 0), AckTracker::Arrival::New);
}

TEST(AckTracker, ForgetsOldestRangeAndTreatsOlderPacketsAsDuplicates) {
  AckTracker t;
  // Every other packet: each one is its own range.
  for (std::uint64_t i = 0; i < AckTracker::kTrackedRanges + 4; ++i) t.on_packet(2 * i, 0);
  EXPECT_EQ(t.range_count(), AckTracker::kTrackedRanges);
  EXPECT_EQ(t.on_packet(1, 0), AckTracker::Arrival::Duplicate);  // below the floor
  EXPECT_EQ(t.on_packet(2 * (AckTracker::kTrackedRanges + 3) - 1, 0), AckTracker::Arrival::New);
}

TEST(AckTracker, BuildsFrameWithMostRecentRangesAndDelay) {
  AckTracker t;
  for (std::uint64_t i = 0; i < 40; ++i) t.on_packet(3 * i, 1000);
  t.on_packet(200, 5 * kNsPerUs);
  AckFrame f;
  ASSERT_TRUE(t.build(f, 30 * kNsPerUs));
  EXPECT_EQ(f.range_count, kMaxAckRanges);
  EXPECT_EQ(f.largest(), 200u);
  EXPECT_EQ(f.ranges[1].largest, 117u);
  EXPECT_EQ(f.ack_delay_us, 25u);
  AckTracker empty;
  EXPECT_FALSE(empty.build(f, 0));
}

TEST(AckTracker, AckTiming) {
  const TimeNs delay = 100 * kNsPerUs;
  AckTracker t;
  t.on_packet(0, 0);
  t.on_packet_processed(false, false, false, 0, delay);
  EXPECT_FALSE(t.ack_pending()) << "ACK-only packets are not acked";
  t.on_packet(1, 0);
  t.on_packet_processed(true, false, false, 0, delay);
  EXPECT_TRUE(t.ack_pending());
  EXPECT_FALSE(t.ack_due(delay - 1));
  EXPECT_TRUE(t.ack_due(delay));
  t.on_packet(2, 10);
  t.on_packet_processed(true, false, false, 10, delay);
  EXPECT_TRUE(t.ack_due(10)) << "every second ack-eliciting packet";
  t.on_ack_sent();
  EXPECT_FALSE(t.ack_pending());
  t.on_packet(3, 20);
  t.on_packet_processed(true, true, false, 20, delay);
  EXPECT_TRUE(t.ack_due(20)) << "urgent lanes are acked at once when urgent_ack_delay is 0";
  t.on_ack_sent();
  t.on_packet(4, 20);
  t.on_packet_processed(true, true, false, 20, delay, 30);
  EXPECT_FALSE(t.ack_due(49)) << "urgent lanes wait urgent_ack_delay for a reply to carry the ack";
  EXPECT_TRUE(t.ack_due(50));
  t.on_ack_sent();
  t.on_packet(5, 20);
  t.on_packet_processed(true, true, false, 20, 10, 30);
  EXPECT_TRUE(t.ack_due(30)) << "never longer than max_ack_delay";
  t.on_ack_sent();
  t.on_packet(9, 30);
  t.on_packet_processed(true, false, true, 30, delay);
  EXPECT_TRUE(t.ack_due(30)) << "reordering is acked at once";
}

TEST(AckTracker, ExpediteOwesAHeldAckAtOnceAndOnlyIfOneIsHeld) {
  AckTracker t;
  EXPECT_FALSE(t.expedite(1000)) << "nothing received, nothing to flush";
  t.on_packet(1, 10);
  t.on_packet_processed(true, true, false, 10, 100, 30);
  EXPECT_FALSE(t.ack_due(11));
  EXPECT_FALSE(t.expedite(39)) << "the thread wakes before the ack is due: it may carry it";
  EXPECT_FALSE(t.ack_due(11));
  EXPECT_TRUE(t.expedite(40));
  EXPECT_TRUE(t.ack_due(11)) << "the thread sleeps past the ack's deadline: it goes now";
  t.on_ack_sent();
  EXPECT_FALSE(t.expedite(1000)) << "already sent";
  EXPECT_FALSE(t.ack_due(1000));
}

}  // namespace
}  // namespace hana::protocol

namespace hana::protocol {
namespace {

TEST(AckTracker, OldRangesDropOutOfFramesAfterTheHorizon) {
  AckTracker t;
  t.on_packet(0, 0);
  t.on_packet(2, 0);
  t.on_packet(4, 100);
  t.on_packet(6, 1000);
  AckFrame f;
  ASSERT_TRUE(t.build(f, 1000, kMaxAckRanges, 500));
  // {6} always; {4} touched at 100 -> 900 old, dropped; {2},{0} dropped.
  ASSERT_EQ(f.range_count, 1u);
  EXPECT_EQ(f.ranges[0], (AckRange{6, 6}));
  t.on_packet(1, 1000);  // fills a gap: {0..2} is fresh again
  ASSERT_TRUE(t.build(f, 1000, kMaxAckRanges, 500));
  ASSERT_EQ(f.range_count, 2u);
  EXPECT_EQ(f.ranges[1], (AckRange{0, 2}));
  // Still tracked for duplicate detection.
  EXPECT_EQ(t.on_packet(4, 1000), AckTracker::Arrival::Duplicate);
}

}  // namespace
}  // namespace hana::protocol
