// Handshakes (stateless cookie), connections to members, beacons, link quality.
//
// Handshake: Hello -> Retry(cookie) -> HelloCookie(cookie) -> Accept. The responder
// keeps no state until a HelloCookie with a valid cookie arrives from the address the
// cookie was made for. Simultaneous opens are settled at the Hello: a node that is
// dialing the sender itself ignores the sender's Hello if its own id is lower (the
// higher id yields and answers the lower id's Hello instead).
#include <algorithm>
#include <cmath>

#include "topology/mesh_impl.h"

namespace hana::topology {

std::uint32_t Mesh::Impl::fresh_cid() {
  for (;;) {
    const auto cid = static_cast<std::uint32_t>(rng.next());
    if (cid == protocol::kConnectionlessId || by_cid.count(cid)) continue;
    if (std::any_of(dials.begin(), dials.end(), [&](const Dial& d) { return d.cid == cid; })) continue;
    return cid;
  }
}

Dial* Mesh::Impl::dial_to(const Address& to) {
  for (auto& d : dials)
    if (d.to == to) return &d;
  return nullptr;
}

void Mesh::Impl::cancel_dial(const Address& to) {
  std::erase_if(dials, [&](const Dial& d) { return d.to == to; });
}

void Mesh::Impl::start_dial(const Address& to, NodeId node, TimeNs now) {
  if (leaving || to == self.listen) return;
  Dial d;
  d.to = to;
  d.node = node;
  d.cid = fresh_cid();
  d.backoff.set_limits(config.reconnect_backoff_min_ms * kNsPerMs, config.reconnect_backoff_max_ms * kNsPerMs);
  d.next_at = now;
  dials.push_back(d);
  dial_tick(now);
}

void Mesh::Impl::dial_tick(TimeNs now) {
  const TimeNs cookie_life = config.cookie_lifetime_ms * kNsPerMs;
  for (Dial& d : dials) {
    if (d.next_at > now) continue;
    if (d.have_cookie && d.cookie_at + cookie_life <= now) d.have_cookie = false;  // may have expired
    OutItem h;
    h.type = OutType::Handshake;
    h.to = d.to;
    h.hkind = d.have_cookie ? protocol::HandshakeKind::HelloCookie : protocol::HandshakeKind::Hello;
    h.cid = d.cid;
    h.with_cookie = d.have_cookie;
    h.cookie = d.cookie;
    push_out(h);
    d.next_at = now + d.backoff.next(rng);
  }
}

bool Mesh::Impl::should_dial(std::uint32_t i, TimeNs now) const {
  const Member& m = members[i];
  const Peer& p = peers[i];
  if (p.conn || m.state == MemberState::Left || now < p.next_dial_at) return false;
  for (const Dial& d : dials)
    if (d.to == m.address || d.node == m.id) return false;
  return true;
}

void Mesh::Impl::connection_touched(NodeId id) {
  Peer* p = peer_of(id);
  if (!p) return;
  if (!p->tx_dirty) {
    p->tx_dirty = true;
    transmit_dirty.push_back(id);
  }
  if (!p->ev_dirty) {
    p->ev_dirty = true;
    event_dirty.push_back(id);
  }
  if (!p->dl_dirty) {
    p->dl_dirty = true;
    deadline_dirty.push_back(id);
  }
}

void Mesh::Impl::maybe_peer_up(std::uint32_t i) {
  Peer& p = peers[i];
  if (p.up_reported || !p.conn || members[i].state != MemberState::Alive) return;
  p.up_reported = true;
  events.push_back(PeerUp{members[i].id, members[i].address});
}

void Mesh::Impl::install_connection(std::uint32_t i, std::uint32_t local_cid, std::uint32_t remote_cid, TimeNs now) {
  Peer& p = peers[i];
  if (p.conn) drop_connection(i, FailReason::Closed, now);  // replaced by a newer handshake
  p.conn = std::make_unique<protocol::Connection>(conn_config, protocol::ConnectionIds{local_cid, remote_cid}, now);
  p.local_cid = local_cid;
  p.remote_cid = remote_cid;
  by_cid[local_cid] = members[i].id;
  members[i].connected = true;
  p.reconnect.reset();
  p.last_heard = now;
  // What it reported over its previous connection may belong to a previous life; it
  // sends its whole table again on this one, as we do.
  p.reported.clear();
  send_link_table(i, now);
  connection_touched(members[i].id);
  maybe_peer_up(i);
}

void Mesh::Impl::drop_connection(std::uint32_t i, std::optional<FailReason> abort_reason, TimeNs now) {
  Peer& p = peers[i];
  if (!p.conn) return;
  if (abort_reason) p.conn->abort(*abort_reason, now);
  by_cid.erase(p.local_cid);
  retired.push_back(Retired{members[i].id, members[i].address, std::move(p.conn), false});
  p.conn.reset();
  p.local_cid = p.remote_cid = 0;
  p.conn_deadline = kNever;
  p.up_reported = false;
  members[i].connected = false;
  p.next_dial_at = now + p.reconnect.next(rng);
}

// A hello's incarnation against our record of that node.
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

void Mesh::Impl::on_handshake(const Address& from, const protocol::HandshakeFrame& h, TimeNs now) {
  using protocol::HandshakeKind;
  if (leaving || h.node_id == self.id || h.node_id == 0) return;
  if (h.kind == HandshakeKind::Hello || h.kind == HandshakeKind::HelloCookie) {
    if (!handshake_limiter.allow(now)) {
      ++counters.rate_limited;
      return;
    }
    if (h.kind == HandshakeKind::HelloCookie && !cookies.verify(from, h.cookie, now)) {
      ++counters.bad_cookies;
      return;
    }
    // Simultaneous open: the lower id's dial wins.
    // A dial to the same node at another address is stale (it restarted elsewhere, e.g. on a
    // new port): drop it and accept, or neither side would ever complete.
    for (const Dial& d : dials)
      if (d.to == from || d.node == h.node_id) {
        if (d.to == from && self.id < h.node_id) return;
        cancel_dial(d.to);
        break;
      }
    if (h.kind == HandshakeKind::Hello) {
      OutItem r;
      r.type = OutType::Handshake;
      r.to = from;
      r.hkind = HandshakeKind::Retry;
      r.with_cookie = true;
      r.cookie = cookies.make(from, now);
      push_out(r);
      return;
    }
    // HelloCookie with a valid cookie: now we keep state.
    if (auto it = index.find(h.node_id);
        it != index.end() && peers[it->second].conn && peers[it->second].remote_cid == h.connection_id) {
      send_accept(from, peers[it->second].local_cid);  // our Accept was lost: say it again
      return;
    }
    bool sync = false;
    const std::uint32_t i = admit(h, from, now, sync);
    if (i == ~0u) {
      OutItem r;
      r.type = OutType::Refuse;
      r.to = from;
      r.cid = h.connection_id;
      r.reason = protocol::CloseReason::PeerLimit;
      push_out(r);
      return;
    }
    install_connection(i, fresh_cid(), h.connection_id, now);
    send_accept(from, peers[i].local_cid);
    introduce(from, sync);
    elect(now);
    return;
  }

  Dial* d = dial_to(from);
  if (!d || (d->node != 0 && d->node != h.node_id)) return;
  if (h.kind == HandshakeKind::Retry) {
    if (h.cookie.size() != kCookieBytes) return;
    std::copy(h.cookie.begin(), h.cookie.end(), d->cookie.begin());
    d->have_cookie = true;
    d->cookie_at = now;
    d->node = h.node_id;
    d->next_at = now;  // answer at once
    dial_tick(now);
    return;
  }
  // Accept
  if (!d->have_cookie) return;
  const std::uint32_t cid = d->cid;
  bool sync = false;
  const std::uint32_t i = admit(h, from, now, sync);
  cancel_dial(from);
  if (i == ~0u) return;
  install_connection(i, cid, h.connection_id, now);
  introduce(from, sync);
  elect(now);
}

std::uint32_t Mesh::Impl::admit(const protocol::HandshakeFrame& h, const Address& from, TimeNs now, bool& sync) {
  if (auto it = index.find(h.node_id); it != index.end()) {
    const std::uint32_t i = it->second;
    sync = !is_live(members[i].state);
    reconcile(i, from, h.incarnation, now);
    return i;
  }
  const std::uint32_t i = add_member(h.node_id, from, h.incarnation, now);
  if (i == ~0u) {
    ++counters.refused_peer_limit;
    return i;
  }
  enqueue_gossip(h.node_id, Entry::State);
  sync = true;
  return i;
}

void Mesh::Impl::send_accept(const Address& to, std::uint32_t local_cid) {
  OutItem a;
  a.type = OutType::Handshake;
  a.to = to;
  a.hkind = protocol::HandshakeKind::Accept;
  a.cid = local_cid;
  push_out(a);
}

// After a handshake the peer hears our records from us: the full view when it is new
// to us (`sync`, which holds our own records too), otherwise our Alive record (with
// eligibility; a peer already live in our view, learned from gossip before its
// handshake, would never hear it from us otherwise) and our displays.
void Mesh::Impl::introduce(const Address& to, bool sync) {
  if (sync) {
    OutItem s;
    s.type = OutType::Sync;
    s.to = to;
    s.gossip.kind = GossipKind::Push;
    s.gossip.sender = self.id;
    push_out(s);
    return;
  }
  for (const Entry entry : {Entry::State, Entry::Displays}) {
    OutItem item;
    item.type = OutType::Gossip;
    item.to = to;
    item.gossip.kind = GossipKind::Push;
    item.gossip.sender = self.id;
    item.has_subject = true;
    item.subject = self.id;
    item.subject_entry = entry;
    item.piggyback = entry == Entry::State;  // queued gossip rides along once, not twice
    push_out(item);
  }
}

void Mesh::Impl::on_refuse(const Address& from, std::uint32_t cid, protocol::CloseReason reason, TimeNs now) {
  for (Dial& d : dials) {
    if (d.cid != cid || d.to != from) continue;
    (void)reason;
    d.refused = true;
    d.have_cookie = false;
    d.next_at = now + config.reconnect_backoff_max_ms * kNsPerMs;
  }
}

void Mesh::Impl::on_beacon(const Address& from, Bytes body, TimeNs now) {
  if (!handshake_limiter.allow(now)) {
    ++counters.rate_limited;
    return;
  }
  Beacon b;
  if (!decode_beacon(body, b)) {
    ++counters.bad_datagrams;
    return;
  }
  if (b.node == self.id || leaving) return;
  const Address addr = reachable(b.address, from);
  auto it = index.find(b.node);
  if (it == index.end()) {
    const std::uint32_t i = add_member(b.node, addr, b.incarnation, now);
    if (i != ~0u) {
      members[i].name = std::string(b.name);
      peers[i].eligible = b.eligible;
      enqueue_gossip(b.node, Entry::State);
      elect(now);
    }
  } else {
    Peer& p = peers[it->second];
    p.last_heard = now;
    reconcile(it->second, addr, b.incarnation, now);
    // First-hand eligibility (a runtime knob change shows up here too).
    if (b.incarnation >= members[it->second].incarnation && p.eligible != b.eligible) {
      p.eligible = b.eligible;
      elect(now);
    }
  }
  if (b.term != 0 && b.coordinator_id != 0) observe_claim(Claim{b.term, b.coordinator_id}, now);
}

void Mesh::Impl::evaluate_links(TimeNs now) {
  const TimeNs every = config.link_report_interval_ms * kNsPerMs;
  for (std::uint32_t i = 0; i < members.size(); ++i) {
    Peer& p = peers[i];
    Member& m = members[i];
    // Until the first measurement is reported the link is evaluated every turn: "report
    // when first measured" must not wait for the interval (with last_link_eval = 0 and a
    // long interval it waited until the monotonic clock passed the interval, i.e. never on
    // a machine booted less than an interval ago).
    const bool reported = m.link.rtt_us != 0;
    if (!is_live(m.state) || (reported && now < p.last_link_eval + every)) continue;
    const TimeNs dt = now - p.last_link_eval;
    p.last_link_eval = now;
    LinkQuality q = m.link;
    if (p.conn) {
      const ConnectionStats& s = p.conn->stats();
      // The RTT comes from whichever measured since the last evaluation: the connection
      // (busy link: probes are skipped while traffic flows) or the failure detector's
      // direct probes (idle link: the connection's estimate is as old as its last
      // traffic). Before its first sample a connection's RTT is the initial_rtt_us
      // assumption, not a measurement.
      if (s.rtt_samples != p.last_rtt_samples && s.rtt_samples != 0) {  // != : a new connection counts afresh
        q.rtt_us = s.rtt_smoothed_us;
        q.jitter_us = s.rtt_var_us;
      } else if (p.probe_samples > p.last_probe_samples || s.rtt_samples == 0) {
        q.rtt_us = static_cast<std::uint64_t>(p.probe_rtt_us);
      }
      p.last_rtt_samples = s.rtt_samples;
      p.last_probe_samples = p.probe_samples;
      const std::uint64_t sent = s.packets_sent - std::min(s.packets_sent, p.last_packets_sent);
      const std::uint64_t lost = s.packets_lost - std::min(s.packets_lost, p.last_packets_lost);
      if (sent >= 20) q.loss_rate = static_cast<double>(lost) / static_cast<double>(sent);
      const std::uint64_t bytes = s.bytes_received - std::min(s.bytes_received, p.last_bytes);
      q.throughput_bytes_per_sec = dt ? static_cast<std::uint64_t>(static_cast<double>(bytes) * 1e9 / static_cast<double>(dt)) : 0;
      p.last_packets_sent = s.packets_sent;
      p.last_packets_lost = s.packets_lost;
      p.last_bytes = s.bytes_received;
    } else {
      q.rtt_us = static_cast<std::uint64_t>(p.probe_rtt_us);
    }
    // Hysteresis: report only changes that matter, never per packet.
    const LinkQuality& old = m.link;
    const auto diff = [](std::uint64_t a, std::uint64_t b) { return a > b ? a - b : b - a; };
    const bool first = old.rtt_us == 0 && q.rtt_us != 0;
    const bool rtt_moved = diff(q.rtt_us, old.rtt_us) > std::max<std::uint64_t>(old.rtt_us / 4, 100);
    const bool loss_moved = std::fabs(q.loss_rate - old.loss_rate) > 0.01;
    const bool tput_moved = diff(q.throughput_bytes_per_sec, old.throughput_bytes_per_sec) >
                            std::max<std::uint64_t>(old.throughput_bytes_per_sec / 2, 64 * 1024);
    if (first || rtt_moved || loss_moved || tput_moved) {
      m.link = q;
      events.push_back(LinkQualityChanged{m.id, q, self.id});
      report_link(i, now);
    }
  }
}

}  // namespace hana::topology
