// Mesh-wide link quality on real nodes (loopback): every node's stats() holds every
// node's measurement of every other node, and remote reports arrive as events with
// their observer.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "node_harness.h"

namespace hana::test {
namespace {

std::unique_ptr<Node> start_seeded(IoBackend backend, std::vector<Address> seeds) {
  NodeOptions o = loopback_options(backend);
  o.seeds = std::move(seeds);
  return start_node_with(Config{}, std::move(o));
}

bool has_link(const NodeStats& s, NodeId observer, NodeId peer) {
  return std::any_of(s.links.begin(), s.links.end(),
                     [&](const LinkReport& l) { return l.observer == observer && l.peer == peer && l.quality.rtt_us > 0; });
}

class NodeLinksTest : public ::testing::TestWithParam<IoBackend> {};

TEST_P(NodeLinksTest, EveryNodeSeesEveryOthersLinkReports) {
  std::vector<std::unique_ptr<Node>> nodes;
  nodes.push_back(start_seeded(GetParam(), {}));
  ASSERT_TRUE(nodes[0]);
  for (int i = 0; i < 2; ++i) {
    nodes.push_back(start_seeded(GetParam(), {nodes[0]->local_address()}));
    ASSERT_TRUE(nodes.back());
  }
  const auto complete = [&] {
    for (auto& viewer : nodes) {
      const NodeStats s = viewer->stats();
      for (auto& o : nodes)
        for (auto& p : nodes)
          if (o != p && !has_link(s, o->id(), p->id())) return false;
    }
    return true;
  };
  // Poll the stats snapshot in a bounded loop (each stats() call waits for the loop).
  bool done = false;
  const TimeNs deadline = engine::monotonic_now_ns() + 15 * kNsPerSec;
  Event ev;
  for (int turn = 0; turn < 3'000 && !done && engine::monotonic_now_ns() < deadline; ++turn) {
    done = complete();
    if (!done) (void)nodes[0]->wait_event(ev, 5 * kNsPerMs);  // a bounded pause that also drains
  }
  if (!done) {
    for (std::size_t v = 0; v < nodes.size(); ++v) {
      const NodeStats s = nodes[v]->stats();
      for (const auto& l : s.links) ADD_FAILURE() << "viewer " << v << ": " << l.observer << " -> " << l.peer << " rtt " << l.quality.rtt_us;
      for (const auto& p : s.peers) ADD_FAILURE() << "viewer " << v << " member " << p.peer << " connected " << p.connected << " rtt " << p.link.rtt_us;
    }
  }
  ASSERT_TRUE(done) << "not every node sees every link";
  for (auto& viewer : nodes) {
    const NodeStats s = viewer->stats();
    EXPECT_EQ(s.links.size(), 6u);
    for (const auto& l : s.links) {
      EXPECT_NE(l.observer, l.peer);
      EXPECT_LT(l.age_ms, 60'000u);
      EXPECT_LE(l.quality.loss_rate, 1.0);
    }
  }
  // Node 2's own events include a remote observer's report (observer set, not node 2).
  bool remote_event = false;
  pump_until(
      *nodes[2],
      [&](Event& e) {
        if (e.kind != EventKind::LinkQualityChanged) return;
        EXPECT_NE(e.observer, 0u);
        if (e.observer != nodes[2]->id()) remote_event = true;
      },
      [&] { return remote_event; }, 5 * kNsPerSec);
  EXPECT_TRUE(remote_event);
}

INSTANTIATE_TEST_SUITE_P(Backends, NodeLinksTest, ::testing::Values(IoBackend::Uring, IoBackend::Epoll), backend_name);

}  // namespace
}  // namespace hana::test
