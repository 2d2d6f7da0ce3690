// The scatter-gather send end to end on real loopback sockets, both backends: once the
// path carries 64 KiB datagrams, bulk fragments leave from their message without a copy
// (engine counter gathered_sends) and every message arrives intact; the fault injector
// (which joins a gathered datagram before it duplicates or delays it) and a keyed mesh
// (which seals a whole datagram, so never gathers) deliver the same bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "node_harness.h"

namespace hana::test {
namespace {

class GatheredSendTest : public ::testing::TestWithParam<IoBackend> {};

std::vector<std::uint8_t> pattern(std::size_t size, std::uint8_t tag) {
  std::vector<std::uint8_t> v(size);
  for (std::size_t i = 0; i < size; ++i) v[i] = static_cast<std::uint8_t>(i * 7 + tag + (i >> 12));
  return v;
}

// Sends `count` large Bulk messages a -> b, each awaited; true when all arrived unaltered.
bool large_messages_arrive(Node& a, Node& b, NodeId b_at_a, int count) {
  int received = 0;
  bool same = true;
  for (int i = 0; i < count; ++i) {
    const auto big = pattern(300'000, static_cast<std::uint8_t>(i));
    if (!a.send(b_at_a, Lane::Bulk, big).ok()) return false;
    pump_until(b, [&](Event& e) {
      if (e.kind != EventKind::Received) return;
      ++received;
      same = same && e.payload.bytes().size() == big.size() &&
             std::equal(big.begin(), big.end(), e.payload.bytes().begin());
    }, [&] { return received == i + 1; }, 10 * kNsPerSec);
    if (received != i + 1) return false;
  }
  return same;
}

// Connects a -> b and sends the large messages; true when all arrived unaltered.
bool pair_carries_large_messages(Node& a, Node& b) {
  const auto ids = connect_pair(a, b);
  return ids.first != 0 && large_messages_arrive(a, b, ids.first, 12);
}

NodeOptions keyed(IoBackend backend) {
  NodeOptions o = loopback_options(backend);
  PresharedKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(3 * i + 1);
  o.keys = {key};
  return o;
}

// The first messages find loopback's 64 KiB (path-MTU discovery); later ones are gathered.
TEST_P(GatheredSendTest, LargeFragmentsAreGatheredAndArriveIntact) {
  auto a = start_node(GetParam());
  auto b = start_node(GetParam());
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(pair_carries_large_messages(*a, *b));
  EXPECT_GT(a->stats().engine_counter("gathered_sends"), 0u);
}

TEST_P(GatheredSendTest, TheFaultInjectorJoinsGatheredDatagramsBeforeItActs) {
  Config c = patient_failure_detection();
  c.fault_duplicate_pct = 20;
  c.fault_reorder_pct = 20;
  c.fault_reorder_hold_us = 200;
  auto a = start_node(GetParam(), c);
  auto b = start_node(GetParam());
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(pair_carries_large_messages(*a, *b));
  EXPECT_GT(a->stats().engine_counter("gathered_sends"), 0u);
  EXPECT_GT(a->stats().engine_counter("fault_duplicated"), 0u);
  EXPECT_GT(a->stats().engine_counter("fault_delayed"), 0u);
}

TEST_P(GatheredSendTest, AKeyedMeshSealsWholeDatagramsAndNeverGathers) {
  auto a = start_node_with(patient_failure_detection(), keyed(GetParam()));
  auto b = start_node_with(patient_failure_detection(), keyed(GetParam()));
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(pair_carries_large_messages(*a, *b));
  EXPECT_EQ(a->stats().engine_counter("gathered_sends"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, GatheredSendTest, ::testing::Values(IoBackend::Uring, IoBackend::Epoll),
                         backend_name);

}  // namespace
}  // namespace hana::test
