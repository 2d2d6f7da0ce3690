// Mesh::broadcast, the one broadcast path (the engine's Node::broadcast goes through it):
// one id for every member, and a member it cannot queue to reported as MessageFailed
// with the shared fail_reason_of mapping.
#include <gtest/gtest.h>

#include <map>
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

}  // namespace
}  // namespace hana::topology::test
