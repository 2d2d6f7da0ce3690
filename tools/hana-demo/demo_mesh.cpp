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
// (like a real display process would). The mutex only guards the DisplayState and the
// authoring record against the demo's table printer; the Node itself needs no lock.
struct DemoNode {
  std::string name;
  std::unique_ptr<Node> node;
  std::unique_ptr<DisplayState> display;
  std::mutex mutex;
  std::thread thread;
  std::atomic<bool> crashed{false};
  NodeId coordinator = 0;  // as the last RoleChanged told this node
  // Highest stamp the callback saw per group: proves no stale version is ever applied.
  std::unordered_map<std::string, DisplayStamp> seen;
  std::uint64_t stale_applied = 0;
  // What this node wrote, for the summary.
  std::uint64_t authored = 0;
  double first_authored_s = 0, last_authored_s = 0, span_s = 0;
  bool authoring = false;  // wrote at the last tick
};

// What every node's thread shares.
struct Shared {
  const Options& options;
  Clock::time_point start;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> send_errors{0};
  std::atomic<DemoNode*> last_author{nullptr};
};

IoBackend parse_backend(const std::string& s) {
  return s == "uring" ? IoBackend::Uring : s == "epoll" ? IoBackend::Epoll : IoBackend::Auto;
}

std::string numbered(const char* prefix, int i) { return prefix + std::string(i < 10 ? "0" : "") + std::to_string(i); }

// Version 0: DisplayState numbers it above every version of the group this node has seen,
// so a new author carries on where the previous one stopped.
DisplayGroupUpdate group_update(int g, double t, std::uint64_t mesh_time_us, int lead_ms) {
  DisplayGroupUpdate u;
  u.group_id = numbered("group-", g);
  u.position = {static_cast<float>(std::cos(t + g)), static_cast<float>(std::sin(t + g)), 0.f};
  u.rotation = {static_cast<float>(std::cos(t / 2)), 0.f, 0.f, static_cast<float>(std::sin(t / 2))};
  u.timestamp_us = mesh_time_us;
  u.apply_at_us = lead_ms > 0 ? mesh_time_us + static_cast<std::uint64_t>(lead_ms) * 1000 : 0;
  u.version = 0;
  return u;
}

// Applies one event; the coordinator's id comes from RoleChanged, never from polling stats().
void take_event(DemoNode& n, const Event& e) {
  if (!n.display->handle(e) && e.kind == EventKind::RoleChanged && e.role == Role::Coordinator) n.coordinator = e.peer;
}

bool is_author(const DemoNode& n, bool controller, const Options& o) {
  return o.author == "coordinator" ? n.coordinator == n.node->id() : controller;
}

// One tick of the author: move every group.
void move_groups(DemoNode& n, Shared& shared, Clock::time_point now) {
  const double t = std::chrono::duration<double>(now - shared.start).count();
  for (int g = 0; g < shared.options.groups; ++g)
    if (!n.display->propagate_group_update(group_update(g, t, n.display->mesh_time_us(), shared.options.lead_ms)).ok()) ++shared.send_errors;
  if (n.authored == 0) n.first_authored_s = t;
  if (!n.authoring) n.span_s = t;
  n.authoring = true;
  n.last_authored_s = t;
  n.authored += static_cast<std::uint64_t>(shared.options.groups);
  shared.last_author = &n;
}

// A display node's application loop: apply events and, at every tick while it is the
// author, move the groups at `rate_hz`.
void run_node(DemoNode& n, bool controller, Shared& shared) {
  const auto period = std::chrono::nanoseconds(1'000'000'000 / shared.options.rate_hz);
  auto next_tick = shared.start;
  Event e;
  while (!shared.stop && !n.crashed) {
    const auto now = Clock::now();
    if (now >= next_tick) {
      next_tick += period;
      if (next_tick < now) next_tick = now + period;  // fell behind: skip, never burst
      std::lock_guard lock(n.mutex);
      if (is_author(n, controller, shared.options)) move_groups(n, shared, now);
      else n.authoring = false;
      continue;
    }
    const auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(next_tick - now).count();
    if (n.node->wait_event(e, static_cast<TimeNs>(wait))) {
      std::lock_guard lock(n.mutex);
      take_event(n, e);
    }
  }
}

Row make_row(DemoNode& n) {
  Row r;
  {
    std::lock_guard lock(n.mutex);
    r.name = n.name + (n.authored ? "*" : "");
  }
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
  r.deadline_missed = d.deadline_missed;
  return r;
}

std::vector<Row> rows_of(std::vector<std::unique_ptr<DemoNode>>& nodes) {
  std::vector<Row> rows;
  for (auto& n : nodes)
    if (!n->crashed) rows.push_back(make_row(*n));
  return rows;
}

// Creates and starts node-01..node-N, each seeded with every earlier one; empty on failure.
std::vector<std::unique_ptr<DemoNode>> start_nodes(const Options& o, const Config& config) {
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
    if (i != 1) opt.log.level = LogLevel::Off;
    auto created = Node::create(config, opt);
    if (!created.ok()) {
      std::fprintf(stderr, "hana-demo: cannot create %s: %s\n", n->name.c_str(), created.error().message);
      return {};
    }
    n->node = std::move(*created);
    if (auto s = n->node->start(); !s.ok()) {
      std::fprintf(stderr, "hana-demo: cannot start %s: %s\n", n->name.c_str(), s.error().message);
      return {};
    }
    addresses.push_back(n->node->local_address());
    n->display = std::make_unique<DisplayState>(*n->node);
    DemoNode* self = n.get();
    n->display->on_group_update([self](const DisplayGroupUpdate& u, NodeId) {
      auto& last = self->seen[u.group_id];
      if (stamp_of(u) <= last) ++self->stale_applied;  // must never happen
      last = std::max(last, stamp_of(u));
    });
    nodes.push_back(std::move(n));
  }
  return nodes;
}

// Silences the coordinator (as `observer` sees it) like a crash: nothing leaves it any more
// and its application thread stops. `spared` (the controller, when it is the author) is not.
DemoNode* crash_coordinator(std::vector<std::unique_ptr<DemoNode>>& nodes, DemoNode& observer,
                            const DemoNode* spared, double now_s) {
  const NodeStats s = observer.node->stats();
  for (auto& n : nodes) {
    if (!s.coordinator || n->node->id() != *s.coordinator || n.get() == spared) continue;
    std::printf("\n*** t=%.1fs crashing the coordinator %s (term %llu): it goes silent ***\n", now_s, n->name.c_str(),
                static_cast<unsigned long long>(s.term));
    if (!n->node->set("fault_outbound", "true").ok() || !n->node->set("fault_loss_pct", "100").ok())
      std::fprintf(stderr, "hana-demo: could not silence %s\n", n->name.c_str());
    n->crashed = true;
    return n.get();
  }
  return nullptr;
}

// Every live node holds, for every group, the stamp the last author holds.
bool converged(std::vector<std::unique_ptr<DemoNode>>& nodes, const DemoNode* last_author, int groups) {
  if (!last_author) return false;
  for (int g = 0; g < groups; ++g) {
    const std::string id = numbered("group-", g);
    const DisplayGroupUpdate* final_state = last_author->display->store().group(id);
    if (!final_state) return false;
    for (auto& n : nodes) {
      if (n->crashed) continue;
      std::lock_guard lock(n->mutex);
      const DisplayGroupUpdate* u = n->display->store().group(id);
      if (!u || stamp_of(*u) != stamp_of(*final_state)) return false;
    }
  }
  return true;
}

Summary summarize(std::vector<std::unique_ptr<DemoNode>>& nodes, const DemoNode* last_author, int groups, int lead_ms) {
  Summary s;
  s.groups = groups;
  s.lead_ms = lead_ms;
  s.converged = converged(nodes, last_author, groups);
  if (last_author) {
    s.final_author = last_author->name;
    if (const DisplayGroupUpdate* u = last_author->display->store().group(numbered("group-", 0)))
      s.final_version = u->version;
  }
  for (const auto& n : nodes) {
    s.stale_applied += n->stale_applied;
    if (n->authored)
      s.authors.push_back({n->name, n->authored, n->first_authored_s, n->last_authored_s, n->span_s, n->crashed});
  }
  return s;
}

}  // namespace

int run(const Options& o) {
  Config config;
  config.fault_loss_pct = o.loss * 100.0;
  if (auto v = config.validate(); !v.ok()) {
    std::fprintf(stderr, "hana-demo: %s\n", v.error().message);
    return 2;
  }
  std::vector<std::unique_ptr<DemoNode>> nodes = start_nodes(o, config);
  if (nodes.empty()) return 1;

  // With --author controller the last node (node-N) writes; the coordinator is elected
  // among all of them either way.
  Shared shared{o, Clock::now()};
  DemoNode& controller = *nodes.back();
  const bool by_coordinator = o.author == "coordinator";
  for (auto& n : nodes) {
    DemoNode* p = n.get();
    p->thread = std::thread([&, p] { run_node(*p, p == &controller, shared); });
  }

  if (by_coordinator)
    std::printf("hana-demo: %d nodes on loopback, the coordinator moves %d groups at %d Hz, loss %.1f%%, %d s\n",
                o.nodes, o.groups, o.rate_hz, o.loss * 100, o.duration_s);
  else
    std::printf("hana-demo: %d nodes on loopback, controller %s moves %d groups at %d Hz, loss %.1f%%, %d s\n",
                o.nodes, controller.name.c_str(), o.groups, o.rate_hz, o.loss * 100, o.duration_s);
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - shared.start).count(); };
  double crash_s = -1;
  std::string crashed;
  for (int second = 1; second <= o.duration_s; ++second) {
    std::this_thread::sleep_until(shared.start + std::chrono::seconds(second));  // the table's refresh period
    if (o.kill_coordinator_after_s > 0 && crash_s < 0 && second >= o.kill_coordinator_after_s) {
      crash_s = elapsed();
      if (const DemoNode* c = crash_coordinator(nodes, controller, by_coordinator ? nullptr : &controller, crash_s))
        crashed = c->name;
    }
    if (!o.quiet) print_table(rows_of(nodes), elapsed());
  }

  // Stop the authors, then give the last updates a bounded time to land everywhere.
  shared.stop = true;
  for (auto& n : nodes) n->thread.join();
  const DemoNode* last_author = shared.last_author;
  const auto settle_until = Clock::now() + std::chrono::seconds(3);
  Event e;
  while (!converged(nodes, last_author, o.groups) && Clock::now() < settle_until) {
    for (auto& n : nodes) {
      if (n->crashed) continue;
      std::lock_guard lock(n->mutex);
      while (n->node->poll_event(e)) take_event(*n, e);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }

  const std::vector<Row> rows = rows_of(nodes);
  print_table(rows, elapsed());
  Summary summary = summarize(nodes, last_author, o.groups, o.lead_ms);
  summary.send_errors = shared.send_errors;
  summary.crash_s = crashed.empty() ? -1 : crash_s;
  summary.crashed = crashed;
  print_summary(rows, summary);
  for (auto& n : nodes) n->node->stop();
  return summary_ok(summary) ? 0 : 1;
}

}  // namespace hana::demo
