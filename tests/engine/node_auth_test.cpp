// Real nodes with pre-shared keys (docs/security.md): a keyed pair talks, keyed and
// unkeyed nodes never connect (the keyed side counts the attempts), and key rotation
// keeps a node with both keys talking to nodes with either.
#include <gtest/gtest.h>

#include <vector>

#include "node_harness.h"

namespace hana::test {
namespace {

PresharedKey key_of(std::uint8_t first) {
  PresharedKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(first * 17 + i);
  return k;
}

std::unique_ptr<Node> keyed_node(std::vector<PresharedKey> keys) {
  NodeOptions o = loopback_options(IoBackend::Epoll);
  o.keys = std::move(keys);
  return start_node_with(patient_failure_detection(), std::move(o));
}

// a connects to b and sends a message: true if it arrives.
bool message_arrives(Node& a, Node& b) {
  auto [b_at_a, a_at_b] = connect_pair(a, b);
  if (b_at_a == 0 || a_at_b == 0) return false;
  const std::vector<std::uint8_t> hello{'h', 'i'};
  if (!a.send(b_at_a, Lane::High, hello).ok()) return false;
  bool got = false;
  pump_until(b, [&](Event& e) { got |= e.kind == EventKind::Received && e.payload.bytes().size() == 2; },
             [&] { return got; }, kConnectTimeoutNs);
  return got;
}

TEST(NodeAuth, KeyedPairExchangesMessages) {
  auto a = keyed_node({key_of(1)});
  auto b = keyed_node({key_of(1)});
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(message_arrives(*a, *b));
  EXPECT_EQ(a->stats().mesh.auth_failures, 0u);
  EXPECT_EQ(b->stats().mesh.auth_failures, 0u);
}

TEST(NodeAuth, KeyedAndUnkeyedNeverConnectAndTheKeyedSideCounts) {
  auto keyed = keyed_node({key_of(1)});
  auto plain = keyed_node({});
  auto other = keyed_node({key_of(2)});
  ASSERT_TRUE(keyed && plain && other);
  ASSERT_TRUE(plain->connect(keyed->local_address()).ok());
  ASSERT_TRUE(other->connect(keyed->local_address()).ok());
  // Both keep dialling; wait until the keyed node has refused attempts from both kinds.
  const TimeNs deadline = engine::monotonic_now_ns() + kConnectTimeoutNs;
  bool connected = false;
  Event e;
  while (engine::monotonic_now_ns() < deadline && keyed->stats().mesh.auth_failures < 4)
    if (keyed->wait_event(e, 10 * kNsPerMs)) connected |= e.kind == EventKind::PeerConnected;
  EXPECT_GE(keyed->stats().mesh.auth_failures, 4u);
  EXPECT_FALSE(connected);
  EXPECT_TRUE(keyed->stats().peers.empty());
  EXPECT_TRUE(plain->stats().peers.empty());
  EXPECT_TRUE(other->stats().peers.empty());
}

// high_redundancy under a key: each copy is sealed afresh, so the receiver drops it as a
// duplicate of a packet it has, not as a replay (a replay carries an old seal).
TEST(NodeAuth, RedundantCopiesAreDuplicatesNotReplays) {
  Config c = patient_failure_detection();
  c.high_redundancy = 1;
  auto start = [&] {
    NodeOptions o = loopback_options(IoBackend::Epoll);
    o.keys = {key_of(1)};
    return start_node_with(c, std::move(o));
  };
  auto a = start();
  auto b = start();
  ASSERT_TRUE(a && b);
  auto [b_at_a, a_at_b] = connect_pair(*a, *b);
  ASSERT_NE(b_at_a, 0u);
  constexpr int kMessages = 20;
  const std::vector<std::uint8_t> msg{'x'};
  for (int i = 0; i < kMessages; ++i) ASSERT_TRUE(a->send(b_at_a, Lane::High, msg).ok());
  int got = 0;
  pump_until(*b, [&](Event& e) { got += e.kind == EventKind::Received; }, [&] { return got == kMessages; },
             kConnectTimeoutNs);
  EXPECT_EQ(got, kMessages);
  // Every copy a sent has reached b (loopback), bounded in time.
  auto copies_seen = [&] {
    const auto as = a->stats(), bs = b->stats();
    std::uint64_t sent = 0, dup = 0;
    for (const auto& p : as.peers) sent += p.connection.redundant_packets;
    for (const auto& p : bs.peers) dup += p.connection.duplicate_packets;
    return std::pair{sent, dup};
  };
  const TimeNs deadline = engine::monotonic_now_ns() + kConnectTimeoutNs;
  Event e;
  while (engine::monotonic_now_ns() < deadline && copies_seen().second < copies_seen().first)
    b->wait_event(e, 10 * kNsPerMs);
  const auto [sent, dup] = copies_seen();
  EXPECT_GE(sent, 1u);
  EXPECT_GE(dup, sent);
  EXPECT_EQ(b->stats().mesh.replays_dropped, 0u);
}

TEST(NodeAuth, RotationKeepsBothGenerationsTalking) {
  const PresharedKey old_key = key_of(1), new_key = key_of(2);
  auto rotated = keyed_node({new_key, old_key});  // sends under the new key, accepts both
  auto old_only = keyed_node({old_key});
  auto new_only = keyed_node({new_key});
  ASSERT_TRUE(rotated && old_only && new_only);
  EXPECT_TRUE(message_arrives(*old_only, *rotated));
  EXPECT_TRUE(message_arrives(*rotated, *new_only));
  EXPECT_EQ(rotated->stats().mesh.auth_failures, 0u);
}

TEST(NodeAuth, BadKeysAreAClearError) {
  NodeOptions o = loopback_options(IoBackend::Epoll);
  o.keys = {key_of(1), key_of(1)};
  auto same = Node::create({}, o);
  ASSERT_FALSE(same.ok());
  EXPECT_EQ(same.error().code, Errc::InvalidArgument);
  o.keys = {key_of(1), key_of(2), key_of(3)};
  EXPECT_EQ(Node::create({}, o).error().code, Errc::InvalidArgument);
}

}  // namespace
}  // namespace hana::test
