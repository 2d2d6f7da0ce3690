// Property tests of protocol::Connection over the deterministic simulator: for several
// seeds and loss rates, with duplication and reordering, every message obeys its
// delivery mode (see FlowOracle for the exact list of checks).
#include <gtest/gtest.h>

#include <tuple>

#include "protocol/sim/conn_scenario.h"
#include "sim_test_util.h"

namespace hana::sim {
namespace {

using testing::expect_delivery_properties;
using testing::soak_factor;

ConnScenario mixed_scenario(std::uint64_t seed, double loss, std::uint64_t messages) {
  ConnScenario sc;
  sc.seed = seed;
  sc.link.loss = loss;
  sc.link.duplicate = 0.01;
  sc.link.reorder = 0.02;
  sc.link.jitter_ns = 5 * kNsPerUs;
  sc.link.bandwidth_bits_per_sec = 1'000'000'000;
  sc.streams = default_mix(messages, 20'000);
  return sc;
}

class LossSweep : public ::testing::TestWithParam<std::tuple<double, std::uint64_t>> {};

TEST_P(LossSweep, EveryMessageObeysItsDeliveryMode) {
  const auto [loss, seed] = GetParam();
  const std::uint64_t messages = 10'000 * soak_factor();
  const auto r = run_conn_scenario(mixed_scenario(seed, loss, messages));
  const std::string label = "loss=" + std::to_string(loss) + " seed=" + std::to_string(seed);
  expect_delivery_properties(r, label);
  // Every failure must carry a budget reason (nothing else can end a message here).
  const auto& by = r.report.failed_by_reason;
  EXPECT_EQ(by[static_cast<int>(FailReason::RetryBudget)] + by[static_cast<int>(FailReason::Deadline)],
            r.report.failed)
      << label;
  // Nothing may fail with the default budget (30 retransmits, 5 s deadline): running out
  // of retransmits takes 31 consecutive losses (0.3^31 ~ 6e-17), and the offered load
  // (~230 Mbit/s on a 1 Gbit/s link) leaves room to repair even 30% loss, so a Deadline
  // failure means recovery is broken (as it was before min_cwnd 16 / two-probe PTOs:
  // 5 762 deadline failures in 100 000 messages at 30%).
  EXPECT_EQ(r.report.failed, 0u) << label;
  if (loss > 0) {
    EXPECT_GT(r.senders.retransmits, 0u) << label;  // the loss was real and was repaired
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, LossSweep,
                         ::testing::Combine(::testing::Values(0.0, 0.01, 0.05, 0.10, 0.30),
                                            ::testing::Values(1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u)),
                         [](const auto& info) {
                           return "loss" + std::to_string(static_cast<int>(std::get<0>(info.param) * 100)) +
                                  "_seed" + std::to_string(std::get<1>(info.param));
                         });

// A jittery path: every datagram gets 0-2 ms of extra one-way delay (so packets overtake
// each other constantly) and 2% are lost. Loss detection must learn the reordering
// (RACK window from the observed extent) instead of declaring every slow packet lost:
// at most 5% of retransmissions may be spurious (before: ~100%).
TEST(ConnectionSim, JitteryPathKeepsSpuriousRetransmissionsAtMostFivePercent) {
  // The bound holds for the path over all seeds: one seed has ~600 retransmits, whose
  // spurious share spreads by about a point from run to run (4.99 % for one seed before
  // path-MTU probes shifted the packet sequence, 5.6 % for another after, 4.6 % and 4.3 %
  // over all three), so a single seed's count is mostly noise.
  std::uint64_t spurious = 0, retransmits = 0;
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    ConnScenario sc;
    sc.seed = seed;
    sc.link.loss = 0.02;
    sc.link.jitter_ns = 2 * kNsPerMs;
    sc.link.bandwidth_bits_per_sec = 1'000'000'000;
    sc.streams = default_mix(20'000, 20'000);
    const auto r = run_conn_scenario(sc);
    const std::string label = "jitter seed=" + std::to_string(seed);
    expect_delivery_properties(r, label);
    ASSERT_GT(r.senders.retransmits, 0u) << label;
    spurious += r.senders.spurious_retransmits;
    retransmits += r.senders.retransmits;
  }
  EXPECT_LE(static_cast<double>(spurious), 0.05 * static_cast<double>(retransmits))
      << spurious << " of " << retransmits << " retransmits were spurious";
}


// high_redundancy: copies of every Control/High datagram on a lossy, duplicating,
// reordering link. Fragmented and latest-value HIGH messages are in the mix; the oracle
// checks exactly-once, order per lane and latest-value rules, and nothing may fail.
class RedundancySweep : public ::testing::TestWithParam<std::tuple<double, std::uint32_t, std::uint64_t>> {};

TEST_P(RedundancySweep, EveryMessageObeysItsDeliveryModeWithCopies) {
  const auto [loss, copies, spacing_us] = GetParam();
  for (std::uint64_t seed : {1u, 2u}) {
    ConnScenario sc = mixed_scenario(seed, loss, 0);
    sc.config.high_redundancy = copies;
    sc.config.redundancy_spacing_us = spacing_us;
    const std::uint64_t n = 1'500 * soak_factor();
    sc.streams = {
        {Lane::Control, Delivery::ReliableOrdered, false, 0, 16, 128, 1'000, n},
        {Lane::High, Delivery::ReliableOrdered, false, 0, 64, 6'000, 2'000, n},  // up to 5 fragments
        {Lane::High, Delivery::ReliableOrdered, true, 8, 64, 3'000, 2'000, n},   // latest-value, fragmented too
        {Lane::High, Delivery::UnreliableSequenced, false, 0, 32, 256, 1'000, n},
        {Lane::Normal, Delivery::ReliableUnordered, false, 0, 64, 1'400, 1'000, n},
        {Lane::Bulk, Delivery::ReliableOrdered, false, 0, 1'024, 8'192, 1'000, n},
    };
    const auto r = run_conn_scenario(sc);
    const std::string label = "loss=" + std::to_string(loss) + " copies=" + std::to_string(copies) +
                              " spacing=" + std::to_string(spacing_us) + " seed=" + std::to_string(seed);
    expect_delivery_properties(r, label);
    EXPECT_EQ(r.report.failed, 0u) << label;
    EXPECT_GT(r.senders.redundant_packets, 0u) << label;
  }
}

INSTANTIATE_TEST_SUITE_P(Copies, RedundancySweep,
                         ::testing::Combine(::testing::Values(0.0, 0.05, 0.30), ::testing::Values(1u, 2u),
                                            ::testing::Values(0u, 200u)),
                         [](const auto& info) {
                           return "loss" + std::to_string(static_cast<int>(std::get<0>(info.param) * 100)) +
                                  "_copies" + std::to_string(std::get<1>(info.param)) + "_spacing" +
                                  std::to_string(std::get<2>(info.param));
                         });

// Under Gilbert-Elliott bursts the copies must not break anything either, and a copy
// spaced beyond the burst repairs what a back-to-back copy (lost in the same burst) cannot.
TEST(ConnectionSim, BurstLossWithAndWithoutRedundancyKeepsEveryMessage) {
  for (std::uint32_t copies : {0u, 1u}) {
    ConnScenario sc;
    sc.seed = 3;
    sc.link.burst_loss = 0.02;
    sc.link.burst_mean = 3;
    sc.config.high_redundancy = copies;
    sc.streams = {{Lane::High, Delivery::ReliableOrdered, false, 0, 64, 64, 1'000, 5'000}};
    const auto r = run_conn_scenario(sc);
    const std::string label = "burst copies=" + std::to_string(copies);
    expect_delivery_properties(r, label);
    EXPECT_EQ(r.report.failed, 0u) << label;
    EXPECT_GT(r.network.lost, 0u) << label;
  }
}

TEST(ConnectionSim, SameSeedSameRun) {
  const auto a = run_conn_scenario(mixed_scenario(9, 0.05, 1'000));
  const auto b = run_conn_scenario(mixed_scenario(9, 0.05, 1'000));
  const auto c = run_conn_scenario(mixed_scenario(10, 0.05, 1'000));
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.outcome.now, b.outcome.now);
  EXPECT_EQ(a.outcome.steps, b.outcome.steps);
  EXPECT_EQ(a.senders.retransmits, b.senders.retransmits);
  EXPECT_EQ(a.all_latency.p99_ns, b.all_latency.p99_ns);
  EXPECT_NE(a.trace_hash, c.trace_hash);
}

TEST(ConnectionSim, ExhaustedBudgetFailsWithAReason) {
  // One retransmit allowed at 50% loss: many messages must fail, each with RetryBudget
  // (or Deadline), and every other reliable message still arrives exactly once.
  ConnScenario sc = mixed_scenario(4, 0.5, 1'000);
  sc.link.duplicate = 0;
  sc.config.max_retransmits = 1;
  const auto r = run_conn_scenario(sc);
  expect_delivery_properties(r, "budget");
  EXPECT_GT(r.report.failed, 0u);
  const auto& by = r.report.failed_by_reason;
  EXPECT_EQ(by[static_cast<int>(FailReason::RetryBudget)] + by[static_cast<int>(FailReason::Deadline)],
            r.report.failed);
}

TEST(ConnectionSim, UnreliableSequencedNeverGoesBackwardsUnderHeavyReordering) {
  ConnScenario sc;
  sc.seed = 5;
  sc.link.reorder = 0.3;
  sc.link.jitter_ns = 200 * kNsPerUs;  // jitter far above the send interval: constant reordering
  sc.link.loss = 0.05;
  sc.streams = {{Lane::High, Delivery::UnreliableSequenced, false, 0, 32, 200, 10'000, 5'000}};
  const auto r = run_conn_scenario(sc);
  expect_delivery_properties(r, "sequenced");
  EXPECT_GT(r.senders.lanes[1].stale_dropped + r.report.unreliable_lost, 0u);  // reordering really happened
}

TEST(ConnectionSim, LatestValueNeverDeliversAStaleVersion) {
  // Four keys updated as fast as the lane accepts them over a slow link: older unsent
  // versions get coalesced, reordering tries to deliver old ones late.
  ConnScenario sc;
  sc.seed = 6;
  sc.link.loss = 0.05;
  sc.link.reorder = 0.1;
  sc.link.duplicate = 0.02;
  sc.link.bandwidth_bits_per_sec = 5'000'000;
  sc.streams = {{Lane::Normal, Delivery::ReliableOrdered, true, 4, 64, 512, 0, 5'000}};
  const auto r = run_conn_scenario(sc);
  expect_delivery_properties(r, "latest-value");
  EXPECT_GT(r.senders.lanes[2].coalesced, 0u);
}

TEST(ConnectionSim, PartitionFailsMessagesWithDeadlineAndRecoversAfterHeal) {
  // Node 0 is cut off for 400 ms of a 1 s High-lane stream; the deadline is 100 ms, the
  // idle timeout (3 s) keeps the connection open across the partition.
  ConnScenario sc;
  sc.seed = 12;
  sc.link.loss = 0.01;
  sc.config.message_deadline_ms = 100;
  sc.streams = {{Lane::High, Delivery::ReliableOrdered, false, 0, 64, 256, 1'000, 1'000}};
  sc.partitions = {{300 * kNsPerMs, 700 * kNsPerMs}};
  const auto r = run_conn_scenario(sc);
  expect_delivery_properties(r, "partition");
  EXPECT_GT(r.network.partition_dropped, 0u);
  // 400 messages are sent while cut off. Those sent in the last 100 ms may still make
  // their deadline if a probe gets through right after the heal (the probe timeout is
  // backed off by then), so between ~300 and ~400 fail; the band leaves room either way.
  EXPECT_GT(r.report.failed, 200u);
  EXPECT_LT(r.report.failed, 450u);
  EXPECT_EQ(r.report.failed_by_reason[static_cast<int>(FailReason::Deadline)], r.report.failed);
  // Everything else arrives, including what was sent after the heal.
  EXPECT_EQ(r.report.received + r.report.failed, r.report.sent);
  EXPECT_GT(r.report.received, 550u);
}

TEST(ConnectionSim, PeerCrashEndsEveryPendingMessageWithAReason) {
  // The receiver freezes for good at 300 ms of a 1 s stream. Everything it had not
  // confirmed, and everything sent later, must end in Failed with a reason (deadline,
  // idle-timeout close or retry budget) — never hang without an outcome.
  ConnScenario sc;
  sc.seed = 14;
  sc.config.message_deadline_ms = 500;
  sc.streams = {{Lane::High, Delivery::ReliableOrdered, false, 0, 64, 256, 1'000, 1'000}};
  sc.crashes = {{1, 300 * kNsPerMs}};
  const auto r = run_conn_scenario(sc);
  expect_delivery_properties(r, "crash");
  EXPECT_GT(r.report.failed, 650u);
  EXPECT_LT(r.report.received, 350u);
  const auto& by = r.report.failed_by_reason;
  EXPECT_EQ(by[static_cast<int>(FailReason::Deadline)] + by[static_cast<int>(FailReason::Closed)] +
                by[static_cast<int>(FailReason::RetryBudget)],
            r.report.failed);
}

TEST(ConnectionSim, LargeFragmentedMessagesArriveIntact) {
  // 64 KiB .. 1 MiB messages (45..720 fragments each) at 5% loss with duplication and
  // reordering, ordered and unordered: every byte is checked by the payload filler.
  ConnScenario sc;
  sc.seed = 13;
  sc.link.loss = 0.05;
  sc.link.duplicate = 0.01;
  sc.link.reorder = 0.02;
  sc.link.bandwidth_bits_per_sec = 1'000'000'000;
  sc.streams = {{Lane::Bulk, Delivery::ReliableOrdered, false, 0, 64 * 1024, 1024 * 1024, 0, 12},
                {Lane::Normal, Delivery::ReliableUnordered, false, 0, 64 * 1024, 256 * 1024, 0, 12}};
  const auto r = run_conn_scenario(sc);
  expect_delivery_properties(r, "large");
  EXPECT_EQ(r.report.received, 24u);
  EXPECT_EQ(r.report.failed, 0u);
}

TEST(ConnectionSim, FourNodesAllPairs) {
  ConnScenario sc = mixed_scenario(8, 0.05, 300);
  sc.nodes = 4;
  sc.all_pairs = true;
  const auto r = run_conn_scenario(sc);
  expect_delivery_properties(r, "4 nodes");
  EXPECT_EQ(r.report.failed, 0u);
}

}  // namespace
}  // namespace hana::sim
