// The TCP path in both backends (issue 17) over loopback: datagrams both ways on one
// stream per peer, keyed by the peer's listen address; and bad input from raw TCP
// clients (junk, an oversized frame, a slowloris, too many connections) counted and
// closed without stalling the loop. Every wait is bounded in time and count.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/clock.h"
#include "engine/tcp_socket.h"
#include "numbered_datagrams.h"
#include "protocol/stream_framing.h"

namespace hana::engine {
namespace {

struct StreamSink final : ReceiveSink {
  std::vector<std::vector<std::uint8_t>> got;
  std::vector<Address> from;
  std::vector<Address> closed;
  void on_datagram(const Address& a, Bytes bytes, TimeNs) override {
    got.emplace_back(bytes.begin(), bytes.end());
    from.push_back(a);
  }
  void on_stream_closed(const Address& peer) override { closed.push_back(peer); }
};

struct TcpEndpoint {
  UdpSocket socket;
  TcpListener listener;
  Counters counters;
  std::unique_ptr<Backend> backend;
  StreamSink sink;
  Address address() const { return socket.local_address(); }
};

std::unique_ptr<TcpEndpoint> make_tcp_endpoint(BackendKind kind, TcpOptions tcp = {}) {
  auto ep = std::make_unique<TcpEndpoint>();
  auto sock = UdpSocket::open(SocketOptions{Address::ipv4(127, 0, 0, 1, 0), 1 << 20, 1 << 20, false});
  EXPECT_TRUE(sock.ok());
  ep->socket = std::move(*sock);
  auto listener = TcpListener::open(ep->socket.local_address());
  EXPECT_TRUE(listener.ok()) << (listener.ok() ? "" : listener.error().message);
  if (!listener.ok()) return ep;
  ep->listener = std::move(*listener);
  auto b = make_backend(kind, ep->socket, BackendOptions{}, ep->counters);
  EXPECT_TRUE(b.ok());
  if (!b.ok()) return ep;
  ep->backend = std::move(*b);
  EXPECT_TRUE(ep->backend->add_stream_listener(ep->listener.fd(), ep->address(), tcp).ok());
  return ep;
}

// Turns every endpoint's loop until `done` or 5 s (and at most 20000 turns).
bool drive_until(std::vector<TcpEndpoint*> eps, const std::function<bool()>& done) {
  const TimeNs give_up = monotonic_now_ns() + 5 * kNsPerSec;
  for (int i = 0; i < 20000 && monotonic_now_ns() < give_up; ++i) {
    if (done()) return true;
    for (TcpEndpoint* ep : eps) ep->backend->wait(monotonic_now_ns() + kNsPerMs, ep->sink);
  }
  return done();
}

void stream_send(TcpEndpoint& ep, const Address& to, std::uint32_t seq, std::size_t size) {
  MutableBytes buf = ep.backend->send_buffer();
  ASSERT_GE(buf.size(), size);
  write_numbered(buf, seq, size);
  ep.backend->commit_stream_send(to, size);
}

// A raw TCP client to `to` (blocking), for bad input.
int raw_client(const Address& to) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage ss{};
  const socklen_t len = to_sockaddr(to, ss);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}
void raw_write(int fd, const std::vector<std::uint8_t>& bytes) {
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}
std::vector<std::uint8_t> hello(std::uint16_t port) {
  std::vector<std::uint8_t> h(protocol::kStreamHelloBytes);
  protocol::write_stream_hello(port, h);
  return h;
}

class TcpBackendTest : public ::testing::TestWithParam<BackendKind> {};

TEST_P(TcpBackendTest, DatagramsBothWaysOnOneStreamKeyedByListenAddress) {
  auto a = make_tcp_endpoint(GetParam());
  auto b = make_tcp_endpoint(GetParam());
  ASSERT_TRUE(a->backend && b->backend);
  constexpr std::uint32_t kCount = 500;
  for (std::uint32_t i = 0; i < kCount; ++i) stream_send(*a, b->address(), i, 64 + i % 1300);
  a->backend->flush();
  ASSERT_TRUE(drive_until({a.get(), b.get()}, [&] { return b->sink.got.size() >= kCount; }));
  ASSERT_EQ(b->sink.got.size(), kCount);
  for (std::uint32_t i = 0; i < kCount; ++i) {
    EXPECT_EQ(seq_of(b->sink.got[i]), i);  // a stream keeps order
    EXPECT_EQ(b->sink.got[i].size(), 64 + i % 1300);
    EXPECT_EQ(b->sink.from[i], a->address());  // the UDP listen address, not the ephemeral port
  }
  // The reply rides the accepted stream: still one stream at each end.
  stream_send(*b, a->address(), 7, 100);
  b->backend->flush();
  ASSERT_TRUE(drive_until({a.get(), b.get()}, [&] { return a->sink.got.size() >= 1; }));
  EXPECT_EQ(seq_of(a->sink.got[0]), 7u);
  EXPECT_EQ(a->sink.from[0], b->address());
  EXPECT_EQ(a->backend->stream_count(), 1u);
  EXPECT_EQ(b->backend->stream_count(), 1u);
  EXPECT_EQ(a->counters.get(EngineCounter::tcp_dialed), 1u);
  EXPECT_EQ(b->counters.get(EngineCounter::tcp_accepted), 1u);
  EXPECT_EQ(b->counters.get(EngineCounter::tcp_datagrams_received), kCount);
}

TEST_P(TcpBackendTest, ClosedStreamIsReportedByPeerAddress) {
  auto b = make_tcp_endpoint(GetParam());
  ASSERT_TRUE(b->backend);
  const int fd = raw_client(b->address());
  ASSERT_GE(fd, 0);
  std::vector<std::uint8_t> bytes = hello(4321);
  bytes.insert(bytes.end(), {0x00, 0x02, 0x11, 0x22});
  raw_write(fd, bytes);
  ASSERT_TRUE(drive_until({b.get()}, [&] { return b->sink.got.size() == 1; }));
  EXPECT_EQ(b->sink.from[0], Address::ipv4(127, 0, 0, 1, 4321));
  ::close(fd);
  ASSERT_TRUE(drive_until({b.get()}, [&] { return !b->sink.closed.empty(); }));
  EXPECT_EQ(b->sink.closed[0], Address::ipv4(127, 0, 0, 1, 4321));
  EXPECT_EQ(b->backend->stream_count(), 0u);
  EXPECT_EQ(b->counters.get(EngineCounter::tcp_closed), 1u);
}

TEST_P(TcpBackendTest, JunkAndOversizedFramesAreCountedAndClosed) {
  auto b = make_tcp_endpoint(GetParam());
  ASSERT_TRUE(b->backend);
  const std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  const int j = raw_client(b->address());
  ASSERT_GE(j, 0);
  raw_write(j, std::vector<std::uint8_t>(junk.begin(), junk.end()));
  std::vector<std::uint8_t> oversized = hello(1);
  oversized.insert(oversized.end(), {0xff, 0xff, 0x01, 0x02});
  const int o = raw_client(b->address());
  ASSERT_GE(o, 0);
  raw_write(o, oversized);
  ASSERT_TRUE(drive_until({b.get()}, [&] { return b->counters.get(EngineCounter::tcp_bad_frames) == 2; }));
  ASSERT_TRUE(drive_until({b.get()}, [&] { return b->backend->stream_count() == 0; }));
  EXPECT_TRUE(b->sink.got.empty());
  ::close(j);
  ::close(o);
}

TEST_P(TcpBackendTest, SlowPartialFrameIsTimedOut) {
  TcpOptions tcp;
  tcp.frame_timeout_ns = 50 * kNsPerMs;
  auto b = make_tcp_endpoint(GetParam(), tcp);
  ASSERT_TRUE(b->backend);
  const int silent = raw_client(b->address());  // never sends its hello
  const int slow = raw_client(b->address());    // a hello and half a frame
  ASSERT_GE(silent, 0);
  ASSERT_GE(slow, 0);
  std::vector<std::uint8_t> partial = hello(2);
  partial.insert(partial.end(), {0x00, 0x10, 0x01});
  raw_write(slow, partial);
  ASSERT_TRUE(drive_until({b.get()}, [&] { return b->counters.get(EngineCounter::tcp_slow_frames) == 2; }));
  ASSERT_TRUE(drive_until({b.get()}, [&] { return b->backend->stream_count() == 0; }));
  ::close(silent);
  ::close(slow);
}

TEST_P(TcpBackendTest, ConnectionsBeyondTheLimitAreRefused) {
  TcpOptions tcp;
  tcp.max_streams = 2;
  auto b = make_tcp_endpoint(GetParam(), tcp);
  ASSERT_TRUE(b->backend);
  std::vector<int> fds;
  for (int i = 0; i < 5; ++i) fds.push_back(raw_client(b->address()));
  ASSERT_TRUE(drive_until({b.get()}, [&] { return b->counters.get(EngineCounter::tcp_refused) == 3; }));
  EXPECT_EQ(b->backend->stream_count(), 2u);
  EXPECT_EQ(b->counters.get(EngineCounter::tcp_accepted), 2u);
  for (int fd : fds) ::close(fd);
}

TEST_P(TcpBackendTest, DialToNobodyFailsAndIsNotRetriedAtOnce) {
  auto a = make_tcp_endpoint(GetParam());
  ASSERT_TRUE(a->backend);
  // A port with nothing listening: take one from a closed socket.
  Address nobody;
  {
    auto tmp = UdpSocket::open(SocketOptions{Address::ipv4(127, 0, 0, 1, 0), 0, 0, false});
    ASSERT_TRUE(tmp.ok());
    nobody = tmp->local_address();
  }
  stream_send(*a, nobody, 1, 64);
  a->backend->flush();
  ASSERT_TRUE(drive_until({a.get()}, [&] { return a->counters.get(EngineCounter::tcp_connect_failed) == 1; }));
  stream_send(*a, nobody, 2, 64);  // within the redial hold: dropped, no new socket
  EXPECT_EQ(a->counters.get(EngineCounter::tcp_dialed), 1u);
  EXPECT_EQ(a->backend->stream_count(), 0u);
}

// Shared threading's way of receiving (epoll only: backend.h, block()): a thread blocks,
// and the turn after a wake-up receives with wait(0), reading only what the wake-up saw.
// More streams and a UDP socket ready than one block() reports (it takes 4 events) must
// all be read by later wake-ups, every datagram once and each stream in order.
TEST(TcpBackendShared, WakeUpsReadEveryStreamAndTheUdpSocket) {
  auto hub = make_tcp_endpoint(BackendKind::Epoll);
  ASSERT_TRUE(hub->backend && hub->backend->shared_capable());
  constexpr int kDialers = 5;
  constexpr std::uint32_t kCount = 200;
  constexpr std::uint32_t kUdpBase = 1'000'000;  // UDP datagrams' numbers, apart from the streams'
  std::vector<std::unique_ptr<TcpEndpoint>> dialers;
  for (int d = 0; d < kDialers; ++d) {
    dialers.push_back(make_tcp_endpoint(BackendKind::Epoll));
    ASSERT_TRUE(dialers.back()->backend);
  }
  for (std::uint32_t i = 0; i < kCount; ++i) {
    for (auto& d : dialers) stream_send(*d, hub->address(), i, 64);
    if (i % 10 == 0) {  // now and then a UDP datagram from the first dialer
      MutableBytes buf = dialers[0]->backend->send_buffer();
      ASSERT_GE(buf.size(), 64u);
      write_numbered(buf, kUdpBase + i, 64);
      dialers[0]->backend->commit_send(hub->address(), 64, false, {});
    }
    for (auto& d : dialers) d->backend->flush();
  }
  const std::size_t expected = kDialers * kCount + kCount / 10;
  const TimeNs give_up = monotonic_now_ns() + 10 * kNsPerSec;
  for (int turn = 0; turn < 100000 && hub->sink.got.size() < expected && monotonic_now_ns() < give_up; ++turn) {
    for (auto& d : dialers) d->backend->wait(0, d->sink);  // their connects and hellos
    if (hub->backend->block(monotonic_now_ns() + kNsPerMs, turn % 2 == 1)) hub->backend->wait(0, hub->sink);
  }
  ASSERT_EQ(hub->sink.got.size(), expected);
  std::vector<std::uint32_t> next(kDialers, 0);
  std::uint32_t udp = 0;
  for (std::size_t i = 0; i < hub->sink.got.size(); ++i) {
    const std::uint32_t seq = seq_of(hub->sink.got[i]);
    if (seq >= kUdpBase) {
      ++udp;
      continue;
    }
    bool matched = false;
    for (int d = 0; d < kDialers; ++d)
      if (hub->sink.from[i] == dialers[d]->address()) {
        EXPECT_EQ(seq, next[d]++);  // each stream in order, nothing twice
        matched = true;
      }
    EXPECT_TRUE(matched);
  }
  EXPECT_EQ(udp, kCount / 10);
  for (int d = 0; d < kDialers; ++d) EXPECT_EQ(next[d], kCount);
  EXPECT_EQ(hub->backend->stream_count(), static_cast<std::uint32_t>(kDialers));
}

// The turn after a wake-up that saw only a stream reads only that stream (no recvmmsg that
// finds nothing); but one that comes more than a late timer's 1 ms after the wake-up (the
// thread was starved) reads the UDP socket too, so an ack that came meanwhile is read
// before timers are judged (issue 18).
TEST(TcpBackendShared, StaleWakeUpReadsTheUdpSocketToo) {
  auto hub = make_tcp_endpoint(BackendKind::Epoll);
  auto peer = make_tcp_endpoint(BackendKind::Epoll);
  ASSERT_TRUE(hub->backend && peer->backend);
  const auto udp_waiting = [&] {
    int bytes = 0;
    return ::ioctl(hub->socket.fd(), FIONREAD, &bytes) == 0 && bytes > 0;
  };
  const auto udp_send = [&](std::uint32_t seq) {
    MutableBytes buf = peer->backend->send_buffer();
    ASSERT_GE(buf.size(), 64u);
    write_numbered(buf, seq, 64);
    peer->backend->commit_send(hub->address(), 64, false, {});
    peer->backend->flush();
  };
  // A stream datagram wakes the hub; a UDP datagram lands after the wake-up.
  const auto round = [&](std::uint32_t seq, bool starved) {
    stream_send(*peer, hub->address(), seq, 64);
    peer->backend->flush();
    const std::size_t before = hub->sink.got.size();
    bool woke = false;
    TimeNs blocked_at = 0;  // the wake-up is no older than this
    const TimeNs give_up = monotonic_now_ns() + 5 * kNsPerSec;
    while (!woke && monotonic_now_ns() < give_up) {
      peer->backend->wait(0, peer->sink);
      blocked_at = monotonic_now_ns();
      woke = hub->backend->block(blocked_at + kNsPerMs, false);
    }
    ASSERT_TRUE(woke);
    udp_send(seq + 1000);
    const TimeNs woke_at = monotonic_now_ns();
    while (!udp_waiting() && monotonic_now_ns() < give_up) {
    }
    ASSERT_TRUE(udp_waiting());
    while (starved && monotonic_now_ns() - woke_at < 2 * kNsPerMs) {  // the starved thread's gap
    }
    hub->backend->wait(0, hub->sink);
    // A loaded host may itself make the "fresh" turn late: then either outcome is right.
    const bool surely_fresh = monotonic_now_ns() - blocked_at < kNsPerMs;
    std::set<std::uint32_t> read;  // by this one receive (UDP and the streams in no set order)
    for (std::size_t i = before; i < hub->sink.got.size(); ++i) read.insert(seq_of(hub->sink.got[i]));
    EXPECT_EQ(read.count(seq), 1u);
    if (starved || surely_fresh) {
      EXPECT_EQ(read.count(seq + 1000), starved ? 1u : 0u);
      EXPECT_EQ(udp_waiting(), !starved);
    }
    while (read.count(seq + 1000) == 0 && monotonic_now_ns() < give_up) {  // the next wake-up reads it
      if (hub->backend->block(monotonic_now_ns() + kNsPerMs, false)) hub->backend->wait(0, hub->sink);
      for (std::size_t i = before; i < hub->sink.got.size(); ++i) read.insert(seq_of(hub->sink.got[i]));
    }
    EXPECT_EQ(read.count(seq + 1000), 1u);
  };
  // The first datagram opens the stream (connect, hello, accept); read it first.
  stream_send(*peer, hub->address(), 0, 64);
  peer->backend->flush();
  ASSERT_TRUE(drive_until({hub.get(), peer.get()}, [&] { return hub->sink.got.size() == 1; }));
  round(1, false);
  round(2, true);
}

INSTANTIATE_TEST_SUITE_P(Backends, TcpBackendTest, ::testing::Values(BackendKind::Uring, BackendKind::Epoll),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace hana::engine
