// Display availability through the public Node API, real loopback sockets, both
// backends: a peer's display announced at start arrives as DisplayAvailable,
// Node::set_displays switches it, and a peer that stops takes its display with it.
#include <gtest/gtest.h>

#include <vector>

#include "node_harness.h"

namespace hana::test {
namespace {

class NodeDisplayTest : public ::testing::TestWithParam<IoBackend> {};

std::unique_ptr<Node> start_with_displays(IoBackend backend, std::vector<DisplayInfo> displays) {
  NodeOptions o = loopback_options(backend);
  o.displays = std::move(displays);
  return start_node_with(Config{}, std::move(o));
}

struct DisplayLog {
  std::vector<Event> events;  // display events only (their payloads are empty)
  std::vector<NodeId> owners_seen;
  void take(Event& e) {
    if (e.kind != EventKind::DisplayAvailable && e.kind != EventKind::DisplayUnavailable) return;
    owners_seen.push_back(e.peer);
    Event copy;
    copy.kind = e.kind;
    copy.peer = e.peer;
    copy.display = e.display;
    events.push_back(std::move(copy));
  }
  // The last event about `owner`'s display `id` is of `kind`.
  bool last_is(NodeId owner, const std::string& id, EventKind kind) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it)
      if (it->peer == owner && it->display.id == id) return it->kind == kind;
    return false;
  }
};

TEST_P(NodeDisplayTest, PeerDisplaysAreAnnouncedSwitchedAndGoWithTheirOwner) {
  auto a = start_with_displays(GetParam(), {{"a-wall", true, ""}});
  auto b = start_with_displays(GetParam(), {{"b-wall", true, "3840x2160@60"}});
  auto c = start_with_displays(GetParam(), {});
  ASSERT_TRUE(a && b && c);
  const NodeId b_id = b->id();
  ASSERT_TRUE(a->connect(b->local_address()).ok());
  ASSERT_TRUE(c->connect(b->local_address()).ok());
  DisplayLog at_a, at_b, at_c;
  auto pump_both = [&](EventKind kind) {
    const bool a_ok = pump_until(*a, [&](Event& e) { at_a.take(e); },
                                 [&] { return at_a.last_is(b_id, "b-wall", kind); }, kConnectTimeoutNs);
    const bool c_ok = pump_until(*c, [&](Event& e) { at_c.take(e); },
                                 [&] { return at_c.last_is(b_id, "b-wall", kind); }, kConnectTimeoutNs);
    return a_ok && c_ok;
  };

  // Announced at start: every peer hears it once connected, metadata included.
  ASSERT_TRUE(pump_both(EventKind::DisplayAvailable));
  EXPECT_EQ(at_a.events.back().display.metadata, "3840x2160@60");
  EXPECT_TRUE(at_a.events.back().display.available);
  // B hears a-wall, and never an event about its own display.
  ASSERT_TRUE(pump_until(*b, [&](Event& e) { at_b.take(e); },
                         [&] { return at_b.last_is(a->id(), "a-wall", EventKind::DisplayAvailable); },
                         kConnectTimeoutNs));
  for (NodeId owner : at_b.owners_seen) EXPECT_NE(owner, b_id);

  // Switched at runtime.
  ASSERT_TRUE(b->set_displays({{"b-wall", false, "3840x2160@60"}}).ok());
  ASSERT_TRUE(pump_both(EventKind::DisplayUnavailable));
  EXPECT_FALSE(at_c.events.back().display.available);
  ASSERT_TRUE(b->set_displays({{"b-wall", true, "3840x2160@60"}}).ok());
  ASSERT_TRUE(pump_both(EventKind::DisplayAvailable));
  bool listed = false;
  for (const auto& p : a->stats().peers)
    if (p.peer == b_id) listed = p.displays.size() == 1 && p.displays[0].id == "b-wall" && p.displays[0].available;
  EXPECT_TRUE(listed);

  // The owner stops (a graceful leave): its display goes with it.
  b->stop();
  ASSERT_TRUE(pump_both(EventKind::DisplayUnavailable));
  for (NodeId owner : at_b.owners_seen) EXPECT_NE(owner, b_id);
}

// A peer cut off by its own fault injector (everything in and out dropped) is declared
// Dead: its display goes unavailable; once the cut is lifted it refutes, comes back
// Alive and its display is available again.
TEST_P(NodeDisplayTest, DisplayOfADeadPeerIsUnavailableUntilItComesBack) {
  auto a = start_with_displays(GetParam(), {});
  auto b = start_with_displays(GetParam(), {{"b-wall", true, "1920x1080@60"}});
  ASSERT_TRUE(a && b);
  const NodeId b_id = b->id();
  ASSERT_TRUE(a->connect(b->local_address()).ok());
  DisplayLog at_a;
  bool dead = false;
  auto take = [&](Event& e) {
    at_a.take(e);
    if (e.kind == EventKind::PeerDisconnected && e.peer == b_id) dead = true;
  };
  ASSERT_TRUE(pump_until(*a, take, [&] { return at_a.last_is(b_id, "b-wall", EventKind::DisplayAvailable); },
                         kConnectTimeoutNs));
  ASSERT_TRUE(b->set("fault_inbound", "true").ok());
  ASSERT_TRUE(b->set("fault_loss_pct", "100").ok());
  ASSERT_TRUE(pump_until(*a, take, [&] { return dead && at_a.last_is(b_id, "b-wall", EventKind::DisplayUnavailable); },
                         kConnectTimeoutNs));
  EXPECT_EQ(at_a.events.back().display.metadata, "1920x1080@60");
  ASSERT_TRUE(b->set("fault_loss_pct", "0").ok());
  ASSERT_TRUE(pump_until(*a, take, [&] { return at_a.last_is(b_id, "b-wall", EventKind::DisplayAvailable); },
                         kConnectTimeoutNs));
  // Drain b so its queue never fills while it was cut off.
  Event e;
  for (int i = 0; i < 100000 && b->poll_event(e); ++i) {
  }
}

TEST_P(NodeDisplayTest, BadDisplayListsAreRefusedWithAClearError) {
  auto n = start_with_displays(GetParam(), {});
  ASSERT_TRUE(n);
  const std::string long_id(33, 'x');
  for (const auto& bad : std::vector<std::vector<DisplayInfo>>{
           {{"", true, ""}},
           {{long_id, true, ""}},
           {{"d", true, std::string(65, 'm')}},
           {{"d", true, ""}, {"d", false, ""}},
           std::vector<DisplayInfo>(9, DisplayInfo{"same", true, ""})}) {
    auto r = n->set_displays(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::InvalidArgument);
  }
  NodeOptions o;
  o.displays = {{"d", true, ""}, {"d", true, ""}};
  auto created = Node::create(Config{}, o);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, Errc::InvalidArgument);
  n->stop();
  auto closed = n->set_displays({{"d", true, ""}});
  ASSERT_FALSE(closed.ok());
  EXPECT_EQ(closed.error().code, Errc::Closed);
}

INSTANTIATE_TEST_SUITE_P(Backends, NodeDisplayTest, ::testing::Values(IoBackend::Uring, IoBackend::Epoll),
                         backend_name);

}  // namespace
}  // namespace hana::test
