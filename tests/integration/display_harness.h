// Helpers for the display state tests over real nodes on loopback: a node with its
// DisplayState, and one pump that feeds several such nodes' events from the test's thread
// until a condition holds or a deadline passes (DisplayState is single-threaded by design).
#pragma once

#include <memory>
#include <vector>

#include "../engine/node_harness.h"
#include "hana/display_state.h"

namespace hana::test {

struct DisplayNode {
  std::unique_ptr<Node> node;
  std::unique_ptr<DisplayState> display;

  NodeId id() const { return node->id(); }
  const DisplayGroupUpdate* group(std::string_view id) const { return display->store().group(id); }
  // Stops the node (it leaves the mesh) and drops its state: a dead author.
  void kill() {
    display.reset();
    node->stop();
    node.reset();
  }
};

// A node on loopback seeded with `seeds` (the mesh connects the rest), with a DisplayState.
inline DisplayNode start_display_node(std::vector<Address> seeds = {}, NodeId node_id = 0) {
  NodeOptions o = loopback_options(IoBackend::Auto);
  o.seeds = std::move(seeds);
  o.node_id = node_id;
  DisplayNode n;
  n.node = start_node_with(Config{}, std::move(o));
  if (n.node) n.display = std::make_unique<DisplayState>(*n.node);
  return n;
}

// Feeds every live node's events to its DisplayState until `done()` or the timeout. Waits
// on the first node's events between rounds, so an idle mesh costs no spinning.
inline bool pump_displays(const std::vector<DisplayNode*>& nodes, const std::function<bool()>& done,
                          TimeNs timeout_ns = kConnectTimeoutNs) {
  const TimeNs deadline = engine::monotonic_now_ns() + timeout_ns;
  Event e;
  while (!done()) {
    if (engine::monotonic_now_ns() >= deadline) return done();
    DisplayNode* first = nullptr;
    for (DisplayNode* n : nodes) {
      if (!n->node) continue;
      if (!first) first = n;
      while (n->node->poll_event(e)) n->display->handle(e);
    }
    if (first && first->node->wait_event(e, kNsPerMs)) first->display->handle(e);
  }
  return true;
}

// A group update of `id` at x = `marker`; version 0 lets DisplayState assign the next one.
inline DisplayGroupUpdate group_at(const std::string& id, float marker, std::uint32_t version = 0) {
  DisplayGroupUpdate u;
  u.group_id = id;
  u.version = version;
  u.position = {marker, 1, 2};
  // timestamp_us 0: propagate stamps it with the node's mesh time
  return u;
}

}  // namespace hana::test
