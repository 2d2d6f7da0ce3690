// topology::Mesh: public entry points, datagram routing, output queue, timers.
// The failure detector and gossip live in mesh_swim.cpp, handshakes and
// connections in mesh_links.cpp.
#include <algorithm>

#include "topology/mesh_impl.h"

namespace hana::topology {

namespace {
bool is_mesh_outcome(const protocol::ConnectionEvent& e) {
  if (const auto* d = std::get_if<protocol::DeliveredEvent>(&e)) return (d->id & kMeshMessageIdBit) != 0;
  if (const auto* f = std::get_if<protocol::FailedEvent>(&e)) return (f->id & kMeshMessageIdBit) != 0;
  return false;
}
}  // namespace

Mesh::Impl::Impl(const Config& cfg, Identity me, std::uint64_t seed, TimeNs now)
    : config(cfg),
      self(std::move(me)),
      rng(seed ^ 0x6a09e667f3bcc908ull),
      cookies(rng.next(), cfg.cookie_lifetime_ms * kNsPerMs),
      handshake_limiter(cfg.handshake_rate_per_sec),
      started_at(now) {
  // The incarnation starts at the start time in ms, so a restarted process usually
  // outranks the records its previous life left behind (refutation covers the rest).
  incarnation = now / kNsPerMs;
  // Display versions follow the same rule, so the displays a restarted process announces
  // are not ignored as older than what its previous life announced.
  display_version = std::max<std::uint64_t>(1, incarnation);
  apply_config(cfg);
  last_now = now;
  next_probe_at = now + rng.below(probe_interval_ns() + 1);
  next_maintenance_at = now;
  scratch.resize(protocol::kMaxDatagramBytes);
  if (self.displays.size() > kMaxDisplays) self.displays.resize(kMaxDisplays);
  recompute_deadline();
}

void Mesh::Impl::apply_config(const Config& c) {
  config = c;
  conn_config = c;
  // Liveness of a mesh peer is the failure detector's job: per-connection keepalives
  // to 99 peers would cost more than the whole SWIM budget, and an idle timeout would
  // tear down healthy idle connections. The mesh closes connections of dead peers.
  conn_config.keepalive_interval_ms = 3'600'000;
  conn_config.idle_timeout_ms = 3'600'000;
  cookies.set_lifetime(c.cookie_lifetime_ms * kNsPerMs);
  handshake_limiter.set_rate(c.handshake_rate_per_sec);
  for (auto& p : peers) {
    p.reconnect.set_limits(c.reconnect_backoff_min_ms * kNsPerMs, c.reconnect_backoff_max_ms * kNsPerMs);
    if (p.conn) p.conn->apply_runtime_config(conn_config);
  }
}

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
  if (const auto& c = election.current(); c && c->node == id) m.role = Role::Coordinator;
  members.push_back(std::move(m));
  Peer p;
  p.state_since = now;
  p.last_heard = now;
  p.reconnect.set_limits(config.reconnect_backoff_min_ms * kNsPerMs, config.reconnect_backoff_max_ms * kNsPerMs);
  // The higher id of a pair waits a little before dialing, so that in the common case
  // only the lower id dials and simultaneous opens stay rare.
  p.next_dial_at = self.id < id ? now : now + 4 * probe_interval_ns();
  peers.push_back(std::move(p));
  const auto i = static_cast<std::uint32_t>(members.size() - 1);
  index[id] = i;
  // A new member joins the probe rotation at a random position.
  probe_order.insert(probe_order.begin() + static_cast<std::ptrdiff_t>(rng.below(probe_order.size() + 1)), id);
  return i;
}

void Mesh::Impl::reap(TimeNs now) {
  const TimeNs keep = config.dead_retention_ms * kNsPerMs;
  for (std::size_t i = 0; i < members.size();) {
    const bool gone = !is_live(members[i].state) && peers[i].state_since + keep <= now;
    if (!gone) {
      ++i;
      continue;
    }
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

void Mesh::Impl::push_out(OutItem item) {
  if (out.size() >= kMaxOutItems) {
    ++counters.out_queue_drops;
    return;
  }
  out.push_back(std::move(item));
}

std::size_t Mesh::Impl::encode_out(const OutItem& item, MutableBytes buffer, TimeNs now) {
  protocol::Header header;
  header.flags = protocol::kFlagShortChecksum;
  header.connection_id = item.type == OutType::Refuse ? item.cid : protocol::kConnectionlessId;
  protocol::DatagramWriter w(buffer, config.max_datagram_bytes, header);
  if (!w.ok()) return 0;
  switch (item.type) {
    case OutType::Gossip:
    case OutType::Sync: {
      const std::size_t room = w.remaining();
      if (room < 4) return 0;
      const std::size_t max_body = room - 1 - protocol::varint_size(room);
      BodyWriter bw(MutableBytes(scratch.data(), std::min(max_body, scratch.size())));
      const std::size_t count_at = encode_gossip_header(bw, item.gossip);
      if (!bw.ok()) return 0;
      if (item.type == OutType::Sync) {
        // Full state for a peer that just (re)joined: every member, self (state and displays), the claim.
        std::uint8_t count = 0;
        std::uint32_t cursor = item.cursor;
        const auto total = static_cast<std::uint32_t>(members.size() + 3);
        Update u;
        while (cursor < total && count < kMaxUpdatesPerBody) {
          bool have = false;
          if (cursor < members.size()) have = make_update(members[cursor].id, Entry::State, u);
          else if (cursor == members.size()) have = make_update(self.id, Entry::State, u);
          else if (cursor == members.size() + 1) have = make_update(self.id, Entry::Displays, u);
          else have = make_update(0, Entry::Coordinator, u);
          if (have && !encode_update(bw, u)) break;
          count = static_cast<std::uint8_t>(count + (have ? 1 : 0));
          ++cursor;
        }
        bw.patch_u8(count_at, count);
        if (cursor < total && cursor != item.cursor) {
          OutItem rest = item;
          rest.cursor = cursor;
          out.push_back(rest);  // the rest of the sync follows whatever is queued
        }
      } else {
        std::size_t budget = std::min<std::size_t>(config.gossip_max_bytes, max_body - bw.size());
        write_updates(bw, count_at, budget, item);
      }
      if (!w.append(protocol::GossipFrame{bw.written()})) return 0;
      ++counters.gossip_out;
      const std::size_t n = w.finish();
      counters.gossip_bytes_out += n;
      return n;
    }
    case OutType::Handshake: {
      protocol::HandshakeFrame h;
      h.kind = item.hkind;
      h.node_id = self.id;
      h.incarnation = incarnation;
      h.connection_id = item.cid;
      if (item.with_cookie) h.cookie = Bytes(item.cookie.data(), item.cookie.size());
      if (!w.append(h)) return 0;
      ++counters.handshake_out;
      return w.finish();
    }
    case OutType::Refuse: {
      protocol::CloseFrame c;
      c.reason = item.reason;
      if (!w.append(c)) return 0;
      ++counters.handshake_out;
      return w.finish();
    }
    case OutType::Beacon: {
      Beacon b;
      b.node = self.id;
      b.incarnation = incarnation;
      b.eligible = self.coordinator_eligible && config.coordinator_eligible;
      const auto& claim = election.current();
      b.coordinator = claim && claim->node == self.id;
      b.term = claim ? claim->term : 0;
      b.coordinator_id = claim ? claim->node : 0;
      b.address = self.listen;
      b.name = self.name;
      b.members = live_members();
      b.displays = static_cast<std::uint8_t>(self.displays.size());
      for (const auto& d : self.displays) b.displays_available = static_cast<std::uint8_t>(b.displays_available + (d.available ? 1 : 0));
      BodyWriter bw(MutableBytes(scratch.data(), scratch.size()));
      encode_beacon(bw, b);
      if (!bw.ok() || !w.append(protocol::BeaconFrame{bw.written()})) return 0;
      ++counters.beacon_out;
      return w.finish();
    }
  }
  (void)now;
  return 0;
}

void Mesh::Impl::maintenance(TimeNs now) {
  reap(now);
  evaluate_links(now);
  elect(now);
  // Seeds: keep dialing every seed address that is not a connected member.
  for (const Address& s : seeds) {
    bool connected = false;
    for (std::size_t i = 0; i < members.size(); ++i)
      if (members[i].address == s && peers[i].conn && is_live(members[i].state)) connected = true;
    if (!connected && !dial_to(s)) start_dial(s, 0, now);
  }
  // Members that should be connected but are not; link tables that must go again.
  for (std::uint32_t i = 0; i < members.size(); ++i) {
    if (should_dial(i, now)) start_dial(members[i].address, members[i].id, now);
    if (peers[i].resend_links && peers[i].conn) send_link_table(i, now);
  }
}

void Mesh::Impl::recompute_deadline() {
  for (NodeId id : deadline_dirty) {
    if (Peer* p = peer_of(id)) {
      p->dl_dirty = false;
      p->conn_deadline = kNever;
      if (p->conn)
        if (auto t = p->conn->next_timeout()) p->conn_deadline = *t;
    }
  }
  deadline_dirty.clear();
  TimeNs t = next_maintenance_at;
  if (!leaving) {
    t = std::min(t, next_probe_at);
    if (probe.active && !probe.acked) {
      if (!probe.indirect_sent) t = std::min(t, probe.direct_deadline);
      t = std::min(t, probe.end);
    }
    t = std::min(t, next_beacon_at);
    for (const Dial& d : dials) t = std::min(t, d.next_at);
  }
  for (const Peer& p : peers) {
    t = std::min(t, p.conn_deadline);
    t = std::min(t, p.suspicion_deadline);
  }
  for (const Retired& r : retired)
    if (auto c = r.conn->next_timeout()) t = std::min(t, *c);
  deadline = t;
}

// ---- Mesh -------------------------------------------------------------------

Mesh::Mesh(const Config& config, Identity self, std::uint64_t seed, TimeNs now)
    : impl_(std::make_unique<Impl>(config, std::move(self), seed, now)) {}
Mesh::~Mesh() = default;

Result<void> Mesh::add_seed(const Address& peer, TimeNs now) {
  if (peer.port == 0) return Error{Errc::InvalidArgument, "seed address needs a port"};
  if (peer == impl_->self.listen) return Error{Errc::InvalidArgument, "seed address is this node's own address"};
  if (std::find(impl_->seeds.begin(), impl_->seeds.end(), peer) == impl_->seeds.end()) impl_->seeds.push_back(peer);
  impl_->last_now = now;
  if (!impl_->dial_to(peer)) impl_->start_dial(peer, 0, now);
  impl_->recompute_deadline();
  return {};
}

void Mesh::set_beacon_target(std::optional<Address> target) {
  impl_->beacon_target = target;
  // First beacon soon, at a random phase so a cold-starting fleet does not fire at once.
  impl_->next_beacon_at =
      target ? impl_->last_now + impl_->rng.below(impl_->config.beacon_interval_ms * kNsPerMs / 10 + 1) : kNever;
  impl_->recompute_deadline();
}

void Mesh::on_datagram(const Address& from, Bytes datagram, TimeNs now) {
  Impl& m = *impl_;
  m.last_now = now;
  ++m.counters.datagrams_in;
  m.counters.bytes_in += datagram.size();
  const auto decoded = protocol::decode_datagram(datagram);
  if (!decoded.datagram) {
    ++m.counters.bad_datagrams;
    return;
  }
  const auto& view = *decoded.datagram;
  const std::uint32_t cid = view.header.connection_id;
  if (cid != protocol::kConnectionlessId) {
    auto it = m.by_cid.find(cid);
    if (it != m.by_cid.end()) {
      if (Peer* p = m.peer_of(it->second); p && p->conn) {
        p->conn->on_datagram(view, now);
        p->last_heard = now;
        m.connection_touched(it->second);
      }
    } else {
      // Not a connection: possibly the refusal of one of our handshakes.
      protocol::FrameReader reader(view.frames);
      protocol::Frame f;
      bool refusal = false;
      while (reader.next(f))
        if (auto* c = std::get_if<protocol::CloseFrame>(&f)) {
          m.on_refuse(from, cid, c->reason, now);
          refusal = true;
        }
      if (!refusal) ++m.counters.unknown_connection;
    }
  } else {
    protocol::FrameReader reader(view.frames);
    protocol::Frame f;
    while (reader.next(f)) {
      if (auto* h = std::get_if<protocol::HandshakeFrame>(&f)) m.on_handshake(from, *h, now);
      else if (auto* b = std::get_if<protocol::BeaconFrame>(&f)) m.on_beacon(from, b->body, now);
      else if (auto* g = std::get_if<protocol::GossipFrame>(&f)) m.on_gossip(from, g->body, now);
    }
    if (reader.error()) ++m.counters.bad_datagrams;
  }
  m.recompute_deadline();
}

void Mesh::on_timeout(TimeNs now) {
  Impl& m = *impl_;
  m.last_now = now;
  if (!m.leaving) {
    m.probe_tick(now);
    if (m.beacon_target && now >= m.next_beacon_at) {
      OutItem b;
      b.type = OutType::Beacon;
      b.to = *m.beacon_target;
      m.push_out(b);
      const TimeNs interval = m.config.beacon_interval_ms * kNsPerMs;
      m.next_beacon_at = now + interval - interval / 10 + m.rng.below(interval / 5 + 1);
    }
    m.dial_tick(now);
  }
  m.check_suspicions(now);
  if (now >= m.next_maintenance_at) {
    if (!m.leaving) m.maintenance(now);
    else m.reap(now);
    m.next_maintenance_at = now + std::min<TimeNs>(m.probe_interval_ns(), 100 * kNsPerMs);
  }
  for (std::size_t i = 0; i < m.peers.size(); ++i) {
    Peer& p = m.peers[i];
    if (p.conn && p.conn_deadline <= now) {
      p.conn->on_timeout(now);
      m.connection_touched(m.members[i].id);
    }
  }
  for (auto& r : m.retired)
    if (auto t = r.conn->next_timeout(); t && *t <= now) {
      r.conn->on_timeout(now);
      r.tx_done = false;
    }
  m.recompute_deadline();
}

std::optional<TimeNs> Mesh::next_timeout() const {
  if (impl_->deadline == kNever) return std::nullopt;
  return impl_->deadline;
}

std::optional<Transmit> Mesh::poll_transmit(MutableBytes buffer, TimeNs now) {
  Impl& m = *impl_;
  m.last_now = now;
  auto sent = [&](const Address& to, std::size_t n) {
    ++m.counters.datagrams_out;
    m.counters.bytes_out += n;
    return Transmit{to, n};
  };
  while (!m.out.empty()) {
    OutItem item = std::move(m.out.front());
    m.out.pop_front();
    if (const std::size_t n = m.encode_out(item, buffer, now)) {
      m.recompute_deadline();
      return sent(item.to, n);
    }
  }
  while (!m.transmit_dirty.empty()) {
    const NodeId id = m.transmit_dirty.back();
    auto it = m.index.find(id);
    if (it == m.index.end() || !m.peers[it->second].conn) {
      m.transmit_dirty.pop_back();
      if (it != m.index.end()) m.peers[it->second].tx_dirty = false;
      continue;
    }
    Peer& p = m.peers[it->second];
    const std::size_t n = p.conn->poll_transmit(buffer, now);
    if (!p.dl_dirty) {
      p.dl_dirty = true;
      m.deadline_dirty.push_back(id);
    }
    if (!p.ev_dirty) {
      p.ev_dirty = true;
      m.event_dirty.push_back(id);
    }
    if (n) {
      ++m.counters.connection_out;
      m.counters.connection_bytes_out += n;
      m.recompute_deadline();
      return sent(m.members[it->second].address, n);
    }
    p.tx_dirty = false;
    m.transmit_dirty.pop_back();
  }
  bool polled = false;
  for (auto& r : m.retired) {
    if (r.tx_done) continue;
    polled = true;
    if (const std::size_t n = r.conn->poll_transmit(buffer, now)) {
      ++m.counters.connection_out;
      m.counters.connection_bytes_out += n;
      return sent(r.to, n);
    }
    r.tx_done = true;
  }
  // Nothing to send is the common case (the simulator asks every node every step):
  // only pay for a deadline recomputation if a connection was actually asked.
  if (polled || !m.deadline_dirty.empty()) m.recompute_deadline();
  return std::nullopt;
}

std::optional<MeshEvent> Mesh::poll_event() {
  Impl& m = *impl_;
  if (!m.events.empty()) {
    MeshEvent e = std::move(m.events.front());
    m.events.pop_front();
    return e;
  }
  auto convert = [](NodeId peer, protocol::ConnectionEvent& ev) -> std::optional<MeshEvent> {
    if (auto* d = std::get_if<protocol::DeliveredEvent>(&ev)) return MessageDelivered{peer, d->id, d->lane};
    if (auto* f = std::get_if<protocol::FailedEvent>(&ev)) return MessageFailed{peer, f->id, f->lane, f->reason};
    if (auto* r = std::get_if<protocol::ReceivedEvent>(&ev))
      return MessageReceived{peer, r->lane, r->delivery, r->latest_value, r->key, r->version, r->payload};
    if (auto* c = std::get_if<protocol::CongestionEvent>(&ev)) return CongestionChanged{peer, c->in_recovery, c->cwnd_bytes};
    return std::nullopt;
  };
  while (!m.event_dirty.empty()) {
    const NodeId id = m.event_dirty.back();
    auto it = m.index.find(id);
    if (it == m.index.end() || !m.peers[it->second].conn) {
      m.event_dirty.pop_back();
      if (it != m.index.end()) m.peers[it->second].ev_dirty = false;
      continue;
    }
    Peer& p = m.peers[it->second];
    auto ev = p.conn->poll_event();
    if (!ev) {
      p.ev_dirty = false;
      m.event_dirty.pop_back();
      continue;
    }
    if (auto* closed = std::get_if<protocol::ClosedEvent>(&*ev)) {
      (void)closed;
      // The connection ended (peer closed, idle, protocol error): keep its remaining
      // events, and let maintenance redial with backoff.
      m.drop_connection(it->second, std::nullopt, m.last_now);
      m.recompute_deadline();
      continue;
    }
    // Mesh-internal traffic (link reports) and its outcomes stay in the mesh.
    if (auto* r = std::get_if<protocol::ReceivedEvent>(&*ev); r && r->mesh) {
      m.on_mesh_message(it->second, *r, m.last_now);
      if (!m.events.empty()) {
        MeshEvent e = std::move(m.events.front());
        m.events.pop_front();
        return e;
      }
      continue;
    }
    if (is_mesh_outcome(*ev)) {
      m.on_mesh_outcome(it->second, *ev);
      continue;
    }
    if (auto out = convert(id, *ev)) return out;
  }
  while (!m.retired.empty()) {
    auto& r = m.retired.front();
    if (auto ev = r.conn->poll_event()) {
      if (is_mesh_outcome(*ev)) continue;
      if (auto* rx = std::get_if<protocol::ReceivedEvent>(&*ev); rx && rx->mesh) continue;
      if (auto out = convert(r.peer, *ev)) return out;
      continue;
    }
    if (!r.tx_done) break;  // still has a CLOSE to send
    m.retired.pop_front();
  }
  return std::nullopt;
}

Result<MessageId> Mesh::send(NodeId peer, Bytes message, const SendOptions& options, TimeNs now, MessageId id) {
  Impl& m = *impl_;
  m.last_now = now;
  auto it = m.index.find(peer);
  if (it == m.index.end()) return Error{Errc::UnknownPeer, "no such member"};
  Peer& p = m.peers[it->second];
  if (!p.conn || !is_live(m.members[it->second].state)) return Error{Errc::NotConnected, "member is not connected"};
  if (id & kMeshMessageIdBit) return Error{Errc::InvalidArgument, "message ids with the top bit set are the mesh's own"};
  if (id == 0) id = m.next_message_id++;
  auto r = p.conn->send(message, options, now, id);
  m.connection_touched(peer);
  m.recompute_deadline();
  return r;
}

Result<MessageId> Mesh::broadcast(Bytes message, const SendOptions& options, TimeNs now) {
  Impl& m = *impl_;
  m.last_now = now;
  const MessageId id = m.next_message_id++;
  for (std::size_t i = 0; i < m.members.size(); ++i) {
    Peer& p = m.peers[i];
    if (!p.conn || !is_live(m.members[i].state)) continue;
    auto r = p.conn->send(message, options, now, id);
    if (!r) {
      if (r.error().code == Errc::MessageTooLarge) return r;
      m.events.push_back(MessageFailed{m.members[i].id, id, options.lane,
                                       r.error().code == Errc::QueueFull ? FailReason::ResourceLimit : FailReason::Closed});
    }
    m.connection_touched(m.members[i].id);
  }
  m.recompute_deadline();
  return id;
}

void Mesh::leave(TimeNs now) {
  Impl& m = *impl_;
  m.last_now = now;
  if (m.leaving) return;
  m.leaving = true;
  m.push_to_all(m.self.id, Entry::State, false);
  m.enqueue_gossip(m.self.id, Entry::State);
  for (std::size_t i = 0; i < m.members.size(); ++i)
    if (m.peers[i].conn) {
      m.peers[i].conn->close(protocol::CloseReason::Normal, now);
      m.connection_touched(m.members[i].id);
    }
  m.dials.clear();
  m.recompute_deadline();
}

void Mesh::set_displays(std::vector<Display> displays, TimeNs now) {
  Impl& m = *impl_;
  m.last_now = now;
  if (displays.size() > kMaxDisplays) displays.resize(kMaxDisplays);
  for (auto& d : displays) {
    if (d.id.size() > kMaxDisplayIdBytes) d.id.resize(kMaxDisplayIdBytes);
    if (d.metadata.size() > kMaxDisplayMetaBytes) d.metadata.resize(kMaxDisplayMetaBytes);
  }
  m.self.displays = std::move(displays);
  m.display_version = std::max(m.display_version + 1, now / kNsPerMs);
  m.enqueue_gossip(m.self.id, Entry::Displays);
  m.push_to_all(m.self.id, Entry::Displays, false);
  m.recompute_deadline();
}

void Mesh::apply_runtime_config(const Config& config) {
  Impl& m = *impl_;
  const bool was_eligible = m.config.coordinator_eligible;
  m.apply_config(config);
  if (was_eligible != config.coordinator_eligible && m.self.coordinator_eligible && !m.leaving) {
    // Peers learn eligibility from our own record: tell them now.
    m.enqueue_gossip(m.self.id, Entry::State);
    m.push_to_all(m.self.id, Entry::State, false);
    m.elect(m.last_now);
  }
  m.recompute_deadline();
}

NodeId Mesh::self_id() const { return impl_->self.id; }
std::span<const Member> Mesh::members() const { return impl_->members; }

std::optional<NodeId> Mesh::coordinator() const {
  const auto& c = impl_->election.current();
  if (!c) return std::nullopt;
  if (c->node == impl_->self.id) return impl_->leaving ? std::nullopt : std::optional<NodeId>(c->node);
  auto it = impl_->index.find(c->node);
  if (it == impl_->index.end() || !is_live(impl_->members[it->second].state)) return std::nullopt;
  return c->node;
}

std::uint64_t Mesh::term() const { return impl_->election.term(); }

const ConnectionStats* Mesh::peer_stats(NodeId peer) const {
  auto it = impl_->index.find(peer);
  if (it == impl_->index.end() || !impl_->peers[it->second].conn) return nullptr;
  return &impl_->peers[it->second].conn->stats();
}

const MeshCounters& Mesh::counters() const { return impl_->counters; }
std::uint64_t Mesh::incarnation() const { return impl_->incarnation; }

}  // namespace hana::topology
