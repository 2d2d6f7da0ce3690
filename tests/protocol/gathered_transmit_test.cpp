// poll_transmit with a Gathered (the engine's scatter-gather send): a large fragment's
// payload stays in the message, the datagram joined is byte for byte what a connection
// that copies sends, and the pin keeps the payload whatever becomes of the message.
#include <gtest/gtest.h>

#include "pair.h"
#include "protocol/shared_payloads.h"

namespace hana::protocol::test {
namespace {

// 64 KiB datagrams from the start (as on loopback once path-MTU discovery found them):
// fragments large enough to be gathered.
Config large_datagrams() {
  Config c;
  c.base_datagram_bytes = 65507;
  return c;
}

TEST(GatheredTransmit, JoinedDatagramsAreThoseOfAConnectionThatCopies) {
  const Config c = large_datagrams();
  SharedPayloads plain_pool, gather_pool;
  Connection plain(c, {1, 2}, 0), gather(c, {1, 2}, 0);
  ASSERT_TRUE(plain.use_shared_payloads(&plain_pool));
  ASSERT_TRUE(gather.use_shared_payloads(&gather_pool));
  const auto message = bytes_of(3, 300'000);
  SendOptions o;
  o.lane = Lane::Bulk;
  ASSERT_TRUE(plain.send(message, o, 0, 9).ok());
  ASSERT_TRUE(gather.send(message, o, 0, 9).ok());

  std::vector<std::uint8_t> a(kMaxDatagramBytes), b(kMaxDatagramBytes);
  std::size_t gathered_count = 0, datagrams = 0;
  std::vector<std::uint32_t> pins;
  for (int i = 0; i < 100; ++i) {
    const std::size_t n = plain.poll_transmit(a, 0);
    Gathered g;
    std::size_t m = gather.poll_transmit(b, 0, &g);
    ASSERT_EQ(n == 0, m == 0);
    if (n == 0) break;
    ++datagrams;
    if (!g.empty()) {
      ++gathered_count;
      EXPECT_GE(g.external.size(), 16u * 1024);
      EXPECT_NE(g.pin, kNoPin);
      pins.push_back(g.pin);
      m = flatten(b, m, g);
    }
    ASSERT_EQ(m, n) << i;
    EXPECT_TRUE(std::equal(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin())) << i;
  }
  EXPECT_GE(datagrams, 5u);
  EXPECT_GE(gathered_count, 4u) << "the full-size fragments are gathered";
  EXPECT_EQ(gather.stats().bytes_sent, plain.stats().bytes_sent) << "accounting counts the wire's bytes";
  for (std::uint32_t p : pins) gather_pool.release(p);
}

// An abort fails the message and drops the connection's reference; the datagram already
// handed out still points into the payload, which stays until its pin is released.
TEST(GatheredTransmit, APinKeepsThePayloadAfterTheMessageIsGone) {
  const Config c = large_datagrams();
  SharedPayloads pool;
  Connection conn(c, {1, 2}, 0);
  ASSERT_TRUE(conn.use_shared_payloads(&pool));
  const auto message = bytes_of(5, 100'000);
  SendOptions o;
  o.lane = Lane::Bulk;
  ASSERT_TRUE(conn.send(message, o, 0).ok());
  std::vector<std::uint8_t> buf(kMaxDatagramBytes);
  Gathered g;
  ASSERT_GT(conn.poll_transmit(buf, 0, &g), 0u);
  ASSERT_FALSE(g.empty());
  conn.abort(FailReason::PeerDead, 0);
  EXPECT_EQ(pool.in_use(), 1u);
  EXPECT_EQ(pool.refs(g.pin), 1u);
  EXPECT_TRUE(std::equal(g.external.begin(), g.external.end(), message.begin()));
  pool.release(g.pin);
  EXPECT_EQ(pool.in_use(), 0u);
}

// Without a pool the caller owns (use_shared_payloads), or on the TCP path, nothing is
// left out: the caller could not release the pin.
TEST(GatheredTransmit, OnlyASharedPoolOffTheStreamPathIsGatheredFrom) {
  const Config c = large_datagrams();
  const auto message = bytes_of(6, 100'000);
  SendOptions o;
  o.lane = Lane::Bulk;
  std::vector<std::uint8_t> buf(kMaxDatagramBytes);

  Connection own(c, {1, 2}, 0);
  ASSERT_TRUE(own.send(message, o, 0).ok());
  Gathered g;
  ASSERT_GT(own.poll_transmit(buf, 0, &g), 0u);
  EXPECT_TRUE(g.empty());

  SharedPayloads pool;
  Connection stream(c, {1, 2}, 0);
  ASSERT_TRUE(stream.use_shared_payloads(&pool));
  stream.set_stream_path(true);
  ASSERT_TRUE(stream.send(message, o, 0).ok());
  ASSERT_GT(stream.poll_transmit(buf, 0, &g), 0u);
  EXPECT_TRUE(g.empty());
}

}  // namespace
}  // namespace hana::protocol::test
