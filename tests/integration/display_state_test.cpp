// hana::DisplayState over real nodes on loopback: updates propagate, only newer versions
// apply, and a node that joins late catches up from a holder's snapshot
// (display_authors_test.cpp: several authors, dead and restarted ones).
#include <gtest/gtest.h>

#include "display_harness.h"

namespace hana::test {
namespace {

TEST(DisplayStateIntegration, UpdatesApplyInVersionOrderAndLateJoinerCatchesUp) {
  DisplayNode a = start_display_node();
  ASSERT_TRUE(a.node);
  DisplayNode b = start_display_node({a.node->local_address()});
  ASSERT_TRUE(b.node);
  std::uint32_t last_applied = 0, stale_applied = 0, callbacks = 0;
  b.display->on_group_update([&](const DisplayGroupUpdate& u, NodeId from) {
    EXPECT_EQ(from, a.id());
    if (u.version <= last_applied) ++stale_applied;
    last_applied = u.version;
    ++callbacks;
  });

  // Explicit versions, as the application counts them.
  for (std::uint32_t v = 1; v <= 50; ++v)
    ASSERT_TRUE(a.display->propagate_group_update(group_at("wall", static_cast<float>(v), v)).ok());
  ASSERT_TRUE(pump_displays({&a, &b}, [&] { return b.group("wall") && b.group("wall")->version == 50; }));
  EXPECT_EQ(b.group("wall")->position.x, 50.0f);
  EXPECT_EQ(b.group("wall")->author, a.id());
  EXPECT_EQ(stale_applied, 0u);
  EXPECT_GE(callbacks, 1u);  // older unsent versions may have been coalesced away

  // An explicit version not above the held one, sent again, is dropped and counted: by the
  // latest-value side of the connection (it goes out below every send sequence) or, if it
  // got through, by the receiver's store.
  ASSERT_TRUE(a.display->propagate_group_update(group_at("wall", 40, 40)).ok());
  ASSERT_TRUE(pump_displays({&a, &b}, [&] {
    return b.node->stats().lanes[static_cast<std::size_t>(Lane::High)].stale_dropped +
               b.display->stats().stale_dropped >= 1;
  }));
  EXPECT_EQ(b.group("wall")->version, 50u);
  EXPECT_EQ(stale_applied, 0u);

  // A late joiner gets the latest state without any new update being sent.
  DisplayNode c = start_display_node({a.node->local_address()});
  ASSERT_TRUE(c.node);
  ASSERT_TRUE(pump_displays({&a, &b, &c}, [&] { return c.group("wall") && c.group("wall")->version == 50; }));
  EXPECT_EQ(c.group("wall")->position.x, 50.0f);  // the state a holds, not its stale last write
}

TEST(DisplayStateIntegration, BadUpdatesAreApiErrors) {
  DisplayNode a = start_display_node();
  ASSERT_TRUE(a.node);
  auto r = a.display->propagate_group_update(group_at(std::string(100, 'x'), 1, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::InvalidArgument);
  // Past the last 32-bit version there is no next one to assign: an error, never a wrap to 1.
  ASSERT_TRUE(a.display->propagate_group_update(group_at("last", 1, UINT32_MAX)).ok());
  EXPECT_EQ(a.display->next_group_version("last"), 0u);
  auto exhausted = a.display->propagate_group_update(group_at("last", 2));
  ASSERT_FALSE(exhausted.ok());
  EXPECT_EQ(exhausted.error().code, Errc::InvalidArgument);
  EXPECT_EQ(a.group("last")->position.x, 1.0f);
}

}  // namespace
}  // namespace hana::test
