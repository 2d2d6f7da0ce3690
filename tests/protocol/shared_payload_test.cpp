// A broadcast's one payload (SharedPayloads) shared by several connections: each queued
// message holds a reference instead of a copy, fragments and retransmissions read the
// shared bytes, and the last connection done with it (delivered, failed, coalesced away,
// destroyed) returns it to the pool.
#include <gtest/gtest.h>

#include <optional>

#include "pair.h"
#include "protocol/shared_payloads.h"

namespace hana::protocol::test {
namespace {

std::vector<std::uint8_t> received_payload(const std::vector<Ev>& evs) {
  for (const auto& e : evs)
    if (e.kind == Ev::Kind::Received) return e.payload;
  return {};
}

TEST(SharedPayload, TwoConnectionsShareOneCopyThroughLossAndFragments) {
  SharedPayloads pool;
  Pair lossy, clean;
  ASSERT_TRUE(lossy.a.use_shared_payloads(&pool));
  ASSERT_TRUE(clean.a.use_shared_payloads(&pool));
  // Every third datagram from the sender is lost: fragments go again, read from the
  // shared bytes.
  lossy.drop = [](bool a_to_b, std::uint64_t i) { return a_to_b && i % 3 == 1; };

  const auto message = bytes_of(7, 5000);  // several fragments at the default datagram size
  const std::uint32_t p = pool.acquire(message);
  ASSERT_TRUE(lossy.a.send_shared(p, opts(Lane::High), lossy.now, 41).ok());
  ASSERT_TRUE(clean.a.send_shared(p, opts(Lane::High), clean.now, 41).ok());
  EXPECT_EQ(pool.refs(p), 3u);  // the caller's and one per connection
  EXPECT_EQ(pool.in_use(), 1u);
  EXPECT_EQ(pool.acquired(), 1u);  // no copy per connection
  pool.release(p);

  ASSERT_TRUE(lossy.run_until([&] { return lossy.count(lossy.ev_a, Ev::Kind::Delivered) == 1; }));
  EXPECT_GT(lossy.a.stats().retransmits, 0u);
  EXPECT_EQ(pool.refs(p), 1u);  // the clean connection still has it queued
  ASSERT_TRUE(clean.run_until([&] { return clean.count(clean.ev_a, Ev::Kind::Delivered) == 1; }));
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(received_payload(lossy.ev_b), message);
  EXPECT_EQ(received_payload(clean.ev_b), message);
  EXPECT_EQ(lossy.count(lossy.ev_b, Ev::Kind::Received), 1u);
  EXPECT_EQ(clean.count(clean.ev_b, Ev::Kind::Received), 1u);
}

TEST(SharedPayload, FailureAbortAndDestructionReleaseTheReference) {
  SharedPayloads pool;
  Config c;
  Pair failing(c);
  ASSERT_TRUE(failing.a.use_shared_payloads(&pool));
  failing.drop = [](bool a_to_b, std::uint64_t) { return a_to_b; };  // the peer hears nothing
  std::optional<Connection> dropped;
  dropped.emplace(c, ConnectionIds{5, 6}, 0);
  ASSERT_TRUE(dropped->use_shared_payloads(&pool));
  Pair aborted(c);
  ASSERT_TRUE(aborted.a.use_shared_payloads(&pool));

  const std::uint32_t p = pool.acquire(bytes_of(3, 100));
  ASSERT_TRUE(failing.a.send_shared(p, opts(), 0, 9).ok());
  ASSERT_TRUE(dropped->send_shared(p, opts(), 0, 9).ok());
  ASSERT_TRUE(aborted.a.send_shared(p, opts(), 0, 9).ok());
  pool.release(p);
  EXPECT_EQ(pool.refs(p), 3u);

  dropped.reset();  // a connection destroyed with the message still queued
  EXPECT_EQ(pool.refs(p), 2u);
  aborted.a.abort(FailReason::PeerDead, 0);  // the peer declared dead
  EXPECT_EQ(pool.refs(p), 1u);
  // The retry budget runs out: the last reference goes with the failure.
  ASSERT_TRUE(failing.run_until([&] { return failing.count(failing.ev_a, Ev::Kind::Failed) == 1; }, 600 * kNsPerSec));
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(SharedPayload, CoalescingSwapsTheReference) {
  SharedPayloads pool;
  Pair pair;
  ASSERT_TRUE(pair.a.use_shared_payloads(&pool));
  SendOptions o = opts(Lane::High);
  o.latest_value = true;
  o.key = 4;
  o.version = 1;
  const std::uint32_t first = pool.acquire(bytes_of(1, 64));
  ASSERT_TRUE(pair.a.send_shared(first, o, 0, 1).ok());
  o.version = 2;
  const std::uint32_t second = pool.acquire(bytes_of(2, 64));
  ASSERT_TRUE(pair.a.send_shared(second, o, 0, 2).ok());  // replaces the unsent first version
  EXPECT_EQ(pool.refs(first), 1u);                         // only the caller's is left
  EXPECT_EQ(pool.refs(second), 2u);
  pool.release(first);
  pool.release(second);
  EXPECT_EQ(pool.in_use(), 1u);
  ASSERT_TRUE(pair.run_until([&] { return pair.count(pair.ev_b, Ev::Kind::Received) == 1; }));
  EXPECT_EQ(received_payload(pair.ev_b), bytes_of(2, 64));
  ASSERT_TRUE(pair.run_until([&] { return pool.in_use() == 0; }));
}

TEST(SharedPayload, PoolChangesOnlyWhileNothingIsQueued) {
  SharedPayloads pool;
  Pair pair;
  ASSERT_TRUE(pair.a.send(bytes_of(1, 10), opts(), 0).ok());
  EXPECT_FALSE(pair.a.use_shared_payloads(&pool));  // its message holds a reference in its own pool
  EXPECT_EQ(pair.a.payloads().in_use(), 1u);
  ASSERT_TRUE(pair.run_until([&] { return pair.count(pair.ev_a, Ev::Kind::Delivered) == 1; }));
  EXPECT_EQ(pair.a.payloads().in_use(), 0u);
  EXPECT_TRUE(pair.a.use_shared_payloads(&pool));
}

}  // namespace
}  // namespace hana::protocol::test
