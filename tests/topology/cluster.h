// Test/scenario harness: N topology::Mesh nodes over sim::Network in virtual time.
// Every run is bounded in virtual time and in steps; nothing sleeps.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/sim/driver.h"
#include "protocol/sim/network.h"
#include "topology/mesh.h"

namespace hana::topology::test {

enum class Discovery { Beacons, Seeds };

struct ClusterOptions {
  std::size_t nodes = 5;
  std::uint64_t seed = 1;
  Discovery discovery = Discovery::Seeds;
  sim::LinkParams link{};
  Config config{};
};

class Cluster {
 public:
  explicit Cluster(const ClusterOptions& o)
      : opts_(o), net_(o.seed, o.link), driver_(net_), group_(Address::ipv4(239, 1, 2, 3, 7000)) {
    net_.add_group(group_);
    nodes_.resize(o.nodes);
    up_.assign(o.nodes, false);
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
    me.listen = address(i);
    nodes_[i] = std::make_unique<Mesh>(opts_.config, me, opts_.seed * 7919 + i * 104729 + restarts_++, now());
    driver_.add(address(i), *nodes_[i]);
    driver_.set_up(address(i), true);
    up_[i] = true;
    if (opts_.discovery == Discovery::Beacons) {
      nodes_[i]->set_beacon_target(group_);
    } else if (i != 0) {
      (void)nodes_[i]->add_seed(address(0), now());
    }
  }
  void start_all() {
    for (std::size_t i = 0; i < nodes_.size(); ++i) start(i);
  }
  // A crash: the node is frozen and receives nothing.
  void kill(std::size_t i) {
    driver_.set_up(address(i), false);
    up_[i] = false;
  }

  TimeNs now() const { return driver_.now(); }
  Mesh& node(std::size_t i) { return *nodes_[i]; }
  bool is_up(std::size_t i) const { return up_[i]; }
  std::size_t size() const { return nodes_.size(); }
  sim::Network& network() { return net_; }
  sim::Driver<Mesh>& driver() { return driver_; }

  // Called for every event of every live node (events are drained after every step).
  std::function<void(std::size_t node, const MeshEvent& e, TimeNs now)> on_event;

  void drain() {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (!up_[i] || !nodes_[i]) continue;
      while (auto e = nodes_[i]->poll_event())
        if (on_event) on_event(i, *e, now());
    }
  }

  // Runs for `dt` of virtual time; false if the drive failed (runaway, stall, step budget).
  bool run_for(TimeNs dt, std::uint64_t max_steps = 50'000'000) {
    auto r = driver_.run_until(now() + dt, max_steps, [&] { drain(); });
    drain();
    return r.ok();
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

 private:
  ClusterOptions opts_;
  sim::Network net_;
  sim::Driver<Mesh> driver_;
  Address group_;
  std::vector<std::unique_ptr<Mesh>> nodes_;
  std::vector<bool> up_;
  std::uint64_t restarts_ = 0;
};

}  // namespace hana::topology::test
