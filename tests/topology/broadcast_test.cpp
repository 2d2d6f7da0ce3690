// Mesh::broadcast, the one broadcast path (the engine's Node::broadcast goes through it):
// one id for every member, and a member it cannot queue to reported as MessageFailed
// with the shared fail_reason_of mapping; one payload shared by every member's
// connection, freed when the last of them is done with it.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "topology/sim/cluster.h"

namespace hana::topology::test {
namespace {

TEST(Broadcast, QueuesToEveryConnectedMemberWithOneId) {
  Config config;
  config.max_message_bytes = 1000;
  Cluster c({.nodes = 3, .seed = 11, .config = config});
  std::map<NodeId, std::vector<FailReason>> failed;
  c.on_event = [&](std::size_t n, const MeshEvent& e, TimeNs) {
    if (const auto* f = std::get_if<MessageFailed>(&e); f && n == 0) failed[f->id].push_back(f->reason);
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kNsPerSec));

  const std::vector<std::uint8_t> small(10, 1);
  auto ok = c.node(0).broadcast(small, {}, c.now(), 77);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->id, 77u);
  EXPECT_EQ(ok->queued, 2u);
  EXPECT_EQ(ok->rejected, 0u);

  // Too large for every connection: each member fails on its own, with one reason.
  const std::vector<std::uint8_t> large(2000, 2);
  auto big = c.node(0).broadcast(large, {}, c.now());
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->queued, 0u);
  EXPECT_EQ(big->rejected, 2u);
  c.after_call(0);
  EXPECT_EQ(failed[big->id], (std::vector<FailReason>{fail_reason_of(Errc::MessageTooLarge), fail_reason_of(Errc::MessageTooLarge)}));
  EXPECT_EQ(fail_reason_of(Errc::MessageTooLarge), FailReason::ResourceLimit);
  EXPECT_TRUE(failed[77].empty());

  auto theirs = c.node(0).broadcast(small, {}, c.now(), MessageId{1} << 63);
  ASSERT_FALSE(theirs.ok());
  EXPECT_EQ(theirs.error().code, Errc::InvalidArgument);
}

std::vector<std::uint8_t> numbered(std::uint32_t n, std::size_t size) {
  std::vector<std::uint8_t> v(size, static_cast<std::uint8_t>(n * 7));
  for (int i = 0; i < 4; ++i) v[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  return v;
}
std::uint32_t number_of(Bytes b) {
  std::uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= std::uint32_t{b[static_cast<std::size_t>(i)]} << (8 * i);
  return n;
}

TEST(Broadcast, OnePayloadForEveryMemberFreedAfterTheLastDelivery) {
  Cluster c({.nodes = 6, .seed = 12});
  std::size_t delivered = 0;
  c.on_event = [&](std::size_t n, const MeshEvent& e, TimeNs) {
    if (const auto* d = std::get_if<MessageDelivered>(&e); d && n == 0 && d->id == 500) ++delivered;
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kNsPerSec));

  const auto& payloads = c.node(0).payloads();
  const std::size_t in_use = payloads.in_use();
  const std::uint64_t copies = payloads.acquired();
  auto b = c.node(0).broadcast(numbered(1, 1024), {}, c.now(), 500);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->queued, 5u);
  EXPECT_EQ(payloads.acquired(), copies + 1);  // one copy, not one per member
  EXPECT_EQ(payloads.in_use(), in_use + 1);
  c.after_call(0);
  ASSERT_TRUE(c.run_until([&] { return delivered == 5; }, 5 * kNsPerSec));
  // Mesh-internal messages use the pool too: wait for a moment none is queued.
  EXPECT_TRUE(c.run_until([&] { return payloads.in_use() == 0; }, 5 * kNsPerSec));
}

TEST(Broadcast, ArrivesExactlyOnceAtEveryMemberUnderLoss) {
  sim::LinkParams lossy;
  lossy.loss = 0.1;
  lossy.duplicate = 0.02;
  lossy.reorder = 0.05;
  Cluster c({.nodes = 6, .seed = 13, .link = lossy});
  std::map<std::size_t, std::multiset<std::uint32_t>> got;
  std::size_t delivered = 0;
  c.on_event = [&](std::size_t n, const MeshEvent& e, TimeNs) {
    if (const auto* r = std::get_if<MessageReceived>(&e)) {
      // Small and fragmented messages, each checked byte for byte.
      const std::uint32_t k = number_of(r->payload);
      EXPECT_TRUE(std::equal(r->payload.begin(), r->payload.end(), numbered(k, r->payload.size()).begin()));
      got[n].insert(k);
    }
    if (const auto* d = std::get_if<MessageDelivered>(&e); d && n == 0 && d->id >= 1000) ++delivered;
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 20 * kNsPerSec));

  constexpr std::uint32_t kMessages = 40;
  for (std::uint32_t k = 0; k < kMessages; ++k) {
    auto b = c.node(0).broadcast(numbered(k, k % 4 == 0 ? 5000 : 1024), {}, c.now(), 1000 + k);
    ASSERT_TRUE(b.ok());
    ASSERT_EQ(b->queued, 5u);
    c.after_call(0);
    ASSERT_TRUE(c.run_for(kNsPerMs));
  }
  ASSERT_TRUE(c.run_until([&] { return delivered == 5 * kMessages; }, 30 * kNsPerSec)) << delivered;
  for (std::size_t n = 1; n < 6; ++n) {
    ASSERT_EQ(got[n].size(), kMessages) << "node " << n;
    for (std::uint32_t k = 0; k < kMessages; ++k) EXPECT_EQ(got[n].count(k), 1u) << "node " << n << " message " << k;
  }
  std::uint64_t retransmits = 0;
  for (std::size_t n = 1; n < 6; ++n) retransmits += c.node(0).peer_stats(Cluster::id(n))->retransmits;
  EXPECT_GT(retransmits, 0u);  // the shared bytes were sent again
  EXPECT_TRUE(c.run_until([&] { return c.node(0).payloads().in_use() == 0; }, 5 * kNsPerSec));
}

TEST(Broadcast, PayloadFreedWhenMembersDieBeforeConfirming) {
  Cluster c({.nodes = 5, .seed = 14});
  std::map<NodeId, FailReason> failed;
  std::size_t delivered = 0;
  c.on_event = [&](std::size_t n, const MeshEvent& e, TimeNs) {
    if (const auto* f = std::get_if<MessageFailed>(&e); f && n == 0 && f->id == 600) failed[f->peer] = f->reason;
    if (const auto* d = std::get_if<MessageDelivered>(&e); d && n == 0 && d->id == 600) ++delivered;
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kNsPerSec));
  c.kill(3);
  c.kill(4);
  auto b = c.node(0).broadcast(numbered(2, 1024), {}, c.now(), 600);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->queued, 4u);
  c.after_call(0);
  // Two members confirm; the other two never answer and fail.
  ASSERT_TRUE(c.run_until([&] { return delivered == 2 && failed.size() == 2; }, 60 * kNsPerSec));
  EXPECT_EQ(failed.count(Cluster::id(3)), 1u);
  EXPECT_EQ(failed.count(Cluster::id(4)), 1u);
  EXPECT_TRUE(c.run_until([&] { return c.node(0).payloads().in_use() == 0; }, 5 * kNsPerSec));
}

}  // namespace
}  // namespace hana::topology::test
