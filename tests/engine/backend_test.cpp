// Both backends over real loopback sockets: send/receive, GSO, MSG_TRUNC, ENOBUFS re-arm,
// wake-ups and timed waits. Every wait loop is bounded in count.
#include <algorithm>
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <cstring>
#include <thread>
#include <vector>

#include "engine/backend.h"
#include "engine/clock.h"
#include "numbered_datagrams.h"

namespace hana::engine {
namespace {

struct Collector final : ReceiveSink {
  std::vector<std::vector<std::uint8_t>> got;
  std::vector<Address> from;
  std::vector<TimeNs> received_at;
  void on_datagram(const Address& a, Bytes bytes, TimeNs at) override {
    got.emplace_back(bytes.begin(), bytes.end());
    from.push_back(a);
    received_at.push_back(at);
  }
};

struct Endpoint {
  UdpSocket socket;
  Counters counters;
  std::unique_ptr<Backend> backend;
};

std::unique_ptr<Endpoint> make_endpoint(BackendKind kind, BackendOptions options = {}) {
  auto ep = std::make_unique<Endpoint>();
  auto sock = UdpSocket::open(SocketOptions{Address::ipv4(127, 0, 0, 1, 0), 1 << 20, 1 << 20, false});
  EXPECT_TRUE(sock.ok());
  ep->socket = std::move(*sock);
  auto b = make_backend(kind, ep->socket, options, ep->counters);
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().message);
  if (b.ok()) ep->backend = std::move(*b);
  return ep;
}

// Ends every turn's receiving after its first batch, as the loop does when a batch
// completed a Control/High message.
struct YieldingCollector final : ReceiveSink {
  Collector inner;
  int batches = 0;
  void on_datagram(const Address& a, Bytes bytes, TimeNs received_at) override { inner.on_datagram(a, bytes, received_at); }
  bool batch_done() override {
    ++batches;
    return true;
  }
};

// Waits (bounded) until `sink` holds `n` datagrams.
void receive_until(Endpoint& ep, Collector& sink, std::size_t n, int max_waits = 2000) {
  for (int i = 0; i < max_waits && sink.got.size() < n; ++i)
    ep.backend->wait(monotonic_now_ns() + 5 * kNsPerMs, sink);
}

bool send_one(Endpoint& ep, const Address& to, std::uint32_t seq, std::size_t size) {
  MutableBytes buf = ep.backend->send_buffer();
  if (buf.size() < size) return false;
  write_numbered(buf, seq, size);
  ep.backend->commit_send(to, size, false, {});
  return true;
}

// Sends `count` 64-byte datagrams numbered 0..count-1, draining send completions whenever
// every slot is busy; false if a slot never came free.
bool send_burst(Endpoint& a, const Address& to, std::uint32_t count) {
  for (std::uint32_t i = 0; i < count; ++i) {
    if (send_one(a, to, i, 64)) continue;
    a.backend->flush();
    Collector none;
    a.backend->wait(0, none);
    if (!send_one(a, to, i, 64)) return false;
  }
  a.backend->flush();
  return true;
}

class BackendTest : public ::testing::TestWithParam<BackendKind> {};

TEST_P(BackendTest, SendsAndReceivesInOrderOnLoopback) {
  auto a = make_endpoint(GetParam());
  auto b = make_endpoint(GetParam());
  ASSERT_TRUE(a->backend && b->backend);
  EXPECT_EQ(a->backend->kind(), GetParam());
  const Address to = b->socket.local_address();
  ASSERT_NE(to.port, 0);
  Collector sink;
  constexpr std::uint32_t kCount = 100;
  for (std::uint32_t i = 0; i < kCount; ++i) {
    ASSERT_TRUE(send_one(*a, to, i, 100 + i));
    if (i % 10 == 9) a->backend->flush();
  }
  a->backend->flush();
  receive_until(*b, sink, kCount);
  ASSERT_EQ(sink.got.size(), kCount);
  for (std::uint32_t i = 0; i < kCount; ++i) {
    EXPECT_EQ(seq_of(sink.got[i]), i);  // loopback keeps order
    EXPECT_EQ(sink.got[i].size(), 100 + i);
    EXPECT_EQ(sink.from[i], a->socket.local_address());
  }
  Collector none;
  a->backend->wait(0, none);  // reap send completions
  EXPECT_EQ(a->counters.get(EngineCounter::datagrams_sent), kCount);
  EXPECT_EQ(b->counters.get(EngineCounter::datagrams_received), kCount);
}

// SO_TIMESTAMPNS (on by default): every datagram carries the kernel's receive time on the
// engine clock, between its send and its delivery to the sink, in arrival order.
TEST_P(BackendTest, DatagramsCarryKernelReceiveTimestamps) {
  auto a = make_endpoint(GetParam());
  auto b = make_endpoint(GetParam());
  ASSERT_TRUE(a->backend && b->backend);
  const TimeNs before = monotonic_now_ns();
  for (std::uint32_t i = 0; i < 20; ++i) ASSERT_TRUE(send_one(*a, b->socket.local_address(), i, 64));
  a->backend->flush();
  Collector sink;
  receive_until(*b, sink, 20);
  const TimeNs after = monotonic_now_ns();
  ASSERT_EQ(sink.received_at.size(), 20u);
  for (std::size_t i = 0; i < sink.received_at.size(); ++i) {
    EXPECT_GE(sink.received_at[i], before) << i;
    EXPECT_LE(sink.received_at[i], after) << i;
    if (i > 0) {
      EXPECT_GE(sink.received_at[i], sink.received_at[i - 1]) << i;
    }
  }
}

// Default options at both ends: GSO on send and (epoll) UDP_GRO on receive are the defaults.
TEST_P(BackendTest, EqualSizeDatagramsGoOutAsGsoAndArriveSeparately) {
  auto a = make_endpoint(GetParam());
  auto b = make_endpoint(GetParam());
  ASSERT_TRUE(a->backend && b->backend);
  if (!a->socket.gso_supported()) GTEST_SKIP() << "kernel has no UDP_SEGMENT";
  const Address to = b->socket.local_address();
  for (std::uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(send_one(*a, to, i, i == 9 ? 300 : 1000));
  a->backend->flush();
  Collector sink;
  receive_until(*b, sink, 10);
  ASSERT_EQ(sink.got.size(), 10u);
  for (std::uint32_t i = 0; i < 10; ++i) {
    EXPECT_EQ(seq_of(sink.got[i]), i);
    EXPECT_EQ(sink.got[i].size(), i == 9 ? 300u : 1000u);
  }
  Collector none;
  a->backend->wait(0, none);
  EXPECT_GE(a->counters.get(EngineCounter::gso_sends), 1u);
  EXPECT_EQ(a->counters.get(EngineCounter::datagrams_sent), 10u);
  // epoll asks for UDP_GRO by default: the batch arrives as one read, split into its
  // datagrams here.
  if (GetParam() == BackendKind::Epoll) {
    EXPECT_GE(b->counters.get(EngineCounter::gro_receives), 1u);
  }
  EXPECT_EQ(b->counters.get(EngineCounter::datagrams_received), 10u);
}

// With GRO one read can hold a whole GSO batch (up to 64 datagrams): the sink is asked
// to hand over what it has after each coalesced read, not only after the whole
// recvmmsg (32 such reads), as it would be after a batch of 64 single datagrams.
// A scatter-gather send: each datagram is the slot's head, a payload that stays in the
// caller's memory, and the slot's tail; GSO segments span several iovecs. Each arrives
// joined, and every payload's pin comes back once, after its send is done.
TEST_P(BackendTest, GatheredDatagramsArriveJoinedAndTheirPinsComeBack) {
  auto a = make_endpoint(GetParam());
  auto b = make_endpoint(GetParam());
  ASSERT_TRUE(a->backend && b->backend);
  const Address to = b->socket.local_address();
  constexpr std::uint32_t kCount = 12;
  constexpr std::size_t kHead = 20, kTail = 8, kPayload = 900;
  std::vector<std::vector<std::uint8_t>> payloads(kCount);
  for (std::uint32_t i = 0; i < kCount; ++i) {
    payloads[i].assign(kPayload, static_cast<std::uint8_t>(0x40 + i));
    MutableBytes buf = a->backend->send_buffer();
    ASSERT_GE(buf.size(), kHead + kTail);
    write_numbered(buf, i, kHead + kTail);
    std::memset(buf.data() + kHead, 0x7e, kTail);
    a->backend->commit_send(to, kHead + kTail, false, protocol::Gathered{payloads[i], kHead, 100 + i});
  }
  a->backend->flush();
  Collector sink;
  receive_until(*b, sink, kCount);
  ASSERT_EQ(sink.got.size(), kCount);
  for (std::uint32_t i = 0; i < kCount; ++i) {
    const auto& d = sink.got[i];
    ASSERT_EQ(d.size(), kHead + kPayload + kTail) << i;
    EXPECT_EQ(seq_of(d), i);
    EXPECT_TRUE(std::all_of(d.begin() + kHead, d.begin() + kHead + kPayload,
                            [&](std::uint8_t c) { return c == 0x40 + i; }))
        << i;
    EXPECT_TRUE(std::all_of(d.end() - kTail, d.end(), [](std::uint8_t c) { return c == 0x7e; })) << i;
  }
  std::vector<std::uint32_t> pins;
  for (int i = 0; i < 200 && pins.size() < kCount; ++i) {  // io_uring: until the completions are reaped
    Collector none;
    a->backend->wait(0, none);
    a->backend->take_unpinned(pins);
  }
  std::sort(pins.begin(), pins.end());
  std::vector<std::uint32_t> want(kCount);
  for (std::uint32_t i = 0; i < kCount; ++i) want[i] = 100 + i;
  EXPECT_EQ(pins, want);
  if (a->socket.gso_supported()) {
    EXPECT_GE(a->counters.get(EngineCounter::gso_sends), 1u);
  }
}

TEST_P(BackendTest, EachCoalescedReadIsHandedOverBeforeTheNext) {
  if (GetParam() != BackendKind::Epoll) GTEST_SKIP() << "GRO is the epoll backend's";
  auto a = make_endpoint(GetParam());
  auto b = make_endpoint(GetParam());
  ASSERT_TRUE(a->backend && b->backend);
  if (!a->socket.gso_supported()) GTEST_SKIP() << "kernel has no UDP_SEGMENT";
  struct Counting final : ReceiveSink {
    std::size_t datagrams = 0;
    std::vector<std::size_t> handed_over_at;  // datagrams seen at each batch_done()
    void on_datagram(const Address&, Bytes, TimeNs) override { ++datagrams; }
    bool batch_done() override {
      handed_over_at.push_back(datagrams);
      return false;
    }
  };
  const Address to = b->socket.local_address();
  // Three GSO sends (growing sizes: a larger datagram never joins a group), all in b's
  // socket before it reads.
  std::uint32_t seq = 0;
  for (std::size_t size : {800u, 900u, 1000u})
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(send_one(*a, to, seq++, size));
  a->backend->flush();
  Counting sink;
  for (int waits = 0; waits < 2000 && sink.datagrams < seq; ++waits) b->backend->wait(kNsPerMs, sink);
  ASSERT_EQ(sink.datagrams, seq);
  if (b->counters.get(EngineCounter::gro_receives) < 3) GTEST_SKIP() << "the reads were not coalesced";
  // The first read (8 datagrams) was handed over before the second was taken apart.
  ASSERT_FALSE(sink.handed_over_at.empty());
  EXPECT_EQ(sink.handed_over_at.front(), 8u);
}

TEST_P(BackendTest, OversizeDatagramIsCountedAsTruncatedAndDropped) {
  BackendOptions small;
  small.max_datagram_bytes = 512;
  auto b = make_endpoint(GetParam(), small);
  auto a = make_endpoint(GetParam());
  ASSERT_TRUE(a->backend && b->backend);
  const Address to = b->socket.local_address();
  ASSERT_TRUE(send_one(*a, to, 1, 1000));  // too big for b
  ASSERT_TRUE(send_one(*a, to, 2, 100));
  a->backend->flush();
  Collector sink;
  receive_until(*b, sink, 1);
  ASSERT_EQ(sink.got.size(), 1u);
  EXPECT_EQ(seq_of(sink.got[0]), 2u);
  EXPECT_EQ(b->counters.get(EngineCounter::truncated), 1u);
}

TEST_P(BackendTest, BurstLargerThanReceiveBuffersIsFullyReceived) {
  BackendOptions few;
  few.recv_buffers = 16;
  auto b = make_endpoint(GetParam(), few);
  auto a = make_endpoint(GetParam());
  ASSERT_TRUE(a->backend && b->backend);
  const Address to = b->socket.local_address();
  constexpr std::uint32_t kCount = 200;
  ASSERT_TRUE(send_burst(*a, to, kCount));
  Collector sink;
  receive_until(*b, sink, kCount);
  ASSERT_EQ(sink.got.size(), kCount);
  for (std::uint32_t i = 0; i < kCount; ++i) EXPECT_EQ(seq_of(sink.got[i]), i);
  // io_uring: the multishot receive ran out of provided buffers and was re-armed.
  if (GetParam() == BackendKind::Uring) {
    EXPECT_GE(b->counters.get(EngineCounter::recv_enobufs), 1u);
  }
}

// A sink that ends the batch (an urgent message is ready for the application) leaves the
// rest in the socket: one wait() hands over one batch, and nothing is lost.
TEST_P(BackendTest, ASinkThatEndsTheBatchLeavesTheRestForTheNextTurn) {
  BackendOptions few;
  few.recv_buffers = 16;
  few.gro = false;  // one datagram per read, so that a batch is recv_buffers datagrams
  auto b = make_endpoint(GetParam(), few);
  auto a = make_endpoint(GetParam());
  ASSERT_TRUE(a->backend && b->backend);
  const Address to = b->socket.local_address();
  constexpr std::uint32_t kCount = 100;
  ASSERT_TRUE(send_burst(*a, to, kCount));
  YieldingCollector sink;
  // Bounded: each wait hands over at least one datagram while any is left.
  std::size_t most_in_one_wait = 0;
  for (int i = 0; i < 2000 && sink.inner.got.size() < kCount; ++i) {
    const std::size_t before = sink.inner.got.size();
    b->backend->wait(monotonic_now_ns() + 5 * kNsPerMs, sink);
    most_in_one_wait = std::max(most_in_one_wait, sink.inner.got.size() - before);
  }
  ASSERT_EQ(sink.inner.got.size(), kCount);
  for (std::uint32_t i = 0; i < kCount; ++i) EXPECT_EQ(seq_of(sink.inner.got[i]), i);
  EXPECT_LE(most_in_one_wait, std::size_t{few.recv_buffers}) << "a wait went on past the batch its sink ended";
  EXPECT_GE(sink.batches, static_cast<int>(kCount / few.recv_buffers));
}

TEST_P(BackendTest, WakeFromAnotherThreadEndsAnUntimedWait) {
  auto a = make_endpoint(GetParam());
  ASSERT_TRUE(a->backend);
  Collector sink;
  std::thread waker([&] { a->backend->wake(); });
  a->backend->wait(kNoDeadline, sink);  // would hang (test timeout) if the wake-up were lost
  waker.join();
  // A second wake-up is not swallowed by the first one's re-arm.
  a->backend->wake();
  a->backend->wait(kNoDeadline, sink);
  EXPECT_TRUE(sink.got.empty());
}

TEST_P(BackendTest, TimedWaitReturnsAfterTheDeadline) {
  auto a = make_endpoint(GetParam());
  ASSERT_TRUE(a->backend);
  Collector sink;
  const TimeNs deadline = monotonic_now_ns() + 2 * kNsPerMs;
  for (int i = 0; i < 1000 && monotonic_now_ns() < deadline; ++i) a->backend->wait(deadline, sink);
  EXPECT_GE(monotonic_now_ns(), deadline);
  EXPECT_TRUE(sink.got.empty());
}

TEST_P(BackendTest, SendSlotsAreBoundedAndRecycled) {
  BackendOptions tiny;
  tiny.send_slots = 16;
  auto a = make_endpoint(GetParam(), tiny);
  auto b = make_endpoint(GetParam());
  ASSERT_TRUE(a->backend && b->backend);
  const Address to = b->socket.local_address();
  std::uint32_t committed = 0;
  while (send_one(*a, to, committed, 64) && committed < 100) ++committed;
  EXPECT_EQ(committed, 16u);  // every slot taken, none invented
  Collector none;
  for (int i = 0; i < 100 && a->backend->send_buffer().empty(); ++i) a->backend->wait(monotonic_now_ns() + kNsPerMs, none);
  EXPECT_FALSE(a->backend->send_buffer().empty());
}

TEST(BackendFactory, UringOrEpollIsChosen) {
  auto ep = make_endpoint(BackendKind::Auto);
  ASSERT_TRUE(ep->backend);
  EXPECT_NE(ep->backend->kind(), BackendKind::Auto);
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendTest, ::testing::Values(BackendKind::Uring, BackendKind::Epoll),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace hana::engine
