// Steady state allocates nothing per message: a counting global operator new over two
// real nodes on loopback. Counts every allocation in the process (application threads
// and both event loops, protocol and mesh included) during a measured window of
// round trips after a warm-up of the same traffic.
//
// The bound is "not per message" rather than zero. Measured (backtraces of every
// allocation in the window): 0-4 per 5000 round trips, all below the engine — the
// protocol's out-message pools growing to a new in-flight high-water mark
// (protocol/connection.cpp, Connection::send -> set_payload). The mesh's output and event
// queues are rings that stop allocating at their high-water mark (topology/mesh_impl.h).
// The engine's own path (queues, message pool, backends, events) allocated 0. The test
// prints the count.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "node_harness.h"

// g++ flags free() inside a replacement operator delete as mismatched: it cannot see that
// the matching operator new above is the one using malloc.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// Sanitizer runtimes own operator new; there the test is skipped and nothing is replaced.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define HANA_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define HANA_SANITIZED 1
#endif
#endif

namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

#ifndef HANA_SANITIZED

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif  // HANA_SANITIZED

namespace hana::test {
namespace {

class AllocTest : public ::testing::TestWithParam<IoBackend> {};

// Sends `count` messages a -> b in windows of `window`; waits for every Received at b and
// every Delivered at a. No std::function or containers here: the test itself must not allocate.
bool run_traffic(Node& a, Node& b, NodeId b_id, int count, int window, Delivery delivery) {
  std::uint8_t payload[64] = {1, 2, 3};
  Event ev;
  int sent = 0, received = 0, confirmed = 0;
  const bool reliable = is_reliable(delivery);
  const TimeNs deadline = engine::monotonic_now_ns() + 30 * kNsPerSec;
  while ((received < count || (reliable && confirmed < count)) && engine::monotonic_now_ns() < deadline) {
    while (sent < count && sent - received < window) {
      payload[3] = static_cast<std::uint8_t>(sent);
      if (!a.send(b_id, Lane::High, payload, delivery).ok()) break;
      ++sent;
    }
    if (b.wait_event(ev, kNsPerMs) && ev.kind == EventKind::Received) ++received;
    while (b.poll_event(ev)) received += ev.kind == EventKind::Received;
    while (a.poll_event(ev)) confirmed += ev.kind == EventKind::Delivered;
  }
  if (received != count || (reliable && confirmed != count))
    std::fprintf(stderr, "run_traffic: sent %d received %d confirmed %d of %d\n", sent, received, confirmed, count);
  return received == count && (!reliable || confirmed == count);
}

TEST_P(AllocTest, SteadyStateAllocatesNothingPerMessage) {
#ifdef HANA_SANITIZED
  GTEST_SKIP() << "allocation counting needs our operator new; sanitizer runtimes replace it";
#endif
  auto a = start_node(GetParam());
  auto b = start_node(GetParam());
  ASSERT_TRUE(a && b);
  const auto ids = connect_pair(*a, *b);
  const NodeId b_id = ids.first;
  ASSERT_NE(b_id, 0u);
  // Warm-up: pools, queues' blocks, per-thread producer state, connection buffers.
  ASSERT_TRUE(run_traffic(*a, *b, b_id, 3000, 64, Delivery::ReliableOrdered));
  ASSERT_TRUE(run_traffic(*a, *b, b_id, 3000, 64, Delivery::ReliableOrdered));
  const std::uint64_t before = g_allocations.load();
  ASSERT_TRUE(run_traffic(*a, *b, b_id, 5000, 64, Delivery::ReliableOrdered));
  const std::uint64_t after = g_allocations.load();
  RecordProperty("allocations_in_5000_round_trips", static_cast<int>(after - before));
  std::printf("allocations during 5000 reliable round trips (%s): %llu\n", std::string(to_string(GetParam())).c_str(),
              static_cast<unsigned long long>(after - before));
  constexpr std::uint64_t kMessages = 5000;
  // Generous for slow (loaded) machines, where the time-driven gossip runs more often.
  EXPECT_LT(after - before, kMessages / 100) << "allocations grow with the message count";
}

INSTANTIATE_TEST_SUITE_P(Backends, AllocTest, ::testing::Values(IoBackend::Uring, IoBackend::Epoll), backend_name);

}  // namespace
}  // namespace hana::test
