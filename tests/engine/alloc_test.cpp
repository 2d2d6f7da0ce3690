// Steady state allocates nothing per message: a counting global operator new over two
// real nodes on loopback. Counts every allocation in the process (application threads
// and both event loops, protocol and mesh included) during a measured window of
// round trips after a warm-up of the same traffic.
//
// The bound is "not per message" rather than zero (the smallest count of three measured
// windows, see steady_state_allocations). Measured (backtraces of every
// allocation in the window, 50 runs on a loaded machine): 0 in most runs, 2-4 in some —
// one-off growth below the engine, never proportional to the message count. Two sources
// of larger one-off growth are kept out of the window on purpose, because they are not
// per message: the protocol's out-message pool growing to a new in-flight peak (the
// window bounds unconfirmed messages, so the warm-up reaches the peak), and the first
// link-quality reports (the warm-up waits for them). The engine's own path (queues,
// message pool, backends, events) allocated 0. The test prints the count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "node_harness.h"

#include "../support/counting_new.h"  // this TU replaces operator new for the binary

namespace hana::test {
namespace {

class AllocTest : public ::testing::TestWithParam<IoBackend> {};

// Sends `count` messages a -> b, at most `window` outstanding; waits for every Received at b and
// every Delivered at a. No std::function or containers here: the test itself must not allocate.
// `link_events` counts LinkQualityChanged events seen at either node. With `also`, a
// broadcasts each message instead, to b and `also` (its only members), and waits for both.
bool run_traffic(Node& a, Node& b, NodeId b_id, int count, int window, Delivery delivery, int* link_events = nullptr,
                 Node* also = nullptr) {
  std::uint8_t payload[64] = {1, 2, 3};
  Event ev;
  const int receivers = also != nullptr ? 2 : 1;
  // Per receiver ([0] b, [1] also): the window bounds each connection's messages in flight.
  int received[2] = {0, 0}, confirmed[2] = {0, 0};
  int sent = 0;
  const bool reliable = is_reliable(delivery);
  const auto done = [&](int r) { return received[r] >= count && (!reliable || confirmed[r] >= count); };
  const auto slowest = [&] {
    int least = count;
    for (int r = 0; r < receivers; ++r) least = std::min(least, reliable ? confirmed[r] : received[r]);
    return least;
  };
  const TimeNs deadline = engine::monotonic_now_ns() + 30 * kNsPerSec;
  while (!(done(0) && (receivers == 1 || done(1))) && engine::monotonic_now_ns() < deadline) {
    // The window counts messages not yet confirmed (reliable) or received: the protocol keeps
    // a message's pooled buffer until its ack, so this bounds the pools' high-water mark to
    // what the warm-up already reached. Counting only receptions let a slow ack path push
    // the in-flight peak past the warm-up's on a loaded machine (64 new pool entries at once).
    while (sent < count && sent - slowest() < window) {
      payload[3] = static_cast<std::uint8_t>(sent);
      const bool ok = also != nullptr ? a.broadcast(Lane::High, payload, delivery).ok()
                                      : a.send(b_id, Lane::High, payload, delivery).ok();
      if (!ok) break;
      ++sent;
    }
    const auto note_link = [&] {
      if (link_events && ev.kind == EventKind::LinkQualityChanged) ++*link_events;
    };
    if (b.wait_event(ev, kNsPerMs)) {
      received[0] += ev.kind == EventKind::Received;
      note_link();
    }
    while (b.poll_event(ev)) {
      received[0] += ev.kind == EventKind::Received;
      note_link();
    }
    while (also != nullptr && also->poll_event(ev)) {
      received[1] += ev.kind == EventKind::Received;
      note_link();
    }
    while (a.poll_event(ev)) {
      if (ev.kind == EventKind::Delivered) ++confirmed[ev.peer == b_id ? 0 : 1];
      note_link();
    }
  }
  bool ok = true;
  for (int r = 0; r < receivers; ++r) {
    if (done(r)) continue;
    std::fprintf(stderr, "run_traffic: receiver %d: sent %d received %d confirmed %d of %d\n", r, sent, received[r],
                 confirmed[r], count);
    ok = false;
  }
  return ok;
}

// Link-quality reports are time-driven, not per message: a node reports a link when it
// first measures it, then on a hysteresis change per link_report_interval_ms. The first
// reports create pool and table entries once; the warm-up waits for them (`link_reports`
// LinkQualityChanged events, then one more round so each report has arrived), and the long
// interval (config_for_counting) keeps later re-evaluations out of the ~30 ms measured
// window. Returns the allocations counted during `kMessages` messages (run_traffic: with
// `also`, broadcasts to b and also).
constexpr int kMessages = 5000;
Config config_for_counting() {
  Config config;
  config.link_report_interval_ms = 3'600'000;
  return config;
}
std::uint64_t steady_state_allocations(Node& a, Node& b, NodeId b_id, Node* also, int link_reports) {
  // Warm-up: pools, queues' blocks, per-thread producer state, connection buffers.
  // Waits on the condition, bounded in time (a fixed number of rounds ended before the
  // first report on a fast machine).
  // With `also`, b and c meet through a and connect to each other some time later; on a
  // loaded machine that connection (and its first link reports, new table entries at every
  // node) once landed in the measured window: 92 allocations. So the warm-up also waits
  // until every node is connected to every other and a whole round passes without a link
  // event.
  const std::size_t members = also != nullptr ? 2 : 1;
  const auto connected = [](Node& n) {
    std::size_t c = 0;
    for (const auto& p : n.stats().peers) c += p.connected ? 1 : 0;
    return c;
  };
  const auto full_mesh = [&] {
    return connected(a) == members && connected(b) == members && (also == nullptr || connected(*also) == members);
  };
  int link_events = 0;
  bool settled = false;
  const TimeNs warm_deadline = engine::monotonic_now_ns() + 20 * kNsPerSec;
  while (!settled && engine::monotonic_now_ns() < warm_deadline) {
    const int before = link_events;
    EXPECT_TRUE(run_traffic(a, b, b_id, 200, 64, Delivery::ReliableOrdered, &link_events, also));
    settled = link_events >= link_reports && link_events == before && full_mesh();
  }
  EXPECT_GE(link_events, link_reports) << "every node reports its first measurement of each link";
  EXPECT_TRUE(settled) << "the nodes never formed a full mesh with quiet link reports";
  EXPECT_TRUE(run_traffic(a, b, b_id, 3000, 64, Delivery::ReliableOrdered, nullptr, also));
  EXPECT_TRUE(run_traffic(a, b, b_id, 3000, 64, Delivery::ReliableOrdered, nullptr, also));
  // Three measured windows, the smallest count wins: a receive burst larger than any in
  // the warm-up (with GRO one read can bring a whole window of messages, rarely, on a
  // loaded machine) grows the receiving connection's buffer pool once, to that burst, in
  // whichever window it first happens (measured: 2 runs in 72 under two CPU hogs, 53-134
  // allocations, all pool growth; with two windows still 1 in 72, as a burst can grow
  // the pool twice). An allocation per message shows in every window.
  std::uint64_t least = ~std::uint64_t{0};
  for (int window = 0; window < 3; ++window) {
    g_allocations = 0;
    g_counting = true;
    EXPECT_TRUE(run_traffic(a, b, b_id, kMessages, 64, Delivery::ReliableOrdered, nullptr, also));
    g_counting = false;
    least = std::min<std::uint64_t>(least, g_allocations.load());
  }
  return least;
}

// Two nodes at config_for_counting(), connected; b_id is 0 when they did not connect.
struct CountingPair {
  std::unique_ptr<Node> a, b;
  NodeId b_id = 0;
};
CountingPair connected_counting_pair(IoBackend backend) {
  CountingPair p{start_node(backend, config_for_counting()), start_node(backend, config_for_counting())};
  if (p.a && p.b) p.b_id = connect_pair(*p.a, *p.b).first;
  return p;
}

TEST_P(AllocTest, SteadyStateAllocatesNothingPerMessage) {
#ifdef HANA_SANITIZED
  GTEST_SKIP() << "allocation counting needs our operator new; sanitizer runtimes replace it";
#endif
  auto [a, b, b_id] = connected_counting_pair(GetParam());
  ASSERT_NE(b_id, 0u);
  const std::uint64_t counted = steady_state_allocations(*a, *b, b_id, nullptr, 2);
  RecordProperty("allocations_in_5000_round_trips", static_cast<int>(counted));
  std::printf("allocations during 5000 reliable round trips (%s): %llu\n", std::string(to_string(GetParam())).c_str(),
              static_cast<unsigned long long>(counted));
  // Generous for slow (loaded) machines, where the time-driven gossip runs more often.
  EXPECT_LT(counted, std::uint64_t{kMessages} / 100) << "allocations grow with the message count";
}

// The same for Node::broadcast to two members: one shared payload per message, taken
// from and returned to the mesh's pool, and per-member events.
TEST_P(AllocTest, SteadyStateBroadcastAllocatesNothingPerMessage) {
#ifdef HANA_SANITIZED
  GTEST_SKIP() << "allocation counting needs our operator new; sanitizer runtimes replace it";
#endif
  auto a = start_node(GetParam(), config_for_counting());
  auto b = start_node(GetParam(), config_for_counting());
  auto c = start_node(GetParam(), config_for_counting());
  ASSERT_TRUE(a && b && c);
  const NodeId b_id = connect_pair(*a, *b).first;
  ASSERT_NE(b_id, 0u);
  ASSERT_NE(connect_pair(*a, *c).first, 0u);
  // b and c also learn of each other through a and connect; the warm-up waits for a's
  // reports of both links and b's and c's of theirs to a.
  const std::uint64_t counted = steady_state_allocations(*a, *b, b_id, c.get(), 4);
  RecordProperty("allocations_in_5000_broadcasts", static_cast<int>(counted));
  std::printf("allocations during 5000 reliable broadcasts to 2 members (%s): %llu\n",
              std::string(to_string(GetParam())).c_str(), static_cast<unsigned long long>(counted));
  EXPECT_LT(counted, std::uint64_t{kMessages} / 100) << "allocations grow with the message count";
}

// Messages larger than a message slot (Bulk, 100 KiB: fragmented, reassembled): the
// receiver hands each to the application in the block it was reassembled in, and the
// block comes back as the spare for a later message, so the stream allocates nothing per
// message either. Contents are checked (a marker at each end of the message).
bool run_large(Node& a, Node& b, NodeId b_id, int count, int window) {
  static std::uint8_t payload[100 * 1024];  // static: the test itself must not allocate
  Event ev;
  int sent = 0, received = 0, confirmed = 0, corrupt = 0;
  const TimeNs deadline = engine::monotonic_now_ns() + 30 * kNsPerSec;
  while ((received < count || confirmed < count) && engine::monotonic_now_ns() < deadline) {
    while (sent < count && sent - confirmed < window) {
      payload[0] = payload[sizeof payload - 1] = static_cast<std::uint8_t>(sent);
      if (!a.send(b_id, Lane::Bulk, payload, Delivery::ReliableOrdered).ok()) break;
      ++sent;
    }
    const auto take = [&] {
      if (ev.kind != EventKind::Received) return;
      const auto bytes = ev.payload.bytes();
      const auto want = static_cast<std::uint8_t>(received);
      if (bytes.size() != sizeof payload || bytes[0] != want || bytes[sizeof payload - 1] != want) ++corrupt;
      ++received;
    };
    if (b.wait_event(ev, kNsPerMs)) take();
    while (b.poll_event(ev)) take();
    while (a.poll_event(ev)) confirmed += ev.kind == EventKind::Delivered;
  }
  EXPECT_EQ(corrupt, 0) << "received messages with the wrong bytes";
  if (received < count || confirmed < count)
    std::fprintf(stderr, "run_large: sent %d received %d confirmed %d of %d\n", sent, received, confirmed, count);
  return received >= count && confirmed >= count && corrupt == 0;
}

TEST_P(AllocTest, LargeMessagesAreHandedOverWithoutACopyOrAnAllocation) {
#ifdef HANA_SANITIZED
  GTEST_SKIP() << "allocation counting needs our operator new; sanitizer runtimes replace it";
#endif
  auto [a, b, b_id] = connected_counting_pair(GetParam());
  ASSERT_NE(b_id, 0u);
  // Warm-up: small traffic until the link reports settle (as above), then large messages
  // (pools at their peak sizes, path-MTU discovery done).
  steady_state_allocations(*a, *b, b_id, nullptr, 2);
  ASSERT_TRUE(run_large(*a, *b, b_id, 300, 4));
  constexpr int kLarge = 2000;
  const std::uint64_t adopted = b->stats().engine_counter("payloads_adopted");
  EXPECT_GE(adopted, 300u) << "received large messages were copied, not handed over";
  g_allocations = 0;
  g_large_allocations = 0;
  g_counting = true;
  const bool ok = run_large(*a, *b, b_id, kLarge, 4);
  g_counting = false;
  EXPECT_TRUE(ok);
  const std::uint64_t counted = g_allocations.load(), large = g_large_allocations.load();
  std::printf("allocations during %d messages of 100 KiB (%s): %llu, %llu of them >= 64 KiB\n", kLarge,
              std::string(to_string(GetParam())).c_str(), static_cast<unsigned long long>(counted),
              static_cast<unsigned long long>(large));
  // A message buffer is allocated only when a burst outran the spare blocks (measured: 0-2
  // per 1000); the rest is the mesh's time-driven gossip (16-byte sort buffers), which a
  // window of 200 MB on a loaded machine sees more of than the small-message tests do.
  EXPECT_LT(large, std::uint64_t{kLarge} / 100) << "message buffers allocated per message";
  EXPECT_LT(counted, std::uint64_t{kLarge} / 40) << "allocations grow with the message count";
  EXPECT_GE(b->stats().engine_counter("payloads_adopted") - adopted, std::uint64_t{kLarge});
}

INSTANTIATE_TEST_SUITE_P(Backends, AllocTest, ::testing::Values(IoBackend::Uring, IoBackend::Epoll), backend_name);

}  // namespace
}  // namespace hana::test
