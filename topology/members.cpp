// The member table: the public view (Member) and one Peer per member at the same index,
// members joining and being reaped, and the state transitions every component reacts to.
#include <algorithm>

#include "topology/mesh_impl.h"

namespace hana::topology {

std::size_t Mesh::Impl::live_members() const {
  std::size_t n = 0;
  for (const auto& m : members) n += is_live(m.state) ? 1 : 0;
  return n;
}

Member* Mesh::Impl::find(NodeId id) {
  auto it = index.find(id);
  return it == index.end() ? nullptr : &members[it->second];
}

Peer* Mesh::Impl::peer_of(NodeId id) {
  auto it = index.find(id);
  return it == index.end() ? nullptr : &peers[it->second];
}

std::uint32_t Mesh::Impl::add_member(NodeId id, const Address& address, std::uint64_t inc, TimeNs now) {
  if (id == 0 || id == self.id) return ~0u;
  if (auto it = index.find(id); it != index.end()) return it->second;
  if (live_members() >= config.max_peers) return ~0u;
  Member m;
  m.id = id;
  m.address = address;
  m.incarnation = inc;
  m.state = MemberState::Alive;
  m.over_stream = config.transport == 2 || (auto_path() && udp_doubted);
  if (const auto& c = election.claims.current(); c && c->node == id) m.role = Role::Coordinator;
  members.push_back(std::move(m));
  Peer p;
  p.health.state_since = now;
  p.health.last_heard = now;
  p.redial.reconnect.set_limits(config.reconnect_backoff_min_ms * kNsPerMs, config.reconnect_backoff_max_ms * kNsPerMs);
  // The higher id of a pair waits a little before dialing, so that in the common case
  // only the lower id dials and simultaneous opens stay rare.
  p.redial.next_dial_at = self.id < id ? now : now + 4 * probe_interval_ns();
  peers.push_back(std::move(p));
  const auto i = static_cast<std::uint32_t>(members.size() - 1);
  index[id] = i;
  // A new member joins the probe rotation at a random position.
  fd.probe_order.insert(fd.probe_order.begin() + static_cast<std::ptrdiff_t>(rng.below(fd.probe_order.size() + 1)), id);
  return i;
}

void Mesh::Impl::reap(TimeNs now) {
  // Beyond max_dead_records, the records Dead/Left the longest go early: everything Dead
  // or Left since `evict_before` (the cap-th newest such record's time) or earlier.
  TimeNs evict_before = 0;
  std::vector<TimeNs>& since = reap_scratch;
  since.clear();
  for (std::size_t i = 0; i < members.size(); ++i)
    if (!is_live(members[i].state)) since.push_back(peers[i].health.state_since);
  std::size_t evict = since.size() > config.max_dead_records ? since.size() - config.max_dead_records : 0;
  if (evict > 0) {
    std::nth_element(since.begin(), since.begin() + static_cast<std::ptrdiff_t>(evict - 1), since.end());
    evict_before = since[evict - 1] + 1;
  }
  const TimeNs keep = config.dead_retention_ms * kNsPerMs;
  for (std::size_t i = 0; i < members.size();) {
    const bool dead = !is_live(members[i].state);
    const bool expired = dead && peers[i].health.state_since + keep <= now;
    const bool evicted = dead && !expired && evict > 0 && peers[i].health.state_since < evict_before;
    if (!expired && !evicted) {
      ++i;
      continue;
    }
    if (evicted) {
      --evict;
      ++counters.dead_records_evicted;
    }
    cancel_dial(members[i].address);
    drop_connection(static_cast<std::uint32_t>(i), FailReason::PeerDead, now);
    forget_links(static_cast<std::uint32_t>(i));
    forget_links_about(members[i].id);
    index.erase(members[i].id);
    if (i + 1 != members.size()) {
      members[i] = std::move(members.back());
      peers[i] = std::move(peers.back());
      index[members[i].id] = static_cast<std::uint32_t>(i);
    }
    members.pop_back();
    peers.pop_back();
  }
}

// A member's state changed (failure detector, gossip, a handshake): every component
// reacts here, in this order.
void Mesh::Impl::set_state(std::uint32_t i, MemberState state, std::uint64_t inc, NodeId by, TimeNs now) {
  Member& m = members[i];
  Peer& p = peers[i];
  Health& h = p.health;
  const MemberState old = m.state;
  m.state = state;
  m.incarnation = inc;
  h.state_since = now;
  h.suspicion_deadline = kNever;
  switch (state) {
    case MemberState::Alive:
      h.declared_by = 0;
      h.confirmations = 0;
      if (!is_live(old)) {
        h.revived_at = now;
        hurry_dial(i, now);
        if (old == MemberState::Dead) answer_beacon(now);
      }
      maybe_peer_up(i);
      break;
    case MemberState::Suspect:
      h.declared_by = by;
      h.suspicion_start = now;
      h.confirmations = 0;
      if (by != 0) h.confirmers[h.confirmations++] = by;
      h.suspicion_deadline = now + suspicion_timeout(h.confirmations);
      h.next_notice_at = now + probe_interval_ns();
      events.push_back(PeerSuspect{m.id});
      break;
    case MemberState::Dead:
    case MemberState::Left:
      h.declared_by = by;
      if (state == MemberState::Dead) ++counters.declared_dead;
      forget_links(i);
      p.clock = PeerClock{};  // a restart may bring another clock (or another host)
      drop_connection(i, state == MemberState::Dead ? FailReason::PeerDead : FailReason::Closed, now);
      p.session.up_reported = false;
      p.redial.reconnect.reset();
      p.redial.next_dial_at = now + p.redial.reconnect.next(rng);
      if (state == MemberState::Dead) events.push_back(PeerDown{m.id});
      else events.push_back(PeerLeft{m.id});
      break;
  }
  enqueue_gossip(m.id, Entry::State);
  if (is_live(old) != is_live(state)) {
    refresh_displays(i);
    elect(now);
  }
}

// A hello's (or beacon's) incarnation against our record of that node.
void Mesh::Impl::reconcile(std::uint32_t i, const Address& from, std::uint64_t inc, TimeNs now) {
  Member& mem = members[i];
  if (inc > mem.incarnation) {
    mem.address = from;
    if (mem.state != MemberState::Alive) set_state(i, MemberState::Alive, inc, 0, now);
    else mem.incarnation = inc;
  } else if (mem.state != MemberState::Alive) {
    notice(i, now);  // it thinks it is fine; tell it what we think, it will refute
  }
}

}  // namespace hana::topology
