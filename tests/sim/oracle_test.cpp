// The delivery oracle must catch each violation it claims to check; otherwise the
// property tests could pass vacuously. Fed with synthetic events here.
#include "protocol/sim/delivery_oracle.h"

#include <gtest/gtest.h>

#include <vector>

namespace hana::sim {
namespace {

struct Fixture {
  explicit Fixture(StreamSpec spec) : specs{spec}, oracle(specs) {}
  std::vector<StreamSpec> specs;
  FlowOracle oracle;
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(64);

  void send(std::uint64_t index) { oracle.on_sent(0, index, 100 + index, buf.size(), 0); }
  void receive(std::uint64_t index, TimeNs now = 10) {
    write_payload(buf, PayloadHeader{0, index, 0});
    const StreamSpec& s = specs[0];
    const std::uint64_t keys = s.keys ? s.keys : 1;
    oracle.on_received(protocol::ReceivedEvent{s.lane, s.delivery, s.latest_value, s.latest_value ? index % keys : 0,
                                               s.latest_value ? index + 1 : 0, buf},
                       now);
  }
  void delivered(std::uint64_t index) { oracle.on_delivered({100 + index, specs[0].lane}); }
  void failed(std::uint64_t index, FailReason r = FailReason::RetryBudget) {
    oracle.on_failed({100 + index, specs[0].lane, r});
  }
};

StreamSpec spec(Delivery d, bool latest = false, std::uint64_t messages = 10) {
  return StreamSpec{Lane::High, d, latest, 2, 32, 64, 0, messages};
}

TEST(SimOracle, CleanRunHasNoViolations) {
  Fixture f(spec(Delivery::ReliableOrdered, false, 3));
  for (int i = 0; i < 3; ++i) f.send(i);
  EXPECT_FALSE(f.oracle.settled());
  for (int i = 0; i < 3; ++i) f.receive(i);
  for (int i = 0; i < 3; ++i) f.delivered(i);
  EXPECT_TRUE(f.oracle.settled());
  f.oracle.finish();
  EXPECT_EQ(f.oracle.report().violations(), 0u);
  EXPECT_EQ(f.oracle.report().received, 3u);
  EXPECT_EQ(f.oracle.report().latency_ns[1].size(), 3u);
}

TEST(SimOracle, CatchesDuplicateAndOrderViolation) {
  Fixture f(spec(Delivery::ReliableOrdered));
  for (int i = 0; i < 3; ++i) f.send(i);
  f.receive(0);
  f.receive(2);
  f.receive(1);  // backwards
  f.receive(2);  // twice
  EXPECT_EQ(f.oracle.report().order_violations, 1u);
  EXPECT_EQ(f.oracle.report().duplicates, 1u);
}

TEST(SimOracle, CatchesSequencedGoingBackwards) {
  Fixture f(spec(Delivery::UnreliableSequenced));
  for (int i = 0; i < 3; ++i) f.send(i);
  f.receive(2);
  f.receive(1);
  EXPECT_EQ(f.oracle.report().sequence_violations, 1u);
  f.oracle.finish();
  EXPECT_EQ(f.oracle.report().unreliable_lost, 1u);  // message 0: allowed, counted
  EXPECT_EQ(f.oracle.report().missing, 0u);
}

TEST(SimOracle, CatchesStaleLatestValue) {
  Fixture f(spec(Delivery::ReliableOrdered, true, 6));  // 2 keys: 0,2,4 -> key 0
  for (int i = 0; i < 6; ++i) f.send(i);
  f.receive(4);
  f.receive(2);  // key 0 version 3 after version 5
  EXPECT_EQ(f.oracle.report().stale_versions, 1u);
}

TEST(SimOracle, CatchesDeliveredWithoutReceiptAndMissingMessages) {
  Fixture f(spec(Delivery::ReliableUnordered, false, 3));
  for (int i = 0; i < 3; ++i) f.send(i);
  f.delivered(0);  // never received
  f.receive(1);    // received, never confirmed
  f.failed(2);     // failed with a reason: fine
  f.oracle.finish();
  EXPECT_EQ(f.oracle.report().outcome_violations, 1u);
  EXPECT_EQ(f.oracle.report().missing, 1u);
  EXPECT_EQ(f.oracle.report().failed, 1u);
}

TEST(SimOracle, CatchesDoubleOutcomeUnknownIdAndCorruption) {
  Fixture f(spec(Delivery::ReliableUnordered, false, 2));
  f.send(0);
  f.receive(0);
  f.delivered(0);
  f.failed(0);
  f.oracle.on_delivered({999, Lane::High});
  EXPECT_EQ(f.oracle.report().outcome_violations, 2u);
  f.buf[40] ^= 1;  // corrupt the filler of a fresh payload
  std::vector<std::uint8_t> bad(64);
  write_payload(bad, PayloadHeader{0, 1, 0});
  bad[40] ^= 1;
  f.oracle.on_received(protocol::ReceivedEvent{Lane::High, Delivery::ReliableUnordered, false, 0, 0, bad}, 5);
  EXPECT_EQ(f.oracle.report().corrupted, 1u);
  // Right message, wrong lane.
  f.send(1);
  write_payload(bad, PayloadHeader{0, 1, 0});
  f.oracle.on_received(protocol::ReceivedEvent{Lane::Bulk, Delivery::ReliableUnordered, false, 0, 0, bad}, 5);
  EXPECT_EQ(f.oracle.report().corrupted, 2u);
}

TEST(SimOracle, PercentileIsNearestRank) {
  std::vector<TimeNs> v;
  for (TimeNs i = 1; i <= 100; ++i) v.push_back(101 - i);
  EXPECT_EQ(percentile(v, 50), 50u);
  EXPECT_EQ(percentile(v, 99), 99u);
  EXPECT_EQ(percentile(v, 100), 100u);
  EXPECT_EQ(percentile({}, 50), 0u);
}

}  // namespace
}  // namespace hana::sim
