// SWIM failure detector: probes, indirect probes, suspicion with Lifeguard timeouts,
// refutation.
//
// Each probe period one member is probed (round robin over a shuffled order). A member
// we heard from within the last period is not probed unless gossip is waiting to go out
// (traffic is the probe). No ack within probe_timeout: a second direct ping plus
// PingReq to `indirect_probes` members; still nothing by the end of the period: the
// member is suspected. The suspector pushes the suspicion to every member (so the
// suspect can refute at once and every node starts its timer at about the same time)
// and re-sends it to the suspect every period. A suspicion that is not refuted with a
// higher incarnation before its Lifeguard timeout becomes Dead, which the suspector
// pushes to everyone too. All changes are also piggybacked on probes and acks
// (gossip.cpp).
#include <algorithm>
#include <utility>

#include "topology/mesh_impl.h"

namespace hana::topology {

void AckWait::add(TimeNs rtt) {
  if (srtt == 0) {
    srtt = rtt;
    rttvar = rtt / 2;
  } else if (rtt < srtt) {
    srtt = (srtt + rtt) / 2;
    rttvar /= 2;
  } else {
    rttvar = (3 * rttvar + (rtt - srtt)) / 4;
    srtt = (7 * srtt + rtt) / 8;
  }
}

TimeNs Mesh::Impl::probe_wait() const { return scaled(fd.ack_wait.wait(config.probe_timeout_ms * kNsPerMs)); }

// The suspect must hear of it and answer within the timeout: on a host whose acks take
// longer than probe_timeout_ms (probe_wait), the timeout gets four times the excess on
// top (the suspicion's push and the refutation each wait for a CPU like an ack does), not
// a multiple of it: one outlier ack must not hold a real crash for tens of seconds.
TimeNs Mesh::Impl::suspicion_timeout(std::uint32_t confirmations) const {
  const TimeNs excess = probe_wait() - scaled(config.probe_timeout_ms * kNsPerMs);
  return suspicion_timeout_ns(config.suspicion_mult, config.suspicion_max_mult, live_members() + 1, probe_interval_ns(),
                              confirmations, config.indirect_probes) +
         4 * excess;
}

void Mesh::Impl::on_gossip(const Address& from, Bytes body, TimeNs now) {
  GossipView v;
  if (!decode_gossip(body, v)) {
    ++counters.bad_datagrams;
    return;
  }
  const GossipHeader& h = v.header;
  if (h.sender == self.id || leaving) return;
  fd.last_gossip_rx = now;
  // Without a key, membership and the role are told by handshaken members only: a
  // stranger's updates (a member list, COORDINATOR(id, term 1000)) are not applied.
  // Its probes are still answered below.
  if (handshaken(h.sender, from)) {
    UpdateReader reader(v);
    Update u;
    while (reader.next(u)) apply_update(u, h.sender, from, now);
  } else if (v.update_count != 0) {
    ++counters.untrusted_gossip;
  }
  if (auto it = index.find(h.sender); it != index.end()) {
    peers[it->second].health.last_heard = now;
    credit_visit(it->second, now);
    if (rx_path == Path::Udp) heard_over_udp(it->second, from, now);
    // It talks to us but we hold it Suspect/Dead: tell it, so it refutes. Held Dead and
    // heard from the address we hold: it is reachable again (a healed partition), dial it.
    if (members[it->second].state != MemberState::Alive && members[it->second].state != MemberState::Left)
      notice(it->second, now);
    if (members[it->second].state == MemberState::Dead && members[it->second].address == from) redial_now(it->second, now);
  }

  switch (h.kind) {
    case GossipKind::Ping: {
      // A relayed ping names who must answer (a direct one does not: the ack's sender says
      // who answered, and the prober takes an answer only from the member it probed).
      if (h.relay_for != 0 && h.target != self.id) break;  // meant for a previous owner of this address
      GossipHeader ack;
      ack.kind = GossipKind::Ack;
      ack.seq = h.seq;
      if (h.relay_for != 0) {
        ack.target = self.id;
        ack.relay_for = h.relay_for;
      }
      answer_ping_clock(h, ack, now);
      // On the path the PING came: a UDP path probe is answered over UDP (transport_path.cpp).
      send_gossip(from, ack, reply_via());
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
      // The probe's answer (or the answer to a clock ping: seq 0, no probe). Any direct
      // timed ack is a clock sample.
      if (h.relay_for == 0)
        if (auto it = index.find(h.sender); it != index.end()) {
          on_clock_ack(it->second, h, now);
          if (rx_path == Path::Udp) on_path_ack(it->second, h.seq, from, now);
        }
      Probe& probe = fd.probe;
      const NodeId answered = h.relay_for == self.id ? h.target : h.sender;
      if (h.relay_for == 0 && h.seq != 0 && !(probe.active && probe.seq == h.seq) && fd.missed_seq == h.seq &&
          fd.missed_target == h.sender) {
        // The ack of a probe already judged: how long acks take now, past the window.
        fd.ack_wait.add(std::max(rx_at, fd.missed_last_ping) - fd.missed_last_ping);
        fd.missed_seq = 0;
        fd.missed_target = 0;
      }
      if (probe.active && !probe.acked && probe.seq == h.seq && probe.target == answered) {
        probe.acked = true;
        if (h.relay_for != self.id) fd.ack_wait.add(std::max(rx_at, probe.last_ping) - probe.last_ping);
        if (fd.local_health > 0) --fd.local_health;
        if (auto it = index.find(answered); it != index.end()) {
          // A relayed ack's time includes the relay's hops: not a sample of this link.
          // Timed by when the ack reached the socket (kernel stamp), not when this node
          // got to read it: a late turn is not the link's round trip. After a second PING
          // (the first got no ack in time) which one this ack answers is unknown, and timing
          // it from the first would add the retry's wait to the link: no sample.
          if (h.relay_for != self.id && probe.last_ping == probe.sent)
            on_probe_rtt(it->second, probe.sent, std::max(rx_at, probe.sent), h.timed ? h.t3 - h.t2 : 0, now);
          peers[it->second].health.last_heard = now;
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
    case GossipKind::View:
      // Only a member we handshook with may make us send our view (no amplification).
      if (handshaken(h.sender, from)) on_view(from, h);
      break;
  }
}

void Mesh::Impl::probe_tick(TimeNs now) {
  const TimeNs interval = scaled(probe_interval_ns());
  Probe& probe = fd.probe;
  if (probe.active && !probe.acked) {
    if (!probe.indirect_sent && now >= probe.direct_deadline) {
      probe.indirect_sent = true;
      if (Member* t = find(probe.target)) {
        GossipHeader ping;
        ping.kind = GossipKind::Ping;
        ping.seq = probe.seq;
        ping.target = probe.target;
        stamp_ping(static_cast<std::uint32_t>(t - members.data()), ping, now);
        send_gossip(t->address, ping);  // a second direct try: cheap insurance against one lost datagram
        probe.last_ping = now;
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
      // Sent late (this node was not running at the direct deadline): the indirect
      // probes still get their two round trips before the verdict.
      const TimeNs indirect_end = now + 2 * probe_wait();
      if (indirect_end > probe.end) {
        probe.end = indirect_end;
        fd.next_probe_at = std::max(fd.next_probe_at, probe.end);
      }
    }
    if (now >= probe.end && judged_late(now - probe.end)) {
      // This node was not running when the probe was due to be judged: the peer had
      // no fair window either (on a starved host its answer waits for the CPU as ours
      // does). Not a suspicion: local health rises (longer windows) and the same member
      // is probed again next period. At full local health the verdict stands, so a
      // dead member is still found on a host that is late all the time.
      probe.active = false;
      ++counters.probes_judged_late;
      if (fd.local_health < kMaxLocalHealth) ++fd.local_health;
      if (fd.probe_pos > 0 && fd.probe_pos <= fd.probe_order.size() && fd.probe_order[fd.probe_pos - 1] == probe.target) {
        --fd.probe_pos;
        if (auto it = index.find(probe.target); it != index.end()) peers[it->second].health.visited_round = 0;
      }
    } else if (now >= probe.end) {
      probe.active = false;
      fd.missed_target = probe.target;
      fd.missed_seq = probe.seq;
      fd.missed_last_ping = probe.last_ping;
      // Lifeguard: a missed ack counts against our own health only if we heard nothing
      // at all meanwhile (no nacks here; any gossip received shows our link works).
      if (fd.last_gossip_rx < probe.sent && fd.local_health < kMaxLocalHealth) ++fd.local_health;
      if (auto it = index.find(probe.target); it != index.end() && members[it->second].incarnation == probe.incarnation) {
        Member& m = members[it->second];
        if (m.state == MemberState::Alive) {
          ++counters.suspicions;
          set_state(it->second, MemberState::Suspect, m.incarnation, self.id, now);
          push_to_all(m.id, Entry::State, false);
        } else if (m.state == MemberState::Suspect) {
          Health& h = peers[it->second].health;
          if (h.confirmations < kMaxConfirmations &&
              std::find(h.confirmers.begin(), h.confirmers.begin() + h.confirmations, self.id) == h.confirmers.begin() + h.confirmations) {
            h.confirmers[h.confirmations++] = self.id;
            h.suspicion_deadline = h.suspicion_start + suspicion_timeout(h.confirmations);
            // An independent confirmation (Lifeguard): tell everyone, their timers shrink too.
            push_to_all(m.id, Entry::State, false, self.id);
          }
        }
      }
    }
  }
  if (probe.active && probe.acked) probe.active = false;
  if (now < fd.next_probe_at) return;
  fd.next_probe_at = now + interval;

  // Next target in the rotation; reshuffle after a full round (SWIM's bounded detection time).
  NodeId target = 0;
  bool hinted = false;
  if (const NodeId hint = std::exchange(fd.hint, 0); hint != 0)
    if (auto it = index.find(hint); it != index.end() && is_live(members[it->second].state)) {
      target = hint;
      hinted = true;
    }
  auto& order = fd.probe_order;
  for (std::size_t scanned = 0; scanned <= order.size() && target == 0; ++scanned) {
    if (fd.probe_pos >= order.size()) {
      // Gossip waiting for a probe to carry it cancels them: probes are its transport.
      if (fd.free_ticks > 0 && fd.gossip.empty()) {
        // Members of this round were visited for free (credit_visit): the round ends with
        // as many periods without a probe, so it lasts as long as before. At the end, not
        // when earned: every member is still visited no later than it would have been.
        --fd.free_ticks;
        ++counters.probes_skipped;
        return;
      }
      fd.probe_pos = 0;
      fd.free_ticks = 0;
      ++fd.round;
      // Drop forgotten members, then Fisher-Yates.
      std::erase_if(order, [&](NodeId id) { return index.find(id) == index.end(); });
      for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
      if (order.empty()) break;
    }
    const NodeId id = order[fd.probe_pos++];
    auto it = index.find(id);
    if (it == index.end() || !is_live(members[it->second].state)) continue;
    Health& h = peers[it->second].health;
    if (h.visited_round == fd.round) continue;  // visited for free this round
    h.visited_round = fd.round;
    target = id;
  }
  if (target == 0) return;
  const std::uint32_t i = index[target];
  if (!hinted && heard_enough(i, now)) {
    ++counters.probes_skipped;  // traffic from it is as good as an ack
    return;
  }
  ++counters.probes;
  probe = Probe{};
  probe.active = true;
  probe.target = target;
  probe.incarnation = members[i].incarnation;
  probe.seq = fd.next_seq;
  fd.next_seq = fd.next_seq % kMaxProbeSeq + 1;
  probe.sent = now;
  probe.last_ping = now;
  // Indirect probes get twice the direct wait (they take two round trips); on a LAN
  // that is far below the probe period, so a dead member is suspected sooner. Acks that
  // take longer than the period (a starved host, AckWait) get their window all the same,
  // and the next probe waits for this one's verdict.
  const TimeNs wait = probe_wait();
  const TimeNs floor = scaled(config.probe_timeout_ms * kNsPerMs);
  if (wait > floor) {
    probe.direct_deadline = now + wait;
    probe.end = probe.direct_deadline + 2 * wait;
    fd.next_probe_at = std::max(fd.next_probe_at, probe.end);
  } else {
    probe.direct_deadline = now + std::min(wait, interval / 2);
    probe.end = std::min(now + interval, probe.direct_deadline + 2 * wait);
  }
  GossipHeader ping;
  ping.kind = GossipKind::Ping;
  ping.seq = probe.seq;
  ping.target = target;
  stamp_ping(i, ping, now);
  send_gossip(members[i].address, ping);
}

// Member i was heard from (any gossip; typically its own probe of us). If the round has
// not visited it yet and it needs no probe, that was its visit: its slot will be passed
// over, and the round's end gets one period without a probe (FailureDetector::free_ticks).
// Members after it are visited sooner, none later, so a dead member (it sends nothing) is
// found as soon as before, and about a third of an idle 100-node mesh's probes are spared
// (issue 18).
void Mesh::Impl::credit_visit(std::uint32_t i, TimeNs now) {
  Health& h = peers[i].health;
  // Not before the link holds a full window of probe RTTs: our probes are its samples,
  // and the link picture's first settled figures must not come later than they did.
  if (h.visited_round == fd.round || peers[i].links.probe_rtt.count < kRttWindow ||
      !heard_enough(i, now))
    return;
  h.visited_round = fd.round;
  ++fd.free_ticks;
}

// Member i needs no probe this period: it was heard from within it (its traffic is as
// good as an ack), no gossip waits for a probe to carry it, its RTT was measured once
// (link quality needs a first sample) and its clock needs no fresh sample.
bool Mesh::Impl::heard_enough(std::uint32_t i, TimeNs now) const {
  const Peer& p = peers[i];
  if (p.health.last_heard + probe_interval_ns() < now || !fd.gossip.empty() || members[i].state != MemberState::Alive)
    return false;
  // stats() refreshes every gauge of the connection: asked only when no probe was timed
  // (credit_visit runs on received gossip).
  const bool rtt_known = p.links.probe_samples != 0 || (p.session.conn && p.session.conn->stats().rtt_samples != 0);
  return rtt_known && !clock_sample_due(i, now);
}

// A verdict due `late_ns` ago is judged late when this node itself ran later than a
// direct probe's wait: a healthy host runs its timers within a millisecond or two.
bool Mesh::Impl::judged_late(TimeNs late_ns) const {
  return fd.local_health < kMaxLocalHealth && late_ns > probe_wait();
}

void Mesh::Impl::refute(std::uint64_t seen_inc, TimeNs now) {
  (void)now;
  incarnation = std::max(incarnation, seen_inc) + 1;
  ++counters.refutations;
  if (fd.local_health < kMaxLocalHealth) ++fd.local_health;  // Lifeguard: being suspected hints we are slow
  enqueue_gossip(self.id, Entry::State);
  push_to_all(self.id, Entry::State, true);
}

void Mesh::Impl::check_suspicions(TimeNs now) {
  for (std::uint32_t i = 0; i < members.size(); ++i) {
    Health& h = peers[i].health;
    if (members[i].state != MemberState::Suspect) continue;
    if (h.suspicion_deadline <= now) {
      const bool mine = h.declared_by == self.id;
      set_state(i, MemberState::Dead, members[i].incarnation, self.id, now);
      if (mine) push_to_all(members[i].id, Entry::State, false);
    } else if (h.declared_by == self.id && now >= h.next_notice_at) {
      notice(i, now);  // keep telling the suspect, in case it missed the push
    }
  }
}

// Tells member i what we hold about it (Suspect/Dead), at most once per probe period.
void Mesh::Impl::notice(std::uint32_t i, TimeNs now) {
  Health& h = peers[i].health;
  if (now < h.next_notice_at) return;
  h.next_notice_at = now + probe_interval_ns();
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

}  // namespace hana::topology
