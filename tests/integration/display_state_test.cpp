// hana::DisplayState over real nodes on loopback: updates propagate, only newer versions
// apply, and a node that joins late catches up from the authors' snapshot.
#include <gtest/gtest.h>

#include "../engine/node_harness.h"
#include "hana/display_state.h"

namespace hana::test {
namespace {

DisplayGroupUpdate update(const std::string& id, std::uint32_t version) {
  DisplayGroupUpdate u;
  u.group_id = id;
  u.version = version;
  u.position = {static_cast<float>(version), 1, 2};
  u.timestamp_us = wall_clock_us();
  return u;
}

// Pumps `node`'s events into `display` until `done()` or the timeout.
bool pump_display(Node& node, DisplayState& display, const std::function<bool()>& done) {
  return pump_until(node, [&](Event& e) { display.handle(e); }, done, kConnectTimeoutNs);
}

TEST(DisplayStateIntegration, UpdatesApplyInVersionOrderAndLateJoinerCatchesUp) {
  auto a = start_node(IoBackend::Auto);
  auto b = start_node(IoBackend::Auto);
  ASSERT_TRUE(a && b);
  const auto [b_at_a, a_at_b] = connect_pair(*a, *b);
  ASSERT_NE(b_at_a, 0u);
  DisplayState da(*a), db(*b);
  std::uint32_t last_applied = 0, stale_applied = 0, callbacks = 0;
  db.on_group_update([&](const DisplayGroupUpdate& u, NodeId from) {
    EXPECT_EQ(from, a_at_b);
    if (u.version <= last_applied) ++stale_applied;
    last_applied = u.version;
    ++callbacks;
  });

  for (std::uint32_t v = 1; v <= 50; ++v) ASSERT_TRUE(da.propagate_group_update(update("wall", v)).ok());
  ASSERT_TRUE(pump_display(*b, db, [&] { return db.store().group("wall") && db.store().group("wall")->version == 50; }));
  EXPECT_EQ(db.store().group("wall")->position.x, 50.0f);
  EXPECT_EQ(stale_applied, 0u);
  EXPECT_GE(callbacks, 1u);  // older unsent versions may have been coalesced away

  // A version not newer than the applied one, sent again, is dropped and counted: by the
  // latest-value receive side of the connection already (so DisplayState never sees it).
  ASSERT_TRUE(da.propagate_group_update(update("wall", 40)).ok());
  ASSERT_TRUE(pump_display(*b, db, [&] {
    return b->stats().lanes[static_cast<std::size_t>(Lane::High)].stale_dropped + db.stats().stale_dropped >= 1;
  }));
  EXPECT_EQ(db.store().group("wall")->version, 50u);
  EXPECT_EQ(stale_applied, 0u);

  // A late joiner gets the latest state without any new update being sent.
  auto c = start_node(IoBackend::Auto);
  ASSERT_TRUE(c);
  DisplayState dc(*c);
  ASSERT_TRUE(c->connect(a->local_address()).ok());
  // a must see PeerConnected to send its snapshot: pump a's events through its DisplayState.
  std::atomic<bool> c_done{false};
  std::thread pump_a([&] { pump_display(*a, da, [&] { return c_done.load(); }); });
  const bool caught_up = pump_display(*c, dc, [&] { return dc.store().group("wall") != nullptr; });
  c_done = true;
  pump_a.join();
  ASSERT_TRUE(caught_up);
  EXPECT_EQ(dc.store().group("wall")->version, 40u);  // a's latest authored version is the snapshot
}

TEST(DisplayStateIntegration, BadUpdatesAreApiErrors) {
  auto a = start_node(IoBackend::Auto);
  ASSERT_TRUE(a);
  DisplayState da(*a);
  DisplayGroupUpdate u = update(std::string(100, 'x'), 1);
  auto r = da.propagate_group_update(u);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::InvalidArgument);
}

}  // namespace
}  // namespace hana::test
