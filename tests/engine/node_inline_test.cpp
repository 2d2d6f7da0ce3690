// Threading::Inline: no loop thread; the test thread drives node `a` through
// poll_event/wait_event, while sends may still come from other threads. The peer `b`
// runs a dedicated loop thread.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "node_harness.h"

namespace hana::test {
namespace {

std::unique_ptr<Node> start_inline(IoBackend backend, const Config& config = {}) {
  NodeOptions o = loopback_options(backend);
  o.threading = Threading::Inline;
  return start_node_with(config, std::move(o));
}

class NodeInlineTest : public ::testing::TestWithParam<IoBackend> {};

TEST_P(NodeInlineTest, InlineNodeSendsReceivesAndConfirmsWhileOtherThreadsSend) {
  const Config c = patient_failure_detection();  // a busy sender thread must not look like a dead peer
  auto a = start_inline(GetParam(), c);
  auto b = start_node(GetParam(), c);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->backend(), GetParam());
  const auto ids = connect_pair(*a, *b);  // pumping `a` drives its loop
  const NodeId b_id = ids.first;
  ASSERT_NE(b_id, 0u);
  // Another thread sends through the inline node while this thread drives it.
  constexpr int kPerThread = 500;
  std::atomic<int> accepted_other{0};
  std::thread other([&] {
    const std::uint8_t payload[32] = {2};
    for (int i = 0; i < kPerThread; ++i) {
      for (int attempt = 0; attempt < 100000; ++attempt) {
        if (a->send(b_id, Lane::Normal, payload).ok()) {
          ++accepted_other;
          break;
        }
        std::this_thread::yield();
      }
    }
  });
  std::set<MessageId> ours;
  const std::uint8_t payload[32] = {1};
  std::set<MessageId> delivered;
  Event ev;
  const TimeNs deadline = engine::monotonic_now_ns() + 20 * kNsPerSec;
  int sent = 0;
  while (engine::monotonic_now_ns() < deadline &&
         (sent < kPerThread || delivered.size() < ours.size() + static_cast<std::size_t>(accepted_other.load()) ||
          accepted_other.load() < kPerThread)) {
    if (sent < kPerThread) {
      auto r = a->send(b_id, Lane::High, payload);
      if (r.ok()) {
        ours.insert(*r);
        ++sent;
      }
    }
    if (a->wait_event(ev, kNsPerMs) && ev.kind == EventKind::Delivered) delivered.insert(ev.id);
  }
  other.join();
  EXPECT_EQ(accepted_other.load(), kPerThread);
  EXPECT_EQ(delivered.size(), 2u * kPerThread);
  for (MessageId id : ours) EXPECT_TRUE(delivered.count(id));
  int received = 0;
  pump_until(*b, [&](Event& e) { received += e.kind == EventKind::Received; },
             [&] { return received >= 2 * kPerThread; }, 10 * kNsPerSec);
  EXPECT_EQ(received, 2 * kPerThread);
  const NodeStats s = a->stats();  // inline: taken on this thread
  EXPECT_EQ(s.peers.size(), 1u);
  EXPECT_GT(s.engine_counter("loop_turns"), 0u);
}

TEST_P(NodeInlineTest, InlineStopSettlesEveryPendingMessage) {
  auto a = start_inline(GetParam());
  auto b = start_node(GetParam());
  ASSERT_TRUE(a && b);
  const NodeId b_id = connect_pair(*a, *b).first;
  ASSERT_NE(b_id, 0u);
  std::set<MessageId> accepted;
  const std::uint8_t payload[64] = {3};
  for (int i = 0; i < 300; ++i) {
    auto r = a->send(b_id, Lane::Normal, payload);
    if (r.ok()) accepted.insert(*r);
  }
  a->stop();  // drives the loop until flushed (b is healthy) or stop_flush_ms
  std::set<MessageId> settled;
  Event ev;
  for (int i = 0; i < 1'000'000 && a->poll_event(ev); ++i) {
    if (ev.kind == EventKind::Delivered || ev.kind == EventKind::Failed) {
      EXPECT_TRUE(settled.insert(ev.id).second);
    }
  }
  EXPECT_EQ(settled, accepted);
  EXPECT_FALSE(a->wait_event(ev, kNsPerMs));  // stopped: nothing more, and no hang
}

INSTANTIATE_TEST_SUITE_P(Backends, NodeInlineTest, ::testing::Values(IoBackend::Uring, IoBackend::Epoll),
                         backend_name);

}  // namespace
}  // namespace hana::test
