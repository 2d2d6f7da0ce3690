// The bounded app->loop queue and the message pool under concurrency. Part of the TSan
// build (clang-14, -DHANA_SANITIZE=thread). TSan does not model moodycamel's standalone
// fences and reports races inside concurrentqueue.h; tests/engine/tsan.supp suppresses
// exactly `race:moodycamel::` and nothing else. Run with
//   TSAN_OPTIONS=suppressions=$PWD/tests/engine/tsan.supp build-tsan/tests/hana_engine_tests
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "engine/app_queue.h"
#include "engine/event_queues.h"
#include "engine/message_pool.h"

namespace hana::engine {
namespace {

TEST(BoundedQueue, RejectsBeyondCapacityAndRecovers) {
  BoundedQueue<int> q(4);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(q.try_push(int{i}));
  EXPECT_FALSE(q.try_push(99));
  EXPECT_EQ(q.depth(), 4u);
  int v = -1;
  ASSERT_TRUE(q.try_pop(v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(q.try_push(5));
  EXPECT_FALSE(q.try_push(6));
}

Event traffic(EventKind kind, Lane lane, MessageId id) {
  Event e;
  e.kind = kind;
  e.lane = lane;
  e.id = id;
  return e;
}

// Lanes end to end: a High message never waits behind Bulk events the application has
// not read; the mesh's own events count as urgent; each class keeps its order.
TEST(EventQueues, ControlHighAndMeshEventsComeBeforeQueuedNormalAndBulkTraffic) {
  EventQueues q(8);
  EventQueues::Producer p(q);
  ASSERT_TRUE(q.try_push(p, traffic(EventKind::Received, Lane::Bulk, 1)));
  ASSERT_TRUE(q.try_push(p, traffic(EventKind::Delivered, Lane::Normal, 2)));
  ASSERT_TRUE(q.try_push(p, traffic(EventKind::Received, Lane::High, 3)));
  ASSERT_TRUE(q.try_push(p, traffic(EventKind::PeerConnected, Lane::Bulk, 4)));  // lane is irrelevant
  ASSERT_TRUE(q.try_push(p, traffic(EventKind::Failed, Lane::Control, 5)));
  ASSERT_TRUE(q.try_push(p, traffic(EventKind::Received, Lane::Bulk, 6)));
  EXPECT_EQ(q.depth(), 6u);
  std::vector<MessageId> order;
  Event e;
  while (q.try_pop(e)) order.push_back(e.id);
  EXPECT_EQ(order, (std::vector<MessageId>{3, 4, 5, 1, 2, 6}));
  EXPECT_EQ(q.depth(), 0u);
}

TEST(EventQueues, EachClassIsBoundedOnItsOwn) {
  EventQueues q(2);
  EventQueues::Producer p(q);
  EXPECT_TRUE(q.try_push(p, traffic(EventKind::Received, Lane::Bulk, 1)));
  EXPECT_TRUE(q.try_push(p, traffic(EventKind::Received, Lane::Bulk, 2)));
  EXPECT_FALSE(q.try_push(p, traffic(EventKind::Received, Lane::Bulk, 3))) << "Bulk class full";
  EXPECT_TRUE(q.try_push(p, traffic(EventKind::Received, Lane::High, 4))) << "a full Bulk class cannot block High";
}

TEST(BoundedQueue, ManyProducersOneConsumerLoseNothingAndKeepPerProducerOrder) {
  constexpr int kProducers = 3;
  constexpr int kPerProducer = 20000;
  BoundedQueue<std::uint64_t> q(256);
  std::atomic<int> full{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer;) {
        if (q.try_push((std::uint64_t(p) << 32) | std::uint64_t(i))) {
          ++i;
        } else {
          full.fetch_add(1, std::memory_order_relaxed);
          std::this_thread::yield();
        }
      }
    });
  }
  std::vector<int> next(kProducers, 0);
  int received = 0;
  std::uint64_t v;
  // Bounded: every element is pushed eventually; the cap just stops a hang from looping forever.
  for (long spins = 0; received < kProducers * kPerProducer && spins < 2'000'000'000L; ++spins) {
    if (!q.try_pop(v)) continue;
    const int p = static_cast<int>(v >> 32);
    const int i = static_cast<int>(v & 0xffffffff);
    ASSERT_EQ(i, next[p]) << "producer " << p;
    ++next[p];
    ++received;
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(received, kProducers * kPerProducer);
  EXPECT_LE(q.depth(), 0u);
}

TEST(MessagePool, ExhaustsAtCapacityAndLargeMessagesGoToTheHeap) {
  MessagePool pool(4, 64);
  std::uint8_t data[200] = {1, 2, 3};
  MessageRef refs[5];
  bool large = false;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(pool.store(data, 10, refs[i], large));
  EXPECT_FALSE(large);
  EXPECT_FALSE(pool.store(data, 10, refs[4], large));
  MessageRef big;
  ASSERT_TRUE(pool.store(data, 200, big, large));
  EXPECT_TRUE(large);
  EXPECT_EQ(pool.data(big)[2], 3);
  pool.release(big);
  pool.release(refs[0]);
  EXPECT_TRUE(pool.store(data, 10, refs[4], large));
  EXPECT_EQ(pool.data(refs[4])[1], 2);
  for (auto& r : refs) pool.release(r);
}

// A stream of large messages reuses a few heap blocks instead of allocating (and faulting
// in) a fresh one per message; a block too small for the next message is replaced.
TEST(LargeBlocks, ReleasedBlocksAreReusedWhenBigEnough) {
  LargeBlocks blocks;
  std::uint8_t* a = blocks.take(100'000);
  blocks.give(a);
  EXPECT_EQ(blocks.take(50'000), a) << "a kept block serves a smaller message";
  blocks.give(a);
  std::uint8_t* b = blocks.take(200'000);
  EXPECT_NE(b, nullptr);
  b[199'999] = 1;  // the whole size is usable (ASan checks it)
  blocks.give(b);
  std::vector<std::uint8_t*> many;
  for (int i = 0; i < 10; ++i) many.push_back(blocks.take(1000));
  for (auto* p : many) blocks.give(p);  // beyond kKept they are freed (LSan checks the rest)
}

TEST(MessagePool, ConcurrentStoreAndReleaseNeverHandsOutASlotTwice) {
  constexpr std::uint32_t kSlots = 64;
  MessagePool pool(kSlots, 16);
  std::vector<std::atomic<int>> owners(kSlots);
  std::atomic<bool> duplicate{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      std::uint8_t data[8] = {};
      for (int i = 0; i < 20000; ++i) {
        MessageRef ref;
        bool large = false;
        if (!pool.store(data, 8, ref, large)) continue;
        if (owners[ref.slot].fetch_add(1) != 0) duplicate = true;
        owners[ref.slot].fetch_sub(1);
        pool.release(ref);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(duplicate.load());
  // Every slot came back.
  MessageRef refs[kSlots];
  std::uint8_t data[8] = {};
  bool large = false;
  for (auto& r : refs) ASSERT_TRUE(pool.store(data, 8, r, large));
  for (auto& r : refs) pool.release(r);
}

}  // namespace
}  // namespace hana::engine
