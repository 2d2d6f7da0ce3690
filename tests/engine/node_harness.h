// Helpers for the Node integration tests: nodes on loopback (port 0), connecting two
// nodes, and bounded event pumps (every wait has a deadline and a turn limit).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "engine/clock.h"
#include "hana/node.h"

namespace hana::test {

inline constexpr TimeNs kConnectTimeoutNs = 10 * kNsPerSec;

// Options of a quiet test node on loopback, port 0; tests add seeds, displays, ...
inline NodeOptions loopback_options(IoBackend backend) {
  NodeOptions o;
  o.bind = Address::ipv4(127, 0, 0, 1, 0);
  o.backend = backend;
  o.log.level = LogLevel::Off;
  return o;
}

// Knobs for tests of delivery, not of failure detection: a loop thread starved by busy
// test threads under a sanitizer on 2 vCPUs must not be declared dead (the default
// detects in ~0.2 s, which is right for a display mesh and wrong for a TSan stress test).
inline Config patient_failure_detection() {
  Config c;
  c.probe_interval_ms = 500;
  c.probe_timeout_ms = 200;
  c.suspicion_mult = 10.0;
  return c;
}

// Knobs for a pair that sends nothing on its own for seconds (no keep-alive, probe,
// clock sample or link digest), so that a thread's wait_event() blocks as long as asked
// and only what a test does makes the loop turn.
inline Config quiet_pair(std::uint64_t standby_grace_us = Config{}.standby_grace_us) {
  Config c = patient_failure_detection();
  c.standby_grace_us = standby_grace_us;
  c.probe_interval_ms = 60'000;
  c.keepalive_interval_ms = 20'000;
  c.idle_timeout_ms = 60'000;
  c.clock_sync_interval_ms = 60'000;
  c.link_report_interval_ms = 60'000;
  c.view_check_interval_ms = 0;
  return c;
}

// Creates and starts a node; nullptr (and a test failure) when either step fails.
inline std::unique_ptr<Node> start_node_with(const Config& config, NodeOptions options) {
  const IoBackend backend = options.backend;
  auto n = Node::create(config, std::move(options));
  EXPECT_TRUE(n.ok()) << (n.ok() ? "" : n.error().message);
  if (!n.ok()) return nullptr;
  auto r = (*n)->start();
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return nullptr;
  if (backend != IoBackend::Auto) {
    EXPECT_EQ((*n)->backend(), backend);
  }
  return std::move(*n);
}

inline std::unique_ptr<Node> start_node(IoBackend backend, const Config& config = {},
                                        Address bind = Address::ipv4(127, 0, 0, 1, 0)) {
  NodeOptions o = loopback_options(backend);
  o.bind = bind;
  return start_node_with(config, std::move(o));
}

// Pumps events of `node` into `on_event` until `done()` or the timeout.
inline bool pump_until(Node& node, const std::function<void(Event&)>& on_event, const std::function<bool()>& done,
                       TimeNs timeout_ns) {
  const TimeNs deadline = engine::monotonic_now_ns() + timeout_ns;
  Event ev;
  for (long turns = 0; turns < 10'000'000 && !done(); ++turns) {
    const TimeNs now = engine::monotonic_now_ns();
    if (now >= deadline) return done();
    if (node.wait_event(ev, std::min<TimeNs>(deadline - now, 10 * kNsPerMs))) on_event(ev);
  }
  return done();
}

// Connects a -> b; returns the peer ids (b as seen by a, a as seen by b) or {0, 0}.
inline std::pair<NodeId, NodeId> connect_pair(Node& a, Node& b) {
  if (!a.connect(b.local_address()).ok()) return {0, 0};
  NodeId b_at_a = 0, a_at_b = 0;
  pump_until(a, [&](Event& e) { if (e.kind == EventKind::PeerConnected) b_at_a = e.peer; },
             [&] { return b_at_a != 0; }, kConnectTimeoutNs);
  pump_until(b, [&](Event& e) { if (e.kind == EventKind::PeerConnected) a_at_b = e.peer; },
             [&] { return a_at_b != 0; }, kConnectTimeoutNs);
  return {b_at_a, a_at_b};
}

// Starts a and b (both on `backend`, both with `config`) and connects a -> b; returns the
// peer ids as connect_pair does, {0, 0} if either node did not start.
inline std::pair<NodeId, NodeId> start_connected(std::unique_ptr<Node>& a, std::unique_ptr<Node>& b,
                                                 IoBackend backend, const Config& config = {}) {
  a = start_node(backend, config);
  b = start_node(backend, config);
  if (!a || !b) return {0, 0};
  return connect_pair(*a, *b);
}

inline std::string backend_name(const ::testing::TestParamInfo<IoBackend>& info) {
  return std::string(to_string(info.param));
}

}  // namespace hana::test
