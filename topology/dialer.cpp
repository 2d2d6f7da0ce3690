// The dialer and handshake: dials with jittered backoff, the stateless-cookie handshake,
// seeds and beacons, and admitting the member a handshake completes with.
//
// Handshake: Hello -> Retry(cookie) -> HelloCookie(cookie) -> Accept. The responder
// keeps no state until a HelloCookie with a valid cookie arrives from the address the
// cookie was made for. Simultaneous opens are settled at the Hello: a node that is
// dialing the sender itself ignores the sender's Hello if its own id is lower (the
// higher id yields and answers the lower id's Hello instead).
#include <algorithm>

#include "topology/mesh_impl.h"

namespace hana::topology {

std::uint32_t Mesh::Impl::fresh_cid() {
  for (;;) {
    const auto cid = static_cast<std::uint32_t>(rng.next());
    if (cid == protocol::kConnectionlessId || conns.by_cid.count(cid)) continue;
    if (std::any_of(dialer.dials.begin(), dialer.dials.end(), [&](const Dial& d) { return d.cid == cid; })) continue;
    return cid;
  }
}

Dial* Mesh::Impl::dial_to(const Address& to) {
  for (auto& d : dialer.dials)
    if (d.to == to) return &d;
  return nullptr;
}

void Mesh::Impl::cancel_dial(const Address& to) {
  std::erase_if(dialer.dials, [&](const Dial& d) { return d.to == to; });
}

void Mesh::Impl::start_dial(const Address& to, NodeId node, TimeNs now, bool discovery) {
  if (leaving || to == self.listen) return;
  Dial d;
  d.to = to;
  d.node = node;
  d.discovery = discovery;
  d.cid = fresh_cid();
  d.backoff.set_limits(config.reconnect_backoff_min_ms * kNsPerMs, config.reconnect_backoff_max_ms * kNsPerMs);
  d.next_at = now;
  d.started_at = now;
  d.lively_at = now;
  // A member last reached over its stream is likely behind the same firewall still, as is
  // anyone when our network seems to block UDP (udp_doubted): the dial tries both paths
  // from the start (UDP wins back later through path probes).
  if (const auto i = index.find(node); auto_path() && i != index.end()) d.via_stream = members[i->second].over_stream;
  if (auto_path() && udp_doubted) d.via_stream = true;
  dialer.dials.push_back(d);
  dial_tick(now);
}

void Mesh::Impl::dial_tick(TimeNs now) {
  const TimeNs cookie_life = config.cookie_lifetime_ms * kNsPerMs;
  // A discovery dial that was never answered was a beacon's hint we could not follow.
  std::erase_if(dialer.dials, [&](const Dial& d) {
    return d.discovery && d.next_at <= now && d.attempts >= kDiscoveryDialAttempts;
  });
  const TimeNs fallback = config.tcp_fallback_ms * kNsPerMs;
  for (Dial& d : dialer.dials) {
    if (d.next_at <= now && dial_held(d, now)) {
      // Looked at again a backoff's cap from now; a sign of life hurries it (hurry).
      d.next_at = now + config.reconnect_backoff_max_ms * kNsPerMs;
      ++counters.dials_held;
      continue;
    }
    if (should_fall_back(d, now)) {
      // Unanswered over UDP, with no sign of UDP from the peer: the stream too, from now on.
      d.via_stream = true;
      d.next_at = std::min(d.next_at, now);
      ++counters.tcp_fallbacks;
      // Probes and gossip to the member go where the handshake goes (until one completes).
      if (auto i = index.find(d.node); i != index.end() && !peers[i->second].session.conn)
        members[i->second].over_stream = true;
    }
    if (d.next_at > now) continue;
    if (!dialer.dial_limiter.allow(now)) {
      // Over the node's dial rate (many Dead members to redial): try again in about one
      // token's time, spread so the waiting dials do not all come back at once.
      ++counters.dials_deferred;
      const TimeNs token = kNsPerSec / std::max<std::uint64_t>(1, config.dial_rate_per_sec);
      d.next_at = now + token + rng.below(token * (dialer.dials.size() + 1));
      continue;
    }
    if (d.have_cookie && d.cookie_at + cookie_life <= now) d.have_cookie = false;  // may have expired
    OutItem h;
    h.type = OutType::Handshake;
    h.to = d.to;
    h.hkind = d.have_cookie ? protocol::HandshakeKind::HelloCookie : protocol::HandshakeKind::Hello;
    h.cid = d.cid;
    h.with_cookie = d.have_cookie;
    h.cookie = d.cookie;
    // transport = auto: UDP, and the stream too once the dial fell back; forced: one of them.
    if (config.transport != 2) {
      h.via = Via::Udp;
      push_out(h);
    }
    if (config.transport == 2 || (auto_path() && d.via_stream)) {
      h.via = Via::Stream;
      push_out(h);
    }
    ++d.attempts;
    d.sent_at = now;
    d.next_at = now + d.backoff.next(rng);
    // The fallback is judged at tcp_fallback_ms sharp (should_fall_back), not at the next
    // backed-off attempt.
    if (auto_path() && !d.via_stream && now < d.started_at + fallback)
      d.next_at = std::min(d.next_at, d.started_at + fallback);
  }
}

void Mesh::Impl::beacon_tick(TimeNs now) {
  if (!dialer.beacon_target || now < dialer.next_beacon_at) return;
  OutItem b;
  b.type = OutType::Beacon;
  b.to = *dialer.beacon_target;
  push_out(b);
  dialer.last_beacon_at = now;
  // The first few go at an eighth of the period: a joiner's beacon lost at one receiver
  // (a lossy LAN) would otherwise cost that pair a whole period of discovery.
  const TimeNs period = config.beacon_interval_ms * kNsPerMs;
  const TimeNs interval = dialer.beacons_sent++ < kStartupBeacons ? period / 8 : period;
  dialer.next_beacon_at = now + interval - interval / 10 + rng.below(interval / 5 + 1);
}

// A dial to a member held Dead that has shown no sign of life for reconnect_backoff_max_ms
// since the dial started, in a mesh whose beacons reach us, sends nothing more until it
// does: its beacon will (multicast needs no neighbour entry), and every sign of life
// hurries the dial (hurry). Blind Hellos into a partition cost more than their bytes: each
// one to an unresolved address puts the host's neighbour entry for it back into
// INCOMPLETE for mcast_solicit x retrans_time (3 x 1 s on Linux), and a heal that finds
// the entry there waits for the next ARP retransmit, up to 1 s, before any datagram of
// either handshake passes (measured, 16 processes in namespaces: heal 0.66-1.14 s; with
// retrans_time_ms = 100, 56-91 ms). Left alone, the entry fails after those 3 s and the
// first datagram after the heal resolves it at once. Without beacons (seeds only) blind
// dials are the way back and go on as before.
bool Mesh::Impl::dial_held(const Dial& d, TimeNs now) const {
  if (d.node == 0 || !beacons_heard(now) || now < d.lively_at + config.reconnect_backoff_max_ms * kNsPerMs) return false;
  const auto it = index.find(d.node);
  return it != index.end() && members[it->second].state == MemberState::Dead;
}

// This node beacons, and another node's beacon reached it within three periods: the LAN
// carries them, so a member that comes back will be heard.
bool Mesh::Impl::beacons_heard(TimeNs now) const {
  return dialer.beacon_target && dialer.beacon_heard_at != 0 &&
         now < dialer.beacon_heard_at + 3 * config.beacon_interval_ms * kNsPerMs;
}

bool Mesh::Impl::should_dial(std::uint32_t i, TimeNs now) const {
  const Member& m = members[i];
  const Peer& p = peers[i];
  if (p.session.conn || m.state == MemberState::Left || now < p.redial.next_dial_at) return false;
  for (const Dial& d : dialer.dials)
    if (d.to == m.address || d.node == m.id) return false;
  return true;
}

// A healing partition: both sides hold each other Dead, and their dials have backed off to
// reconnect_backoff_max_ms (seconds) while the link was cut. The first sign of life — a
// beacon or a probe from the address we hold, or the member's Alive record — is proof
// enough, so the dial goes at once and its backoff starts over. Bounded: at most one Hello
// per member per reconnect_backoff_min_ms from here, and every dial passes
// dial_rate_per_sec.
void Mesh::Impl::hurry(Dial& d, TimeNs now) {
  if (d.refused) return;
  d.lively_at = now;
  d.backoff.reset();
  const TimeNs earliest = d.sent_at == 0 ? now : std::max(now, d.sent_at + config.reconnect_backoff_min_ms * kNsPerMs);
  d.next_at = std::min(d.next_at, earliest);
}

void Mesh::Impl::hurry_dial(std::uint32_t i, TimeNs now) {
  Peer& p = peers[i];
  p.redial.reconnect.reset();
  p.redial.next_dial_at = std::min(p.redial.next_dial_at, now);
  for (Dial& d : dialer.dials)
    if (d.to == members[i].address || d.node == members[i].id) hurry(d, now);
}

void Mesh::Impl::redial_now(std::uint32_t i, TimeNs now) {
  if (leaving || peers[i].session.conn || members[i].state == MemberState::Left) return;
  hurry_dial(i, now);
  if (should_dial(i, now)) start_dial(members[i].address, members[i].id, now);
  else dial_tick(now);
}

void Mesh::Impl::on_handshake(const Address& from, const protocol::HandshakeFrame& h, TimeNs now) {
  using protocol::HandshakeKind;
  if (leaving || h.node_id == self.id || h.node_id == 0) return;
  heard_udp_from(from, now);
  if (h.kind == HandshakeKind::Hello || h.kind == HandshakeKind::HelloCookie) {
    if (h.kind == HandshakeKind::HelloCookie && !dialer.cookies.verify(from, h.cookie, now)) {
      ++counters.bad_cookies;
      return;
    }
    if (!admit_handshake(from, h.kind == HandshakeKind::HelloCookie, now)) return;
    // Simultaneous open: the lower id's dial wins.
    // A dial to the same node at another address is stale (it restarted elsewhere, e.g. on a
    // new port): drop it and accept, or neither side would ever complete.
    // Our winning dial goes now: it may have backed off for seconds while the peer was
    // away (a partition), and the peer's Hellos are ignored until it goes.
    for (Dial& d : dialer.dials)
      if (d.to == from || d.node == h.node_id) {
        if (d.to == from && self.id < h.node_id) {
          hurry(d, now);
          dial_tick(now);
          return;
        }
        cancel_dial(d.to);
        break;
      }
    if (h.kind == HandshakeKind::Hello) {
      OutItem r;
      r.type = OutType::Handshake;
      r.to = from;
      r.hkind = HandshakeKind::Retry;
      r.via = reply_via();
      r.with_cookie = true;
      r.cookie = dialer.cookies.make(from, now);
      push_out(r);
      return;
    }
    // HelloCookie with a valid cookie: now we keep state.
    if (auto it = index.find(h.node_id);
        it != index.end() && peers[it->second].session.conn && peers[it->second].session.remote_cid == h.connection_id) {
      // Our Accept was lost: say it again. Repeated over the stream, the initiator has
      // fallen back and our UDP answers may never reach it: its stream is the path now.
      // Not when its UDP reached us lately: then it is slow, not cut off.
      if (rx_path == Path::Stream && !members[it->second].over_stream &&
          !udp_heard_since(it->second, now - std::min(now, config.tcp_fallback_ms * kNsPerMs)))
        set_path(it->second, true, now);
      send_accept(from, peers[it->second].session.local_cid);
      return;
    }
    bool sync = false;
    const std::uint32_t i = admit(h, from, now, sync);
    if (i == ~0u) {
      OutItem r;
      r.type = OutType::Refuse;
      r.to = from;
      r.via = reply_via();
      r.cid = h.connection_id;
      r.reason = protocol::CloseReason::PeerLimit;
      push_out(r);
      return;
    }
    install_connection(i, fresh_cid(), h.connection_id, rx_path, now);
    send_accept(from, peers[i].session.local_cid);
    introduce(from, sync);
    elect(now);
    return;
  }

  Dial* d = dial_to(from);
  if (!d || (d->node != 0 && d->node != h.node_id)) return;
  // An answer over the stream: the peer talks there (it dialed so, or is forced to).
  if (rx_path == Path::Stream && auto_path()) d->via_stream = true;
  if (rx_path == Path::Udp) d->udp_answered = true;
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
  const bool udp_answered = d->udp_answered;
  bool sync = false;
  const std::uint32_t i = admit(h, from, now, sync);
  cancel_dial(from);
  if (i == ~0u) return;
  // Accepted over the stream, but our Hello and its Retry made the round trip over UDP
  // (the dial fell back while the peer was slow): UDP works, stay there.
  install_connection(i, cid, h.connection_id, udp_answered ? Path::Udp : rx_path, now);
  introduce(from, sync);
  elect(now);
}

std::uint32_t Mesh::Impl::admit(const protocol::HandshakeFrame& h, const Address& from, TimeNs now, bool& sync) {
  if (auto it = index.find(h.node_id); it != index.end()) {
    const std::uint32_t i = it->second;
    sync = !is_live(members[i].state);
    reconcile(i, from, h.incarnation, now);
    // The handshake (a cookie echoed from `from`) proved the member is reachable there:
    // the one way a member's address changes without a new incarnation.
    members[i].address = from;
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
  a.via = reply_via();  // on the path of the HelloCookie it answers
  push_out(a);
}

// After a handshake the peer hears our records from us: the full view when it is new
// to us (`sync`, which holds our own records too), otherwise our Alive record (with
// eligibility; a peer already live in our view, learned from gossip before its
// handshake, would never hear it from us otherwise) and our displays; and in both cases
// the coordinator we follow, in a push of its own. The claim matters after a partition
// heals: the sides often learn each other Alive from gossip before their handshakes (so
// no sync is due), a sync is one connectionless datagram that one loss takes, and a node
// that also missed the winning claim's few piggybacked copies would follow the losing
// side's coordinator for good (in a mesh without beacons nothing else repeats a claim).
// Our full view (every member, self, the claim), in as many datagrams as it takes.
void Mesh::Impl::send_sync(const Address& to) {
  OutItem s;
  s.type = OutType::Sync;
  s.to = to;
  s.gossip.kind = GossipKind::Push;
  s.gossip.sender = self.id;
  push_out(s);
}

void Mesh::Impl::introduce(const Address& to, bool sync) {
  auto push = [&](Entry entry) {
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
  };
  if (sync) {
    send_sync(to);
  } else {
    push(Entry::State);
    push(Entry::Displays);
  }
  if (election.claims.current()) push(Entry::Coordinator);
}

void Mesh::Impl::on_refuse(const Address& from, std::uint32_t cid, protocol::CloseReason reason, TimeNs now) {
  for (Dial& d : dialer.dials) {
    if (d.cid != cid || d.to != from) continue;
    if (!d.refused) events.push_back(JoinRefused{d.node, from, reason});
    d.refused = true;
    d.have_cookie = false;
    d.next_at = now + config.reconnect_backoff_max_ms * kNsPerMs;
  }
}

bool Mesh::Impl::admit_handshake(const Address& from, bool valid_cookie, TimeNs now) {
  const bool allowed = valid_cookie ? dialer.cookie_limiter.allow(now)
                                    : dialer.source_limiter.allow(from, now) && dialer.handshake_limiter.allow(now);
  if (!allowed) ++counters.rate_limited;
  return allowed;
}

void Mesh::Impl::on_beacon(const Address& from, Bytes body, TimeNs now) {
  if (!admit_handshake(from, false, now)) return;
  Beacon b;
  if (!decode_beacon(body, b)) {
    ++counters.bad_datagrams;
    return;
  }
  if (b.node == self.id || b.node == 0 || leaving) return;
  dialer.beacon_heard_at = now;
  const Address addr = reachable(b.address, from);
  auto it = index.find(b.node);
  if (it == index.end() || members[it->second].address != addr) {
    // A stranger (or a member at an address we do not hold for it): only a hint to dial.
    // Nothing enters the view until the handshake completes (admit).
    follow_beacon(addr, b.node, now);
    return;
  }
  Peer& p = peers[it->second];
  p.health.last_heard = now;
  p.path.udp_heard_at = now;  // beacons are UDP: its host reaches us there
  reconcile(it->second, addr, b.incarnation, now);  // a newer incarnation revives it (answer_beacon there)
  if (members[it->second].state == MemberState::Dead) {  // still Dead: reconcile only revives
    redial_now(it->second, now);
    answer_beacon(now);
  }
  // First-hand eligibility (a runtime knob change shows up here too).
  if (b.incarnation >= members[it->second].incarnation && p.eligible != b.eligible) {
    p.eligible = b.eligible;
    elect(now);
  }
  // Without a key the role is decided by handshaken members only (see handshaken()).
  if (b.term != 0 && b.coordinator_id != 0 && handshaken(b.node, from))
    observe_claim(Claim{b.term, b.coordinator_id}, now);
}

// A member held Dead showed a sign of life (its beacon, or news that revived it): a
// partition may just have healed, and the other side holds us Dead too. Our own beacon
// goes now instead of at our next period: every node that hears of a Dead member's life
// answers at once, so both sides find each other from the first beacon or handshake that
// crosses (the earliest of all of theirs) instead of each pair waiting for one of its own
// two beacons (up to a whole beacon_interval_ms). At most one beacon per
// kBeaconAnswerSpacing (or an eighth of the period, if shorter); a member that stays Dead
// sends nothing to answer.
void Mesh::Impl::answer_beacon(TimeNs now) {
  if (!dialer.beacon_target || leaving) return;
  const TimeNs spacing = std::min<TimeNs>(kBeaconAnswerSpacing, config.beacon_interval_ms * kNsPerMs / 8);
  if (dialer.beacons_sent > 0 && now < dialer.last_beacon_at + spacing) return;
  if (dialer.next_beacon_at <= now) return;  // one is due anyway
  dialer.next_beacon_at = now;
  ++counters.beacons_answered;
  deadline_changed();
}

void Mesh::Impl::follow_beacon(const Address& to, NodeId node, TimeNs now) {
  if (auto i = index.find(node); i != index.end() && peers[i->second].session.conn) return;
  for (const Dial& d : dialer.dials)
    if (d.to == to || d.node == node) return;
  const auto discovery_dials =
      std::count_if(dialer.dials.begin(), dialer.dials.end(), [](const Dial& d) { return d.discovery; });
  if (static_cast<std::size_t>(discovery_dials) >= config.max_peers) return;
  start_dial(to, node, now, true);
}

bool Mesh::Impl::handshaken(NodeId sender, const Address& from) const {
  if (auto it = index.find(sender); it != index.end())
    return peers[it->second].session.conn && members[it->second].address == from;
  // Our handshake with it is complete on its side (it sent Accept and its view, and
  // the view overtook the Accept).
  return std::any_of(dialer.dials.begin(), dialer.dials.end(),
                     [&](const Dial& d) { return d.to == from && d.node == sender && d.have_cookie; });
}

}  // namespace hana::topology
