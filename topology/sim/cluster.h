// Simulator harness, not production code (header-only, for tests and hana-sim; links
// hana_sim): N topology::Mesh nodes over sim::Network in virtual time.
// Every run is bounded in virtual time and in steps; nothing sleeps.
//
// It drives the nodes itself over sim::Network instead of using sim::Driver: the
// generic driver asks every endpoint for transmits and timeouts on every step, which
// is O(nodes) per step; here a node's deadline only changes when it was called, so a
// heap of deadlines makes a 100-node simulated hour affordable.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <queue>
#include <unordered_map>

#include "protocol/sim/network.h"
#include "topology/mesh.h"
#include "topology/rng.h"

namespace hana::topology::test {

enum class Discovery { Beacons, Seeds };

// What a loaded host does to a process (issue 18: the simulator must see what hosts see).
// Every wake-up of a node, for a timer or for a datagram, comes late: by up to typical_ns
// (uniform) always, and with late_chance by [1 ms, late_max_ns] more (the process was not
// running). Datagrams for one node keep their order (a late process reads its socket's
// queue in order). All zero: nodes run exactly on time (the default; no random draws).
// Real figures: `hana-net stats --json` counters timer_late_max_ns / timers_late_1ms (see
// docs/topology.md, "A simulator that sees what hosts see").
struct HostNoise {
  TimeNs typical_ns = 0;
  double late_chance = 0;
  TimeNs late_max_ns = 0;
  bool on() const { return typical_ns != 0 || late_chance != 0; }
};

struct ClusterOptions {
  std::size_t nodes = 5;
  std::uint64_t seed = 1;
  Discovery discovery = Discovery::Seeds;
  sim::LinkParams link{};
  Config config{};
  bool unspecified_listen = false;  // nodes announce 0.0.0.0:port, as if bound to INADDR_ANY
  std::vector<Display> displays{};  // every node announces these from its start
  std::vector<std::size_t> not_eligible{};  // nodes started with coordinator_eligible = false
  HostNoise host{};
  // keys[i]: node i's pre-shared keys (the first seals); none, or i past the end: unkeyed.
  std::vector<std::vector<PresharedKey>> keys{};
  // Per-node changes to `config` (e.g. each node's fault_clock_offset_us and
  // fault_clock_drift_ppm: clocks that disagree, as different hosts' do).
  std::function<void(std::size_t node, Config& config)> configure{};
  // The TCP path: datagrams a node sends over a stream (Transmit::stream) travel a second
  // network of their own, lossless and in order with `link`'s delay, and arrive as stream
  // datagrams (Path::Stream). Off: they travel `link` as UDP does (and arrive as UDP).
  bool streams = false;
  // A network that blocks UDP: every UDP datagram is dropped; only streams pass (implies
  // `streams`).
  bool block_udp = false;
};

class Cluster {
 public:
  explicit Cluster(const ClusterOptions& o)
      : opts_(o), net_(o.seed, o.link), streams_(o.seed ^ 0x5742, stream_link(o.link)), group_(Address::ipv4(239, 1, 2, 3, 7000)), buffer_(65'536), noise_rng_(o.seed * 0x9E37 + 11) {
    net_.add_group(group_);
    nodes_.resize(o.nodes);
    up_.assign(o.nodes, false);
    deadline_.assign(o.nodes, kNone);
    due_.assign(o.nodes, kNone);
    ready_at_.assign(o.nodes, 0);
  }

  static Address address(std::size_t i) {
    return Address::ipv4(10, 0, static_cast<std::uint8_t>(i / 200), static_cast<std::uint8_t>(i % 200 + 1), 7000);
  }
  static NodeId id(std::size_t i) { return 1000 + i; }
  std::size_t index_of(NodeId id) const { return static_cast<std::size_t>(id - 1000); }

  // Starts (or restarts) node i at the current virtual time.
  void start(std::size_t i) {
    Identity me;
    me.id = id(i);
    me.name = "n" + std::to_string(i);
    me.listen = opts_.unspecified_listen ? Address::ipv4(0, 0, 0, 0, address(i).port) : address(i);
    me.displays = opts_.displays;
    me.coordinator_eligible = std::find(opts_.not_eligible.begin(), opts_.not_eligible.end(), i) == opts_.not_eligible.end();
    const std::uint64_t seed = opts_.seed * 7919 + i * 104729 + restarts_++;
    Config config = opts_.config;
    if (opts_.configure) opts_.configure(i, config);
    nodes_[i] = std::make_unique<Mesh>(config, me, seed, now(), sealing(i, seed));
    net_.add_endpoint(address(i));
    streams_.add_endpoint(address(i));
    by_address_[address(i)] = i;
    up_[i] = true;
    due_[i] = kNone;  // a new process: its first deadline is drawn afresh
    if (opts_.discovery == Discovery::Beacons) {
      nodes_[i]->set_beacon_target(group_);
    } else if (i != 0) {
      (void)nodes_[i]->add_seed(address(0), now());
    }
    after_call(i);
  }
  void start_all() {
    for (std::size_t i = 0; i < nodes_.size(); ++i) start(i);
  }
  // A crash: the node is frozen and receives nothing.
  void kill(std::size_t i) { up_[i] = false; }
  // The process runs again after kill(i) (a starved host's process that got no CPU for a
  // while: what reached it meanwhile is lost, its timers fire now, late).
  void resume(std::size_t i) {
    up_[i] = true;
    due_[i] = kNone;
    after_call(i);
  }

  // The network starts or stops blocking UDP (ClusterOptions::block_udp).
  void set_block_udp(bool on) { opts_.block_udp = on; }
  void set_host_noise(const HostNoise& h) { opts_.host = h; }  // e.g. a host whose load passes
  TimeNs now() const { return now_; }
  Mesh& node(std::size_t i) { return *nodes_[i]; }
  bool is_up(std::size_t i) const { return up_[i]; }
  std::size_t size() const { return nodes_.size(); }
  sim::Network& network() { return net_; }
  std::uint64_t steps() const { return steps_; }

  // Called for every event of every live node (events are drained after every step).
  std::function<void(std::size_t node, const MeshEvent& e, TimeNs now)> on_event;
  // Sees (and may rewrite, within the buffer) every datagram a node sends; returns its size.
  std::function<std::size_t(std::size_t node, const Address& to, std::span<std::uint8_t> buffer, std::size_t size)> on_send;

  // Sends what node i has to send, drains its events, re-reads its deadline. Called
  // after every call into a node.
  void after_call(std::size_t i) {
    Mesh& m = *nodes_[i];
    for (std::size_t n = 0; n < 1'000'000; ++n) {
      auto t = m.poll_transmit(buffer_, now_);
      if (!t) break;
      const std::size_t size = on_send ? on_send(i, t->to, buffer_, t->size) : t->size;
      const bool streams = opts_.streams || opts_.block_udp;
      if (t->stream && streams) streams_.send(address(i), t->to, sim::ByteView(buffer_.data(), size), now_);
      else if (!opts_.block_udp) net_.send(address(i), t->to, sim::ByteView(buffer_.data(), size), now_);
    }
    while (auto e = m.poll_event())
      if (on_event) on_event(i, *e, now_);
    const auto d = m.next_timeout();
    const TimeNs t = d ? std::max(*d, now_) : kNone;
    if (t != due_[i]) {  // a new deadline: it fires late on a noisy host (drawn once per deadline)
      due_[i] = t;
      deadline_[i] = t == kNone ? kNone : t + lateness();
      if (t != kNone) heap_.push({deadline_[i], i});
    }
  }

  // Runs for `dt` of virtual time; false if the step budget ran out (a runaway).
  bool run_for(TimeNs dt, std::uint64_t max_steps = 500'000'000) {
    const TimeNs until = now_ + dt;
    for (std::uint64_t n = 0; n < max_steps; ++n) {
      while (!heap_.empty() && (heap_.top().first != deadline_[heap_.top().second] || !up_[heap_.top().second])) heap_.pop();
      TimeNs next = heap_.empty() ? kNone : heap_.top().first;
      if (auto a = net_.next_delivery_time()) next = std::min(next, *a);
      if (auto a = streams_.next_delivery_time()) next = std::min(next, *a);
      if (!held_.empty()) next = std::min(next, held_.top().at);
      if (next == kNone || next > until) {
        now_ = until;
        return true;
      }
      now_ = std::max(now_, next);
      ++steps_;
      deliver(net_, Path::Udp);
      deliver(streams_, Path::Stream);
      while (!held_.empty() && held_.top().at <= now_) {
        Held h = std::move(const_cast<Held&>(held_.top()));
        held_.pop();
        if (up_[h.node]) {
          // As the engine does, with the kernel's receive stamp: a late process still
          // knows when the datagram arrived.
          nodes_[h.node]->on_datagram(h.d.from, sim::ByteView(h.d.bytes), now_, h.arrived, h.path);
          after_call(h.node);
        }
        net_.recycle(std::move(h.d.bytes));
      }
      while (!heap_.empty() && heap_.top().first <= now_) {
        const auto [t, i] = heap_.top();
        heap_.pop();
        if (t != deadline_[i] || !up_[i]) continue;
        deadline_[i] = due_[i] = kNone;
        nodes_[i]->on_timeout(now_);
        after_call(i);
      }
    }
    return false;
  }
  // Runs until `pred` holds, checking every `check_every` of virtual time; returns the
  // time it took or nullopt if it did not hold within `limit`.
  std::optional<TimeNs> run_until(const std::function<bool()>& pred, TimeNs limit, TimeNs check_every = kNsPerMs) {
    const TimeNs start = now();
    while (now() - start <= limit) {
      if (pred()) return now() - start;
      if (!run_for(check_every)) return std::nullopt;
    }
    return pred() ? std::optional<TimeNs>(now() - start) : std::nullopt;
  }

  const Member* member(std::size_t viewer, std::size_t subject) const {
    for (const auto& m : nodes_[viewer]->members())
      if (m.id == id(subject)) return &m;
    return nullptr;
  }

  // Every live node sees every other live node Alive and connected, and every
  // crashed node Dead (or not at all).
  bool converged(bool require_connected = true) const {
    for (std::size_t v = 0; v < nodes_.size(); ++v) {
      if (!up_[v]) continue;
      for (std::size_t s = 0; s < nodes_.size(); ++s) {
        if (s == v) continue;
        const Member* m = member(v, s);
        if (up_[s]) {
          if (!m || m->state != MemberState::Alive || (require_connected && !m->connected)) return false;
        } else if (m && m->state != MemberState::Dead && m->state != MemberState::Left) {
          return false;
        }
      }
    }
    return true;
  }
  // Every live node sees `subject` in `state`.
  bool all_see(std::size_t subject, MemberState state) const {
    for (std::size_t v = 0; v < nodes_.size(); ++v) {
      if (!up_[v] || v == subject) continue;
      const Member* m = member(v, subject);
      if (!m || m->state != state) return false;
    }
    return true;
  }
  // The coordinator every live node agrees on, if they agree.
  std::optional<NodeId> agreed_coordinator() const {
    std::optional<NodeId> c;
    for (std::size_t v = 0; v < nodes_.size(); ++v) {
      if (!up_[v]) continue;
      auto mine = nodes_[v]->coordinator();
      if (!mine) return std::nullopt;
      if (c && *c != *mine) return std::nullopt;
      c = mine;
    }
    return c;
  }
  std::size_t lowest_live() const {
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (up_[i]) return i;
    return 0;
  }

  // Node i's sealing: its keys, a salt drawn from its seed (a fresh one per start), and
  // the virtual clock as every node's wall clock.
  Sealing sealing(std::size_t i, std::uint64_t seed) const {
    Sealing s;
    if (i >= opts_.keys.size() || opts_.keys[i].empty()) return s;
    auto sealer = protocol::Sealer::create(opts_.keys[i]);
    if (!sealer) return s;
    s.sealer = std::move(*sealer);
    Rng salt_rng(seed ^ 0x5a17);
    for (auto& b : s.salt) b = static_cast<std::uint8_t>(salt_rng.next());
    return s;
  }

 private:
  static constexpr TimeNs kNone = ~TimeNs{0};
  using Wake = std::pair<TimeNs, std::size_t>;
  // A datagram delivered by the network, waiting for its (late) process.
  struct Held {
    TimeNs at;
    std::uint64_t order;
    std::size_t node;
    sim::Datagram d;
    Path path = Path::Udp;
    TimeNs arrived = 0;  // when the network delivered it: the kernel's receive stamp
    bool operator>(const Held& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  static sim::LinkParams stream_link(const sim::LinkParams& link) {
    sim::LinkParams l;
    l.delay_ns = link.delay_ns;
    l.bandwidth_bits_per_sec = link.bandwidth_bits_per_sec;
    return l;
  }
  // Hands what `net` delivers now to its nodes (or holds it for a late process).
  void deliver(sim::Network& net, Path path) {
    while (auto d = net.poll_delivery(now_)) {
      auto it = by_address_.find(d->to);
      if (it != by_address_.end() && up_[it->second] && opts_.host.on()) {
        // The receiving process reads it when it runs again, after what it already holds.
        const std::size_t i = it->second;
        ready_at_[i] = std::max(ready_at_[i], now_ + lateness());
        held_.push(Held{ready_at_[i], held_order_++, i, std::move(*d), path, now_});
        continue;
      }
      if (it != by_address_.end() && up_[it->second]) {
        nodes_[it->second]->on_datagram(d->from, sim::ByteView(d->bytes), now_, 0, path);
        after_call(it->second);
      }
      net.recycle(std::move(d->bytes));
    }
  }
  TimeNs lateness() {
    const HostNoise& h = opts_.host;
    if (!h.on()) return 0;
    TimeNs late = noise_rng_.up_to(h.typical_ns);
    if (noise_rng_.chance(h.late_chance)) late += kNsPerMs + noise_rng_.up_to(h.late_max_ns > kNsPerMs ? h.late_max_ns - kNsPerMs : 0);
    return late;
  }
  ClusterOptions opts_;
  sim::Network net_;
  sim::Network streams_;  // the TCP path's streams (ClusterOptions::streams)
  Address group_;
  std::vector<std::uint8_t> buffer_;
  TimeNs now_ = 0;
  std::uint64_t steps_ = 0;
  std::vector<TimeNs> deadline_;  // when node i's timer fires (due_ plus its lateness)
  std::vector<TimeNs> due_;       // node i's deadline as it asked for it
  std::vector<TimeNs> ready_at_;  // node i reads no held datagram before this (keeps their order)
  std::priority_queue<Held, std::vector<Held>, std::greater<Held>> held_;
  std::uint64_t held_order_ = 0;
  std::priority_queue<Wake, std::vector<Wake>, std::greater<Wake>> heap_;
  std::unordered_map<Address, std::size_t, AddressHash> by_address_;
  std::vector<std::unique_ptr<Mesh>> nodes_;
  std::vector<bool> up_;
  std::uint64_t restarts_ = 0;
  Rng noise_rng_;
};

}  // namespace hana::topology::test
