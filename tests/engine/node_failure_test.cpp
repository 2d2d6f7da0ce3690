// hana::Node under pressure and failure, both backends, real loopback sockets:
// QueueFull back-pressure, garbage datagrams, a peer that goes silent, and stop()
// with messages in flight.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <random>
#include <set>
#include <string>

#include "engine/socket.h"
#include "node_harness.h"

namespace hana::test {
namespace {

class NodeFailureTest : public ::testing::TestWithParam<IoBackend> {};

// Every accepted reliable id must end in exactly one Delivered or Failed.
struct Outcomes {
  std::set<MessageId> delivered, failed;
  std::map<FailReason, int> reasons;
  int duplicates = 0;
  void take(const Event& e) {
    if (e.kind == EventKind::Delivered) duplicates += !delivered.insert(e.id).second || failed.count(e.id);
    if (e.kind == EventKind::Failed) {
      duplicates += !failed.insert(e.id).second || delivered.count(e.id);
      ++reasons[e.reason];
    }
  }
  std::size_t settled() const { return delivered.size() + failed.size(); }
  // For a failure message: how the failed ones failed.
  std::string describe() const {
    std::string s = std::to_string(delivered.size()) + " delivered, " + std::to_string(failed.size()) + " failed";
    for (auto [reason, n] : reasons) s += std::string(", ") + std::string(to_string(reason)) + " " + std::to_string(n);
    return s;
  }
};

TEST_P(NodeFailureTest, FullQueueAnswersQueueFullAndEveryAcceptedMessageSettles) {
  // A test of back-pressure, not of failure detection: under TSan (clang-14) a thread
  // sometimes stops for 100-230 ms (traced in CI's failure: the loop's holder froze
  // mid-turn), and at the default knobs the peer is then declared dead and whatever is
  // in flight fails with Closed.
  Config c = patient_failure_detection();
  c.app_queue_messages = 1;  // one message per lane between the app and the loop
  // Shared threading (epoll) submits on the sender's thread: its back-pressure is the
  // connection's lane queue, which fills when the network is slower than the sender. Only
  // there: Dedicated's back-pressure is the one-message app queue, and a throttled link
  // only stretches the test (under TSan long enough to meet a reconnection, see the note
  // on issue 11).
  if (GetParam() == IoBackend::Epoll) {
    c.token_rate_bytes_per_sec = 100'000;
    c.token_burst_bytes = 4096;
  }
  auto a = start_node(GetParam(), c);
  auto b = start_node(GetParam(), patient_failure_detection());
  ASSERT_TRUE(a && b);
  const auto ids = connect_pair(*a, *b);
  const NodeId b_id = ids.first;
  ASSERT_NE(b_id, 0u);
  const std::uint8_t payload[32] = {1};
  std::set<MessageId> accepted;
  int queue_full = 0;
  // The app thread pushes far faster than the loop (Dedicated) or the network (Shared) takes them.
  for (int i = 0; i < 20000 && (queue_full == 0 || accepted.size() < 200); ++i) {
    auto r = a->send(b_id, Lane::Normal, payload);
    if (r.ok()) {
      accepted.insert(*r);
    } else {
      ASSERT_EQ(r.error().code, Errc::QueueFull);
      ++queue_full;
    }
  }
  EXPECT_GT(queue_full, 0);
  EXPECT_GE(a->stats().engine_counter("queue_full"), static_cast<std::uint64_t>(queue_full));
  Outcomes out;
  pump_until(*a, [&](Event& e) { out.take(e); }, [&] { return out.settled() >= accepted.size(); }, 20 * kNsPerSec);
  EXPECT_EQ(out.delivered.size(), accepted.size()) << out.describe();
  EXPECT_EQ(out.duplicates, 0);
}

TEST_P(NodeFailureTest, GarbageDatagramsAreCountedAndDroppedWhileTrafficContinues) {
  // Patient failure detection: this test is about garbage, not detection. Under TSan on a
  // loaded CI machine a process freezes for 100+ ms, and at the default knobs the peer was
  // declared Dead and the messages still unconfirmed failed (2 of 25 runs with two busy
  // loops beside it).
  auto a = start_node(GetParam(), patient_failure_detection());
  auto b = start_node(GetParam(), patient_failure_detection());
  ASSERT_TRUE(a && b);
  const auto ids = connect_pair(*a, *b);
  const NodeId b_id = ids.first;
  ASSERT_NE(b_id, 0u);
  auto raw = engine::UdpSocket::open(engine::SocketOptions{Address::ipv4(127, 0, 0, 1, 0)});
  ASSERT_TRUE(raw.ok());
  sockaddr_storage to{};
  const socklen_t to_len = engine::to_sockaddr(b->local_address(), to);
  std::mt19937 rng(1234);
  constexpr int kGarbage = 200;
  constexpr int kMessages = 200;
  std::set<MessageId> accepted;
  const std::uint8_t payload[100] = {9};
  for (int i = 0; i < kGarbage; ++i) {
    std::uint8_t junk[300];
    const std::size_t n = 1 + rng() % sizeof junk;
    for (auto& byte : junk) byte = static_cast<std::uint8_t>(rng());
    if (i % 2 == 0) {  // half of them start like a real datagram (magic + version)
      junk[0] = 'h';
      junk[1] = 'n';
      if (n > 2) junk[2] = 1;
    }
    ASSERT_EQ(::sendto(raw->fd(), junk, n, 0, reinterpret_cast<sockaddr*>(&to), to_len), static_cast<ssize_t>(n));
    auto r = a->send(b_id, Lane::High, payload);
    ASSERT_TRUE(r.ok());
    accepted.insert(*r);
  }
  int received = 0;
  pump_until(*b, [&](Event& e) { received += e.kind == EventKind::Received; }, [&] { return received >= kMessages; },
             20 * kNsPerSec);
  EXPECT_EQ(received, kMessages);
  Outcomes out;
  pump_until(*a, [&](Event& e) { out.take(e); }, [&] { return out.settled() >= accepted.size(); }, 20 * kNsPerSec);
  EXPECT_EQ(out.delivered.size(), accepted.size()) << out.describe();
  EXPECT_EQ(b->stats().engine_counter("bad_packets"), static_cast<std::uint64_t>(kGarbage));
}

TEST_P(NodeFailureTest, SilentPeerMakesPendingMessagesFailWithAReason) {
  Config c;
  c.message_deadline_ms = 300;
  c.idle_timeout_ms = 300;
  auto a = start_node(GetParam(), c);
  auto b = start_node(GetParam());
  ASSERT_TRUE(a && b);
  const auto ids = connect_pair(*a, *b);
  const NodeId b_id = ids.first;
  ASSERT_NE(b_id, 0u);
  // b "crashes": it drops everything it receives and sends (the engine's fault injector).
  ASSERT_TRUE(b->set("fault_inbound", "true").ok());
  ASSERT_TRUE(b->set("fault_loss_pct", "100").ok());
  (void)b->stats();  // a round trip through b's loop: the knobs are applied
  std::set<MessageId> accepted;
  const std::uint8_t payload[64] = {3};
  for (int i = 0; i < 50; ++i) {
    auto r = a->send(b_id, Lane::High, payload);
    ASSERT_TRUE(r.ok());
    accepted.insert(*r);
  }
  Outcomes out;
  pump_until(*a, [&](Event& e) { out.take(e); }, [&] { return out.settled() >= accepted.size(); }, 20 * kNsPerSec);
  EXPECT_EQ(out.failed.size(), accepted.size());
  EXPECT_TRUE(out.delivered.empty());
  EXPECT_EQ(out.duplicates, 0);
  int with_reason = 0;
  for (auto [reason, n] : out.reasons) {
    EXPECT_TRUE(reason == FailReason::Deadline || reason == FailReason::PeerDead ||
                reason == FailReason::RetryBudget || reason == FailReason::Closed)
        << to_string(reason);
    with_reason += n;
  }
  EXPECT_EQ(with_reason, static_cast<int>(accepted.size()));
}

TEST_P(NodeFailureTest, StopWithMessagesInFlightSettlesEveryMessage) {
  // b goes deaf below. Stop is under test here, not failure detection or the retry budget:
  // with 200 us probe timeouts and two probes per timeout the oldest message could spend
  // its max_retransmits (30) within stop()'s 100 ms flush and fail RetryBudget instead of
  // Closed (seen 3 times in 800 runs), and a 0.2 s detector could fail it PeerDead.
  Config c = patient_failure_detection();
  c.stop_flush_ms = 100;
  c.max_retransmits = 1000;
  auto a = start_node(GetParam(), c);
  auto b = start_node(GetParam(), patient_failure_detection());
  ASSERT_TRUE(a && b);
  const auto ids = connect_pair(*a, *b);
  const NodeId b_id = ids.first;
  ASSERT_NE(b_id, 0u);
  // b stops acknowledging: nothing can be delivered, so stop() must fail them.
  ASSERT_TRUE(b->set("fault_inbound", "true").ok());
  ASSERT_TRUE(b->set("fault_loss_pct", "100").ok());
  (void)b->stats();
  std::set<MessageId> accepted;
  const std::uint8_t payload[64] = {3};
  for (int i = 0; i < 500; ++i) {
    auto r = a->send(b_id, Lane::Normal, payload);
    if (r.ok()) accepted.insert(*r);
  }
  ASSERT_FALSE(accepted.empty());
  a->stop();
  EXPECT_FALSE(a->running());
  EXPECT_EQ(a->send(b_id, Lane::Normal, payload).error().code, Errc::Closed);
  Outcomes out;
  Event ev;
  for (int i = 0; i < 1'000'000 && a->poll_event(ev); ++i) out.take(ev);  // all queued before stop() returned
  EXPECT_EQ(out.settled(), accepted.size());
  EXPECT_EQ(out.duplicates, 0);
  EXPECT_EQ(out.reasons[FailReason::Closed], static_cast<int>(out.failed.size()))
      << "PeerDead " << out.reasons[FailReason::PeerDead] << ", RetryBudget " << out.reasons[FailReason::RetryBudget];
  EXPECT_EQ(out.failed.size(), accepted.size());
}

TEST_P(NodeFailureTest, StopFlushesDeliverableMessagesFirst) {
  auto a = start_node(GetParam());
  auto b = start_node(GetParam());
  ASSERT_TRUE(a && b);
  const auto ids = connect_pair(*a, *b);
  const NodeId b_id = ids.first;
  ASSERT_NE(b_id, 0u);
  std::set<MessageId> accepted;
  const std::uint8_t payload[64] = {3};
  for (int i = 0; i < 500; ++i) {
    auto r = a->send(b_id, Lane::Normal, payload);
    if (r.ok()) accepted.insert(*r);
  }
  a->stop();  // b is healthy: everything is delivered within stop_flush_ms
  Outcomes out;
  Event ev;
  for (int i = 0; i < 1'000'000 && a->poll_event(ev); ++i) out.take(ev);
  EXPECT_EQ(out.delivered.size(), accepted.size());
  EXPECT_TRUE(out.failed.empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, NodeFailureTest, ::testing::Values(IoBackend::Uring, IoBackend::Epoll),
                         backend_name);

}  // namespace
}  // namespace hana::test
