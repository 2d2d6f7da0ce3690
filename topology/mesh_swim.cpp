// SWIM failure detector, gossip dissemination and coordinator election.
//
// Each probe period one member is probed (round robin over a shuffled order). A member
// we heard from within the last period is not probed unless gossip is waiting to go out
// (traffic is the probe). No ack within probe_timeout: a second direct ping plus
// PingReq to `indirect_probes` members; still nothing by the end of the period: the
// member is suspected. The suspector pushes the suspicion to every member (so the
// suspect can refute at once and every node starts its timer at about the same time)
// and re-sends it to the suspect every period. A suspicion that is not refuted with a
// higher incarnation before its Lifeguard timeout becomes Dead, which the suspector
// pushes to everyone too. All changes are also piggybacked on probes and acks.
#include <algorithm>

#include "topology/mesh_impl.h"

namespace hana::topology {

namespace {
MemberState state_of(UpdateKind k) {
  switch (k) {
    case UpdateKind::Suspect: return MemberState::Suspect;
    case UpdateKind::Dead: return MemberState::Dead;
    case UpdateKind::Left: return MemberState::Left;
    default: return MemberState::Alive;
  }
}
}  // namespace

void Mesh::Impl::send_gossip(const Address& to, const GossipHeader& h) {
  OutItem item;
  item.type = OutType::Gossip;
  item.to = to;
  item.gossip = h;
  item.gossip.sender = self.id;
  push_out(item);
}

void Mesh::Impl::on_gossip(const Address& from, Bytes body, TimeNs now) {
  GossipView v;
  if (!decode_gossip(body, v)) {
    ++counters.bad_datagrams;
    return;
  }
  const GossipHeader& h = v.header;
  if (h.sender == self.id || leaving) return;
  last_gossip_rx = now;
  UpdateReader reader(v);
  Update u;
  while (reader.next(u)) apply_update(u, h.sender, from, now);
  if (auto it = index.find(h.sender); it != index.end()) {
    peers[it->second].last_heard = now;
    // It talks to us but we hold it Suspect/Dead: tell it, so it refutes.
    if (members[it->second].state != MemberState::Alive && members[it->second].state != MemberState::Left)
      notice(it->second, now);
  }

  switch (h.kind) {
    case GossipKind::Ping: {
      if (h.target != self.id) break;  // meant for a previous owner of this address
      GossipHeader ack;
      ack.kind = GossipKind::Ack;
      ack.seq = h.seq;
      if (h.relay_for != 0) {
        ack.target = self.id;
        ack.relay_for = h.relay_for;
      }
      send_gossip(from, ack);
      break;
    }
    case GossipKind::Ack: {
      if (h.relay_for != 0 && h.relay_for != self.id) {
        // We mediate an indirect probe: pass the answer on to the requester.
        if (Member* req = find(h.relay_for)) {
          GossipHeader fwd = h;
          send_gossip(req->address, fwd);
        }
        break;
      }
      const NodeId answered = h.relay_for == self.id ? h.target : h.sender;
      if (probe.active && !probe.acked && probe.seq == h.seq && probe.target == answered) {
        probe.acked = true;
        if (local_health > 0) --local_health;
        if (auto it = index.find(answered); it != index.end()) {
          Peer& p = peers[it->second];
          if (h.relay_for != self.id) {  // a relayed ack's time includes the relay's hops
            const double rtt_us = static_cast<double>(now - probe.sent) / 1000.0;
            p.probe_rtt_us = p.probe_rtt_us == 0 ? rtt_us : 0.875 * p.probe_rtt_us + 0.125 * rtt_us;
            ++p.probe_samples;
          }
          p.last_heard = now;
        }
      }
      break;
    }
    case GossipKind::PingReq: {
      Member* target = find(h.target);
      if (!target || h.target == self.id) break;
      GossipHeader ping;
      ping.kind = GossipKind::Ping;
      ping.seq = h.seq;
      ping.target = h.target;
      ping.relay_for = h.sender;
      send_gossip(target->address, ping);
      break;
    }
    case GossipKind::Push: break;
  }
}

void Mesh::Impl::probe_tick(TimeNs now) {
  const TimeNs interval = scaled(probe_interval_ns());
  if (probe.active && !probe.acked) {
    if (!probe.indirect_sent && now >= probe.direct_deadline) {
      probe.indirect_sent = true;
      if (Member* t = find(probe.target)) {
        GossipHeader ping;
        ping.kind = GossipKind::Ping;
        ping.seq = probe.seq;
        ping.target = probe.target;
        send_gossip(t->address, ping);  // a second direct try: cheap insurance against one lost datagram
        // k random live members other than the target.
        std::array<std::uint32_t, kMaxIndirect> chosen{};
        std::size_t n = 0;
        const std::size_t k = std::min<std::size_t>(config.indirect_probes, kMaxIndirect);
        for (std::size_t tries = 0; n < k && tries < 4 * k + members.size(); ++tries) {
          if (members.empty()) break;
          const auto c = static_cast<std::uint32_t>(rng.below(members.size()));
          if (members[c].id == probe.target || members[c].state != MemberState::Alive) continue;
          if (std::find(chosen.begin(), chosen.begin() + static_cast<std::ptrdiff_t>(n), c) != chosen.begin() + static_cast<std::ptrdiff_t>(n)) continue;
          chosen[n++] = c;
        }
        for (std::size_t j = 0; j < n; ++j) {
          GossipHeader req;
          req.kind = GossipKind::PingReq;
          req.seq = probe.seq;
          req.target = probe.target;
          send_gossip(members[chosen[j]].address, req);
        }
        ++counters.indirect_probes;
      }
    }
    if (now >= probe.end) {
      probe.active = false;
      // Lifeguard: a missed ack counts against our own health only if we heard nothing
      // at all meanwhile (no nacks here; any gossip received shows our link works).
      if (last_gossip_rx < probe.sent && local_health < 8) ++local_health;
      if (auto it = index.find(probe.target); it != index.end() && members[it->second].incarnation == probe.incarnation) {
        Member& m = members[it->second];
        if (m.state == MemberState::Alive) {
          ++counters.suspicions;
          set_state(it->second, MemberState::Suspect, m.incarnation, self.id, now);
          push_to_all(m.id, Entry::State, false);
        } else if (m.state == MemberState::Suspect) {
          Peer& p = peers[it->second];
          if (p.confirmations < kMaxConfirmations &&
              std::find(p.confirmers.begin(), p.confirmers.begin() + p.confirmations, self.id) == p.confirmers.begin() + p.confirmations) {
            p.confirmers[p.confirmations++] = self.id;
            p.suspicion_deadline = p.suspicion_start + suspicion_timeout_ns(config.suspicion_mult, config.suspicion_max_mult, live_members() + 1,
                                                                            probe_interval_ns(), p.confirmations, config.indirect_probes);
            // An independent confirmation (Lifeguard): tell everyone, their timers shrink too.
            push_to_all(m.id, Entry::State, false, self.id);
          }
        }
      }
    }
  }
  if (probe.active && probe.acked) probe.active = false;
  if (now < next_probe_at) return;
  next_probe_at = now + interval;

  // Next target in the rotation; reshuffle after a full round (SWIM's bounded detection time).
  NodeId target = 0;
  for (std::size_t scanned = 0; scanned <= probe_order.size() && target == 0; ++scanned) {
    if (probe_pos >= probe_order.size()) {
      probe_pos = 0;
      // Drop forgotten members, then Fisher-Yates.
      std::erase_if(probe_order, [&](NodeId id) { return index.find(id) == index.end(); });
      for (std::size_t i = probe_order.size(); i > 1; --i) std::swap(probe_order[i - 1], probe_order[rng.below(i)]);
      if (probe_order.empty()) break;
    }
    const NodeId id = probe_order[probe_pos++];
    if (auto it = index.find(id); it != index.end() && is_live(members[it->second].state)) target = id;
  }
  if (target == 0) return;
  const std::uint32_t i = index[target];
  // A member with no RTT measured yet (neither a probe nor its connection) is probed
  // anyway, once: its link quality needs a first measurement to be reported.
  const ConnectionStats* cs = peers[i].conn ? &peers[i].conn->stats() : nullptr;
  const bool rtt_known = peers[i].probe_rtt_us != 0 || (cs && cs->rtt_samples != 0);
  if (peers[i].last_heard + probe_interval_ns() >= now && gossip.empty() && members[i].state == MemberState::Alive &&
      rtt_known) {
    ++counters.probes_skipped;  // traffic from it is as good as an ack
    return;
  }
  ++counters.probes;
  probe = Probe{};
  probe.active = true;
  probe.target = target;
  probe.incarnation = members[i].incarnation;
  probe.seq = next_seq++;
  probe.sent = now;
  probe.direct_deadline = now + std::min(scaled(config.probe_timeout_ms * kNsPerMs), interval / 2);
  // Indirect probes get twice the direct wait (they take two round trips); on a LAN
  // that is far below the probe period, so a dead member is suspected sooner.
  probe.end = std::min(now + interval, probe.direct_deadline + 2 * scaled(config.probe_timeout_ms * kNsPerMs));
  GossipHeader ping;
  ping.kind = GossipKind::Ping;
  ping.seq = probe.seq;
  ping.target = target;
  send_gossip(members[i].address, ping);
}

void Mesh::Impl::set_state(std::uint32_t i, MemberState state, std::uint64_t inc, NodeId by, TimeNs now) {
  Member& m = members[i];
  Peer& p = peers[i];
  const MemberState old = m.state;
  m.state = state;
  m.incarnation = inc;
  p.state_since = now;
  p.suspicion_deadline = kNever;
  switch (state) {
    case MemberState::Alive:
      p.declared_by = 0;
      p.confirmations = 0;
      if (!is_live(old)) {
        p.reconnect.reset();
        p.next_dial_at = now;
      }
      maybe_peer_up(i);
      break;
    case MemberState::Suspect:
      p.declared_by = by;
      p.suspicion_start = now;
      p.confirmations = 0;
      if (by != 0) p.confirmers[p.confirmations++] = by;
      p.suspicion_deadline = now + suspicion_timeout_ns(config.suspicion_mult, config.suspicion_max_mult, live_members() + 1,
                                                        probe_interval_ns(), p.confirmations, config.indirect_probes);
      p.next_notice_at = now + probe_interval_ns();
      events.push_back(PeerSuspect{m.id});
      break;
    case MemberState::Dead:
    case MemberState::Left:
      p.declared_by = by;
      if (state == MemberState::Dead) ++counters.declared_dead;
      forget_links(i);
      drop_connection(i, state == MemberState::Dead ? FailReason::PeerDead : FailReason::Closed, now);
      p.up_reported = false;
      p.reconnect.reset();
      p.next_dial_at = now + p.reconnect.next(rng);
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

void Mesh::Impl::apply_update(Update u, NodeId via, const Address& from, TimeNs now) {
  if (u.kind == UpdateKind::Alive && unspecified(u.address)) {
    // Only the member itself can tell us where an unspecified address really is.
    if (u.node == via) u.address = reachable(u.address, from);
    else u.address.port = 0;
  } else if (u.kind == UpdateKind::Alive) {
    u.address = scoped_like(u.address, from);
  }
  switch (u.kind) {
    case UpdateKind::Alive:
    case UpdateKind::Suspect:
    case UpdateKind::Dead:
    case UpdateKind::Left: {
      const MemberState state = state_of(u.kind);
      if (u.node == self.id) {
        if (state == MemberState::Alive) incarnation = std::max(incarnation, u.number);
        else if (!leaving && u.number >= incarnation) refute(u.number, now);
        return;
      }
      auto it = index.find(u.node);
      if (it == index.end()) {
        if (state != MemberState::Alive || u.address.port == 0) return;  // nothing to mark or reach yet
        const std::uint32_t i = add_member(u.node, u.address, u.number, now);
        if (i == ~0u) return;
        members[i].name = std::string(u.name);
        peers[i].eligible = u.eligible;
        enqueue_gossip(u.node, Entry::State);
        elect(now);
        return;
      }
      const std::uint32_t i = it->second;
      Member& m = members[i];
      if (!supersedes(state, u.number, m.state, m.incarnation)) {
        Peer& p = peers[i];
        // The member's own record (sync, introduce, refutation) is the authority on its
        // eligibility, even at the incarnation we already hold.
        if (state == MemberState::Alive && u.node == via && u.number == m.incarnation && m.state == MemberState::Alive &&
            p.eligible != u.eligible) {
          p.eligible = u.eligible;
          elect(now);
        }
        // A member met by handshake has no name yet; a record at the same incarnation brings it.
        if (state == MemberState::Alive && u.number == m.incarnation && m.name.empty() && !u.name.empty())
          m.name = std::string(u.name);
        // Same suspicion from another node: a Lifeguard confirmation shortens the timeout.
        if (state == MemberState::Suspect && m.state == MemberState::Suspect && u.number == m.incarnation && u.from != 0 &&
            p.confirmations < kMaxConfirmations &&
            std::find(p.confirmers.begin(), p.confirmers.begin() + p.confirmations, u.from) == p.confirmers.begin() + p.confirmations) {
          p.confirmers[p.confirmations++] = u.from;
          p.suspicion_deadline = p.suspicion_start + suspicion_timeout_ns(config.suspicion_mult, config.suspicion_max_mult, live_members() + 1,
                                                                          probe_interval_ns(), p.confirmations, config.indirect_probes);
        }
        return;
      }
      if (state == MemberState::Alive) {
        if (u.address.port != 0) m.address = u.address;
        m.name = std::string(u.name);
        peers[i].eligible = u.eligible;
      }
      if (state == MemberState::Dead && u.from != self.id) {
        // Our coordinator declared Dead by a node we hold Dead ourselves: the two sides of
        // a healing partition are trading death notices, and the coordinator will refute.
        // Do not claim the vacancy meanwhile (as in observe_claim).
        const auto& cur = election.current();
        auto by = index.find(u.from);
        if (cur && cur->node == u.node && (by == index.end() || !is_live(members[by->second].state)))
          vacancy_grace_until = std::max(vacancy_grace_until, now + 2 * suspicion_timeout_ns(config.suspicion_mult, config.suspicion_max_mult,
                                                                                           live_members() + 1, probe_interval_ns(), 0,
                                                                                           config.indirect_probes));
      }
      set_state(i, state, u.number, u.from, now);
      return;
    }
    case UpdateKind::Coordinator: observe_claim(Claim{u.number, u.node}, now); return;
    case UpdateKind::Displays: {
      if (u.node == self.id) return;
      auto it = index.find(u.node);
      if (it == index.end()) return;
      Peer& p = peers[it->second];
      if (u.number <= p.display_version) return;
      p.display_version = u.number;
      p.announced_displays.clear();
      for (std::size_t d = 0; d < u.display_count; ++d)
        p.announced_displays.push_back(
            Display{std::string(u.displays[d].id), u.displays[d].available, std::string(u.displays[d].metadata)});
      refresh_displays(it->second);
      enqueue_gossip(u.node, Entry::Displays);
      return;
    }
  }
}

// Member.displays is the announced list, with every display unavailable while the member
// is Dead or Left (a display wall must not route to a dead node's screens); it comes back
// as announced when the member does. One event per availability change; a display first
// seen (while its owner is live) gets one too.
void Mesh::Impl::refresh_displays(std::uint32_t i) {
  Member& m = members[i];
  const bool live = is_live(m.state);
  std::vector<Display> next = peers[i].announced_displays;
  for (auto& d : next) {
    if (!live) d.available = false;
    auto old = std::find_if(m.displays.begin(), m.displays.end(), [&](const Display& x) { return x.id == d.id; });
    if (old == m.displays.end() ? live : old->available != d.available)
      events.push_back(DisplayAvailability{m.id, d.id, d.available, d.metadata});
  }
  for (const auto& old : m.displays) {
    const bool still = std::any_of(next.begin(), next.end(), [&](const Display& x) { return x.id == old.id; });
    if (!still && old.available) events.push_back(DisplayAvailability{m.id, old.id, false, old.metadata});
  }
  m.displays = std::move(next);
}

void Mesh::Impl::refute(std::uint64_t seen_inc, TimeNs now) {
  (void)now;
  incarnation = std::max(incarnation, seen_inc) + 1;
  ++counters.refutations;
  if (local_health < 8) ++local_health;  // Lifeguard: being suspected hints we are slow
  enqueue_gossip(self.id, Entry::State);
  push_to_all(self.id, Entry::State, true);
}

void Mesh::Impl::check_suspicions(TimeNs now) {
  for (std::uint32_t i = 0; i < members.size(); ++i) {
    Peer& p = peers[i];
    if (members[i].state != MemberState::Suspect) continue;
    if (p.suspicion_deadline <= now) {
      const bool mine = p.declared_by == self.id;
      set_state(i, MemberState::Dead, members[i].incarnation, self.id, now);
      if (mine) push_to_all(members[i].id, Entry::State, false);
    } else if (p.declared_by == self.id && now >= p.next_notice_at) {
      notice(i, now);  // keep telling the suspect, in case it missed the push
    }
  }
}

void Mesh::Impl::notice(std::uint32_t i, TimeNs now) {
  Peer& p = peers[i];
  if (now < p.next_notice_at) return;
  p.next_notice_at = now + probe_interval_ns();
  OutItem item;
  item.type = OutType::Gossip;
  item.to = members[i].address;
  item.gossip.kind = GossipKind::Push;
  item.gossip.sender = self.id;
  item.has_subject = true;
  item.subject = members[i].id;
  item.subject_entry = Entry::State;
  item.piggyback = false;
  push_out(item);
}

void Mesh::Impl::enqueue_gossip(NodeId node, Entry entry) {
  const std::uint32_t n = gossip_retransmits(config.gossip_retransmit_mult, live_members() + 1);
  for (auto& g : gossip)
    if (g.node == node && g.entry == entry) {
      g.left = n;
      return;
    }
  gossip.push_back(GossipEntry{node, entry, n});
}

void Mesh::Impl::push_to_all(NodeId subject, Entry entry, bool include_dead, NodeId from) {
  for (const Member& m : members) {
    if (m.state == MemberState::Left || (!include_dead && !is_live(m.state))) continue;
    if (m.id == subject && entry == Entry::State && m.state == MemberState::Dead) continue;
    OutItem item;
    item.type = OutType::Gossip;
    item.to = m.address;
    item.gossip.kind = GossipKind::Push;
    item.gossip.sender = self.id;
    item.has_subject = true;
    item.subject = subject;
    item.subject_entry = entry;
    item.subject_from = from;
    item.piggyback = false;
    push_out(item);
  }
}

bool Mesh::Impl::make_update(NodeId node, Entry entry, Update& u) const {
  u = Update{};
  if (entry == Entry::Coordinator) {
    const auto& c = election.current();
    if (!c) return false;
    u.kind = UpdateKind::Coordinator;
    u.node = c->node;
    u.number = c->term;
    return true;
  }
  const bool is_self = node == self.id;
  const Member* m = nullptr;
  const Peer* p = nullptr;
  if (!is_self) {
    auto it = index.find(node);
    if (it == index.end()) return false;
    m = &members[it->second];
    p = &peers[it->second];
  }
  u.node = node;
  if (entry == Entry::Displays) {
    const auto& list = is_self ? self.displays : p->announced_displays;
    u.kind = UpdateKind::Displays;
    u.number = is_self ? display_version : p->display_version;
    u.display_count = static_cast<std::uint8_t>(std::min(list.size(), kMaxDisplays));
    for (std::size_t d = 0; d < u.display_count; ++d) u.displays[d] = WireDisplay{list[d].id, list[d].available, list[d].metadata};
    return true;
  }
  const MemberState state = is_self ? (leaving ? MemberState::Left : MemberState::Alive) : m->state;
  u.number = is_self ? incarnation : m->incarnation;
  switch (state) {
    case MemberState::Alive:
      u.kind = UpdateKind::Alive;
      u.address = is_self ? self.listen : m->address;
      u.eligible = is_self ? (self.coordinator_eligible && config.coordinator_eligible) : p->eligible;
      u.name = is_self ? std::string_view(self.name) : std::string_view(m->name);
      break;
    case MemberState::Suspect:
      u.kind = UpdateKind::Suspect;
      u.from = p->declared_by ? p->declared_by : self.id;
      break;
    case MemberState::Dead:
      u.kind = UpdateKind::Dead;
      u.from = p->declared_by ? p->declared_by : self.id;
      break;
    case MemberState::Left: u.kind = UpdateKind::Left; break;
  }
  return true;
}

std::size_t Mesh::Impl::write_updates(BodyWriter& w, std::size_t count_at, std::size_t budget, const OutItem& item) {
  std::size_t count = 0;
  const std::size_t start = w.size();
  Update u;
  if (item.has_subject && make_update(item.subject, item.subject_entry, u)) {
    if (item.subject_from != 0 && u.kind == UpdateKind::Suspect) u.from = item.subject_from;
    if (encode_update(w, u)) ++count;
  }
  if (item.piggyback && !gossip.empty()) {
    // Least-sent first, so a fresh change overtakes the tail of an old one.
    std::stable_sort(gossip.begin(), gossip.end(), [](const GossipEntry& a, const GossipEntry& b) { return a.left > b.left; });
    for (auto& g : gossip) {
      if (count >= kMaxUpdatesPerBody) break;
      if (item.has_subject && g.node == item.subject && g.entry == item.subject_entry) continue;
      if (!make_update(g.node, g.entry, u)) {
        g.left = 0;
        continue;
      }
      if (w.size() - start + encoded_size(u) > budget) continue;
      if (encode_update(w, u)) {
        ++count;
        --g.left;
      }
    }
    std::erase_if(gossip, [](const GossipEntry& g) { return g.left == 0; });
  }
  w.patch_u8(count_at, static_cast<std::uint8_t>(count));
  counters.updates_out += count;
  return count;
}

void Mesh::Impl::observe_claim(const Claim& c, TimeNs now) {
  const auto prev = election.current();
  if (!election.observe(c)) return;
  // A claim for a node we hold Dead usually means a partition is healing and that node
  // is about to refute: give it a suspicion timeout before declaring a vacancy, or
  // both sides would elect yet another coordinator while the views merge.
  if (c.node != self.id) {
    auto it = index.find(c.node);
    if (it == index.end() || !is_live(members[it->second].state))
      vacancy_grace_until = now + 2 * suspicion_timeout_ns(config.suspicion_mult, config.suspicion_max_mult, live_members() + 1,
                                                          probe_interval_ns(), 0, config.indirect_probes);
  }
  if (prev && prev->node != c.node) events.push_back(RoleChanged{prev->node, Role::Member, c.term});
  events.push_back(RoleChanged{c.node, Role::Coordinator, c.term});
  for (auto& m : members) m.role = m.id == c.node ? Role::Coordinator : Role::Member;
  enqueue_gossip(0, Entry::Coordinator);
}

void Mesh::Impl::elect(TimeNs now) {
  if (leaving) return;
  const auto& cur = election.current();
  bool vacancy = !cur;
  if (cur && cur->node != self.id) {
    auto it = index.find(cur->node);
    vacancy = it == index.end() || !is_live(members[it->second].state);
  }
  if (!vacancy) return;
  if (!cur && now < started_at + config.election_delay_ms * kNsPerMs) return;
  if (now < vacancy_grace_until) return;
  if (!(self.coordinator_eligible && config.coordinator_eligible)) return;
  for (std::size_t i = 0; i < members.size(); ++i)
    if (is_live(members[i].state) && peers[i].eligible && members[i].id < self.id) return;  // not ours to claim
  observe_claim(election.next_claim(self.id), now);
  push_to_all(0, Entry::Coordinator, false);
}

}  // namespace hana::topology
