#include "demo_mesh.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "hana/display_state.h"
#include "hana/node.h"
#include "table.h"

namespace hana::demo {
namespace {

using Clock = std::chrono::steady_clock;

// One display node: its Node, its DisplayState and the application thread that owns them
// (like a real display process would). The mutex only guards the DisplayState against the
// demo's table printer; the Node itself needs no lock.
struct DemoNode {
  std::string name;
  std::unique_ptr<Node> node;
  std::unique_ptr<DisplayState> display;
  std::mutex mutex;
  std::thread thread;
  std::atomic<bool> crashed{false};
  // Highest version the callback saw per group: proves no stale version is ever applied.
  std::unordered_map<std::string, std::uint32_t> seen;
  std::uint64_t stale_applied = 0;
};

IoBackend parse_backend(const std::string& s) {
  return s == "uring" ? IoBackend::Uring : s == "epoll" ? IoBackend::Epoll : IoBackend::Auto;
}

std::string numbered(const char* prefix, int i) { return prefix + std::string(i < 10 ? "0" : "") + std::to_string(i); }

DisplayGroupUpdate group_update(int g, std::uint32_t version, double t) {
  DisplayGroupUpdate u;
  u.group_id = numbered("group-", g);
  u.position = {static_cast<float>(std::cos(t + g)), static_cast<float>(std::sin(t + g)), 0.f};
  u.rotation = {static_cast<float>(std::cos(t / 2)), 0.f, 0.f, static_cast<float>(std::sin(t / 2))};
  u.timestamp_us = wall_clock_us();
  u.version = version;
  return u;
}

// A display node's application loop: wait for events and apply them.
void run_member(DemoNode& n, const std::atomic<bool>& stop) {
  Event e;
  while (!stop && !n.crashed) {
    if (!n.node->wait_event(e, 20 * kNsPerMs)) continue;
    std::lock_guard lock(n.mutex);
    n.display->handle(e);
  }
}

// The controller's loop: move every group at `rate_hz`, and apply events in between.
void run_controller(DemoNode& n, const Options& o, const std::atomic<bool>& stop, std::atomic<std::uint32_t>& version,
                    std::atomic<std::uint64_t>& send_errors) {
  const auto start = Clock::now();
  const auto period = std::chrono::nanoseconds(1'000'000'000 / o.rate_hz);
  auto next_tick = start;
  Event e;
  while (!stop) {
    const auto now = Clock::now();
    if (now >= next_tick) {
      const std::uint32_t v = version + 1;
      const double t = std::chrono::duration<double>(now - start).count();
      std::lock_guard lock(n.mutex);
      for (int g = 0; g < o.groups; ++g)
        if (!n.display->propagate_group_update(group_update(g, v, t)).ok()) ++send_errors;
      version = v;
      next_tick += period;
      if (next_tick < now) next_tick = now + period;  // fell behind: skip, never burst
      continue;
    }
    const auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(next_tick - now).count();
    if (n.node->wait_event(e, static_cast<TimeNs>(wait))) {
      std::lock_guard lock(n.mutex);
      n.display->handle(e);
    }
  }
}

Row make_row(DemoNode& n, bool controller) {
  Row r;
  r.name = n.name + (controller ? "*" : "");
  const NodeStats s = n.node->stats();
  r.role = (s.coordinator && *s.coordinator == s.self) ? "coordinator" : "member";
  std::uint64_t rtt_sum = 0, rtt_n = 0, lost = 0, sent = 0;
  for (const auto& p : s.peers) {
    if (p.state != MemberState::Alive || !p.connected) continue;
    ++r.peers_alive;
    // The link-quality record (connection or probe RTT, whichever measured last) when there
    // is one, else the connection's RTT once it has a sample (before, it is initial_rtt_us).
    const std::uint64_t rtt = p.link.rtt_us                    ? p.link.rtt_us
                              : p.connection.rtt_samples != 0 ? p.connection.rtt_smoothed_us
                                                              : 0;
    if (rtt) rtt_sum += rtt, ++rtt_n;
    lost += p.connection.packets_lost;
    sent += p.connection.packets_sent;
  }
  r.rtt_us = rtt_n ? rtt_sum / rtt_n : 0;
  r.loss_pct = sent ? 100.0 * static_cast<double>(lost) / static_cast<double>(sent) : 0;
  std::lock_guard lock(n.mutex);
  const DisplayStateStats d = n.display->stats();
  r.applied = d.applied;
  r.stale_dropped = d.stale_dropped;
  r.stale_applied = n.stale_applied;
  r.age_p50_us = d.age_p50_us;
  r.age_p99_us = d.age_p99_us;
  return r;
}

std::vector<Row> rows_of(std::vector<std::unique_ptr<DemoNode>>& nodes) {
  std::vector<Row> rows;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (!nodes[i]->crashed) rows.push_back(make_row(*nodes[i], i + 1 == nodes.size()));
  return rows;
}

}  // namespace

int run(const Options& o) {
  Config config;
  config.fault_loss_pct = o.loss * 100.0;
  if (auto v = config.validate(); !v.ok()) {
    std::fprintf(stderr, "hana-demo: %s\n", v.error().message);
    return 2;
  }
  std::vector<std::unique_ptr<DemoNode>> nodes;
  std::vector<Address> addresses;
  for (int i = 1; i <= o.nodes; ++i) {
    auto n = std::make_unique<DemoNode>();
    n->name = numbered("node-", i);
    NodeOptions opt;
    opt.bind = Address::ipv4(127, 0, 0, 1, 0);
    opt.node_id = static_cast<NodeId>(i);  // node-01 has the lowest id: the first coordinator
    opt.name = n->name;
    opt.backend = parse_backend(o.backend);
    opt.seeds = addresses;  // every earlier node: the mesh forms without multicast on loopback
    opt.displays = {{n->name + "-display", true, "3840x2160@60"}};
    opt.log_to_stderr = i == 1;
    auto created = Node::create(config, opt);
    if (!created.ok()) {
      std::fprintf(stderr, "hana-demo: cannot create %s: %s\n", n->name.c_str(), created.error().message);
      return 1;
    }
    n->node = std::move(*created);
    if (auto s = n->node->start(); !s.ok()) {
      std::fprintf(stderr, "hana-demo: cannot start %s: %s\n", n->name.c_str(), s.error().message);
      return 1;
    }
    addresses.push_back(n->node->local_address());
    n->display = std::make_unique<DisplayState>(*n->node);
    DemoNode* self = n.get();
    n->display->on_group_update([self](const DisplayGroupUpdate& u, NodeId) {
      auto& last = self->seen[u.group_id];
      if (u.version <= last) ++self->stale_applied;  // must never happen
      last = std::max(last, u.version);
    });
    nodes.push_back(std::move(n));
  }

  // The controller is the last node (node-N); the coordinator is elected among all of them.
  std::atomic<bool> stop{false};
  std::atomic<std::uint32_t> version{0};
  std::atomic<std::uint64_t> send_errors{0};
  DemoNode& controller = *nodes.back();
  for (auto& n : nodes) {
    DemoNode* p = n.get();
    if (p == &controller)
      p->thread = std::thread([&, p] { run_controller(*p, o, stop, version, send_errors); });
    else
      p->thread = std::thread([&, p] { run_member(*p, stop); });
  }

  std::printf("hana-demo: %d nodes on loopback, controller %s moves %d groups at %d Hz, loss %.1f%%, %d s\n", o.nodes,
              controller.name.c_str(), o.groups, o.rate_hz, o.loss * 100, o.duration_s);
  const auto start = Clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  bool killed = false;
  for (int second = 1; second <= o.duration_s; ++second) {
    std::this_thread::sleep_until(start + std::chrono::seconds(second));  // the table's refresh period
    if (o.kill_coordinator_after_s > 0 && !killed && second >= o.kill_coordinator_after_s) {
      killed = true;
      const NodeStats s = controller.node->stats();
      for (auto& n : nodes) {
        if (!s.coordinator || n->node->id() != *s.coordinator || n.get() == &controller) continue;
        std::printf("\n*** t=%.1fs crashing the coordinator %s (term %llu): it goes silent ***\n", elapsed(),
                    n->name.c_str(), static_cast<unsigned long long>(s.term));
        if (!n->node->set("fault_outbound", "true").ok() || !n->node->set("fault_loss_pct", "100").ok())
          std::fprintf(stderr, "hana-demo: could not silence %s\n", n->name.c_str());
        n->crashed = true;
      }
    }
    if (!o.quiet) print_table(rows_of(nodes), elapsed());
  }

  // Stop the controller, then give the last updates a bounded time to land everywhere.
  stop = true;
  for (auto& n : nodes) n->thread.join();
  const std::uint32_t final_version = version;
  auto converged = [&] {
    for (auto& n : nodes) {
      if (n->crashed) continue;
      std::lock_guard lock(n->mutex);
      for (int g = 0; g < o.groups; ++g) {
        const DisplayGroupUpdate* u = n->display->store().group(numbered("group-", g));
        if (!u || u->version != final_version) return false;
      }
    }
    return true;
  };
  const auto settle_until = Clock::now() + std::chrono::seconds(3);
  Event e;
  while (!converged() && Clock::now() < settle_until) {
    for (auto& n : nodes) {
      if (n->crashed) continue;
      std::lock_guard lock(n->mutex);
      while (n->node->poll_event(e)) n->display->handle(e);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }

  const std::vector<Row> rows = rows_of(nodes);
  print_table(rows, elapsed());
  const bool ok = converged();
  std::uint64_t stale_applied = 0;
  for (const auto& n : nodes) stale_applied += n->stale_applied;
  print_summary(rows, final_version, o.groups, ok, stale_applied, send_errors);
  for (auto& n : nodes) n->node->stop();
  return ok && stale_applied == 0 ? 0 : 1;
}

}  // namespace hana::demo
