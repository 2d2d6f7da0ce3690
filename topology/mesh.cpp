// topology::Mesh: the poll API and the router. Every datagram is decoded here once and
// handed to the component it is for (by connection id, then by frame type); on_timeout
// drives each component's timers; poll_transmit and poll_event drain the mesh's own
// datagrams (outbox.cpp), then the connections', and the components' events. Which
// component lives in which file: mesh_impl.h.
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

Mesh::Mesh(const Config& config, Identity self, std::uint64_t seed, TimeNs now, Sealing sealing)
    : impl_(std::make_unique<Impl>(config, std::move(self), seed, now, std::move(sealing))) {}
Mesh::~Mesh() = default;

Result<void> Mesh::add_seed(const Address& peer, TimeNs now) {
  if (peer.port == 0) return Error{Errc::InvalidArgument, "seed address needs a port"};
  if (peer == impl_->self.listen) return Error{Errc::InvalidArgument, "seed address is this node's own address"};
  auto& seeds = impl_->dialer.seeds;
  if (std::find(seeds.begin(), seeds.end(), peer) == seeds.end()) seeds.push_back(peer);
  impl_->last_now = now;
  if (!impl_->dial_to(peer)) impl_->start_dial(peer, 0, now);
  impl_->deadline_changed();
  return {};
}

void Mesh::set_beacon_target(std::optional<Address> target) {
  impl_->dialer.beacon_target = target;
  // First beacon soon, at a random phase so a cold-starting fleet does not fire at once.
  impl_->dialer.next_beacon_at =
      target ? impl_->last_now + impl_->rng.below(impl_->config.beacon_interval_ms * kNsPerMs / 10 + 1) : kNever;
  impl_->deadline_changed();
}

// Authentication seam (receive side): a keyed mesh opens every datagram here, before
// anything is routed, so nothing unauthenticated reaches a component or creates state.
DatagramVerdict Mesh::on_datagram(const Address& from, Bytes datagram, TimeNs now, TimeNs received_at, Path path) {
  Impl& m = *impl_;
  m.last_now = now;
  m.rx_at = received_at != 0 && received_at <= now ? received_at : now;
  m.rx_path = path;
  ++m.counters.datagrams_in;
  m.counters.bytes_in += datagram.size();
  protocol::DecodeResult decoded;
  std::uint64_t seal_counter = 0;  // the sender's counter in the seal (keyed mesh)
  if (m.auth) {
    switch (m.auth->open(from, datagram, now, decoded.datagram.emplace(), &seal_counter)) {
      case OpenOutcome::Opened: break;
      case OpenOutcome::AuthFailed: ++m.counters.auth_failures; return DatagramVerdict::Unauthenticated;
      case OpenOutcome::Replayed: ++m.counters.replays_dropped; return DatagramVerdict::Accepted;
    }
  } else {
    decoded = protocol::decode_datagram(datagram);
  }
  if (!decoded.datagram) {
    ++m.counters.bad_datagrams;
    ++m.counters.bad_datagrams_by_error[static_cast<std::size_t>(decoded.error)];
    return decoded.error == protocol::DecodeError::BadChecksum ? DatagramVerdict::BadChecksum : DatagramVerdict::Malformed;
  }
  const auto& view = *decoded.datagram;
  const std::uint32_t cid = view.header.connection_id;
  if (cid != protocol::kConnectionlessId) {
    auto it = m.conns.by_cid.find(cid);
    if (it != m.conns.by_cid.end()) {
      // Connection ids are no secret (every member of the mesh can learn one): a
      // connection takes datagrams from its member's address only. A member that moved
      // (new address or port) comes back through a handshake from there (admit).
      const auto i = m.index.find(it->second);
      Peer* p = i == m.index.end() ? nullptr : &m.peers[i->second];
      if (p && p->session.conn && m.members[i->second].address != from) {
        ++m.counters.wrong_source;
      } else if (p && p->session.conn) {
        // With a key, an authentic datagram whose packet number the connection has seen is
        // a replay unless its seal is newer than every seal this peer sent before (the
        // sender's own high_redundancy copy, sealed afresh): a replay is counted and says
        // nothing about the peer now, so it cannot keep a dead peer looking alive.
        const auto arrival = p->session.conn->on_datagram(view, now, path == Path::Stream);
        bool replayed = false;
        if (m.auth) {
          const bool fresh_seal = seal_counter > p->session.newest_seal;
          if (fresh_seal) p->session.newest_seal = seal_counter;
          replayed = !fresh_seal && arrival == protocol::Connection::Arrival::Duplicate;
        }
        if (replayed) {
          ++m.counters.replays_dropped;
        } else {
          p->health.last_heard = now;
          if (path == Path::Udp) m.heard_over_udp(i->second, from, now);
        }
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
      if (!refusal) {
        ++m.counters.unknown_connection;
        if (const auto i = m.member_at(from)) m.on_stray_datagram(*i, now);
      }
    }
  } else {
    protocol::FrameReader reader(view.frames);
    protocol::Frame f;
    while (reader.next(f)) {
      if (auto* h = std::get_if<protocol::HandshakeFrame>(&f)) m.on_handshake(from, *h, now);
      else if (auto* b = std::get_if<protocol::BeaconFrame>(&f)) m.on_beacon(from, b->body, now);
      else if (auto* g = std::get_if<protocol::GossipFrame>(&f)) m.on_gossip(from, g->body, now);
    }
    if (const auto e = reader.error()) {
      ++m.counters.bad_datagrams;
      ++m.counters.bad_datagrams_by_error[static_cast<std::size_t>(*e)];
    }
  }
  m.deadline_changed();
  return DatagramVerdict::Accepted;
}

void Mesh::on_timeout(TimeNs now) {
  Impl& m = *impl_;
  m.last_now = now;
  // 0 is "due now" (a closing connection's CLOSE), not a time that could be late.
  if (const TimeNs due = m.current_deadline(); due != kNever && due != 0)
    m.link_table.host.timer_ran(due, now, m.config.link_late_host_ms * kNsPerMs);
  if (!m.leaving) {
    m.probe_tick(now);
    m.beacon_tick(now);
    m.dial_tick(now);
  }
  m.check_suspicions(now);
  m.clock_tick(now);
  if (now >= m.next_maintenance_at) {
    if (!m.leaving) m.maintenance(now);
    else m.reap(now);
    // On the probe's next tick when that comes first: one wake-up of the host instead of
    // two out of phase (an idle node wakes mostly for these two timers).
    const TimeNs next = now + std::min<TimeNs>(m.probe_interval_ns(), 100 * kNsPerMs);
    m.next_maintenance_at = !m.leaving && m.fd.next_probe_at > now && m.fd.next_probe_at < next ? m.fd.next_probe_at : next;
  }
  for (std::size_t i = 0; i < m.peers.size(); ++i) {
    if (m.peers[i].path.next_at <= now) m.path_tick(static_cast<std::uint32_t>(i), now);
    Session& s = m.peers[i].session;
    if (s.conn && s.conn_deadline <= now) {
      s.conn->on_timeout(now);
      m.connection_touched(m.members[i].id);
    }
  }
  for (auto& r : m.conns.retired)
    if (auto t = r.conn->next_timeout(); t && *t <= now) {
      r.conn->on_timeout(now);
      r.tx_done = false;
    }
  m.deadline_changed();
}

bool Mesh::flush_acks(TimeNs until) {
  Impl& m = *impl_;
  bool any = false;
  for (std::size_t i = 0; i < m.peers.size(); ++i) {
    Session& s = m.peers[i].session;
    if (s.conn && s.conn->flush_acks(until)) {
      m.connection_touched(m.members[i].id);
      any = true;
    }
  }
  if (any) m.deadline_changed();
  return any;
}

std::optional<TimeNs> Mesh::next_timeout() const {
  const TimeNs due = impl_->current_deadline();
  if (due == kNever) return std::nullopt;
  return due;
}

bool Mesh::transmit_pending() const {
  const Impl& m = *impl_;
  if (!m.out.empty() || !m.conns.transmit_dirty.empty()) return true;
  for (const auto& r : m.conns.retired)
    if (!r.tx_done) return true;
  return false;
}

// Authentication seam (send side): every datagram of the mesh and of its connections
// leaves through here, and a keyed mesh seals it (its writers left kSealOverhead bytes).
std::optional<Transmit> Mesh::poll_transmit(MutableBytes buffer, TimeNs now, protocol::Gathered* gathered) {
  Impl& m = *impl_;
  if (gathered) *gathered = protocol::Gathered{};
  if (!m.auth) return m.poll_plain(buffer, now, gathered);  // sealing needs the whole datagram: no gathering
  while (auto t = m.poll_plain(buffer, now)) {
    if (const std::size_t n = m.auth->seal(buffer, t->size, t->to, now)) {
      m.counters.bytes_out += n - t->size;
      return Transmit{t->to, n, t->alone, t->stream};
    }
    ++m.counters.out_queue_drops;  // cannot happen while the writers keep to datagram_budget()
  }
  return std::nullopt;
}

void Mesh::release_pin(std::uint32_t pin) { impl_->payloads.release(pin); }

std::optional<Transmit> Mesh::Impl::poll_plain(MutableBytes buffer, TimeNs now, protocol::Gathered* gathered) {
  Impl& m = *this;
  m.last_now = now;
  // The transport seam: each datagram goes on its destination's path (stream_for,
  // transport_path.cpp); beacons to a group or broadcast address stay UDP.
  auto sent = [&](const Address& to, std::size_t n, bool stream, bool alone = false) {
    ++m.counters.datagrams_out;
    m.counters.bytes_out += n;
    return Transmit{to, n, alone, stream};
  };
  while (!m.out.empty()) {
    OutItem item = std::move(m.out.front());
    m.out.pop_front();
    if (const std::size_t n = m.encode_out(item, buffer)) {
      m.deadline_changed();
      return sent(item.to, n, m.stream_for(item));
    }
  }
  while (!m.conns.transmit_dirty.empty()) {
    const NodeId id = m.conns.transmit_dirty.back();
    auto it = m.index.find(id);
    if (it == m.index.end() || !m.peers[it->second].session.conn) {
      m.conns.transmit_dirty.pop_back();
      if (it != m.index.end()) m.peers[it->second].session.tx_dirty = false;
      continue;
    }
    Session& s = m.peers[it->second].session;
    std::size_t n = s.conn->poll_transmit(buffer, now, gathered);
    if (!s.dl_dirty) {
      s.dl_dirty = true;
      m.conns.deadline_dirty.push_back(id);
    }
    if (!s.ev_dirty) {
      s.ev_dirty = true;
      m.conns.event_dirty.push_back(id);
    }
    if (n) {
      const Member& member = m.members[it->second];
      const bool stream = m.stream_for(member);
      if (gathered && !gathered->empty()) {
        if (stream) {  // a stream is framed by copy anyway (the connection's path may lag the mesh's)
          n = protocol::flatten(buffer, n, *gathered);
          m.payloads.release(gathered->pin);
          *gathered = protocol::Gathered{};
        } else {
          m.counters.bytes_out += gathered->external.size();
          m.counters.connection_bytes_out += gathered->external.size();
        }
      }
      ++m.counters.connection_out;
      m.counters.connection_bytes_out += n;
      m.deadline_changed();
      if (s.conn->transmit_drained()) {  // no call that would only find nothing
        s.tx_dirty = false;
        m.conns.transmit_dirty.pop_back();
      }
      return sent(member.address, n, stream, s.conn->transmitted_alone());
    }
    s.tx_dirty = false;
    m.conns.transmit_dirty.pop_back();
  }
  bool polled = false;
  for (auto& r : m.conns.retired) {
    if (r.tx_done) continue;
    polled = true;
    if (const std::size_t n = r.conn->poll_transmit(buffer, now)) {
      ++m.counters.connection_out;
      m.counters.connection_bytes_out += n;
      return sent(r.to, n, r.over_stream);
    }
    r.tx_done = true;
  }
  // Nothing to send is the common case (the simulator asks every node every step):
  // only pay for a deadline recomputation if a connection was actually asked.
  if (polled || !m.conns.deadline_dirty.empty()) m.deadline_changed();
  return std::nullopt;
}

std::optional<MeshEvent> Mesh::poll_event() {
  Impl& m = *impl_;
  m.lent_from = nullptr;
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
  while (!m.conns.event_dirty.empty()) {
    const NodeId id = m.conns.event_dirty.back();
    auto it = m.index.find(id);
    if (it == m.index.end() || !m.peers[it->second].session.conn) {
      m.conns.event_dirty.pop_back();
      if (it != m.index.end()) m.peers[it->second].session.ev_dirty = false;
      continue;
    }
    Session& s = m.peers[it->second].session;
    auto ev = s.conn->poll_event();
    if (!ev) {
      s.ev_dirty = false;
      m.conns.event_dirty.pop_back();
      continue;
    }
    if (auto* closed = std::get_if<protocol::ClosedEvent>(&*ev)) {
      (void)closed;
      // The connection ended (peer closed, idle, protocol error): keep its remaining
      // events, and let maintenance redial with backoff.
      m.drop_connection(it->second, std::nullopt, m.last_now);
      m.deadline_changed();
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
    if (auto out = convert(id, *ev)) {
      if (std::holds_alternative<MessageReceived>(*out)) m.lent_from = s.conn.get();
      return out;
    }
  }
  while (!m.conns.retired.empty()) {
    auto& r = m.conns.retired.front();
    if (auto ev = r.conn->poll_event()) {
      if (is_mesh_outcome(*ev)) continue;
      if (auto* rx = std::get_if<protocol::ReceivedEvent>(&*ev); rx && rx->mesh) continue;
      if (auto out = convert(r.peer, *ev)) {
        if (std::holds_alternative<MessageReceived>(*out)) m.lent_from = r.conn.get();
        return out;
      }
      continue;
    }
    if (!r.tx_done) break;  // still has a CLOSE to send
    m.conns.retired.pop_front();
  }
  return std::nullopt;
}

std::uint8_t* Mesh::take_received_payload(std::uint8_t* replacement) {
  Impl& m = *impl_;
  protocol::Connection* c = m.lent_from;
  m.lent_from = nullptr;
  return c != nullptr ? c->take_received_payload(replacement) : nullptr;
}

Result<MessageId> Mesh::send(NodeId peer, Bytes message, const SendOptions& options, TimeNs now, MessageId id) {
  Impl& m = *impl_;
  m.last_now = now;
  auto it = m.index.find(peer);
  if (it == m.index.end()) return Error{Errc::UnknownPeer, "no such member"};
  Session& s = m.peers[it->second].session;
  if (!s.conn || !is_live(m.members[it->second].state)) return Error{Errc::NotConnected, "member is not connected"};
  if (id & kMeshMessageIdBit) return Error{Errc::InvalidArgument, "message ids with the top bit set are the mesh's own"};
  if (id == 0) id = m.next_message_id++;
  auto r = s.conn->send(message, options, now, id);
  m.connection_touched(peer);
  m.deadline_changed();
  return r;
}

Result<Broadcast> Mesh::broadcast(Bytes message, const SendOptions& options, TimeNs now, MessageId id) {
  Impl& m = *impl_;
  m.last_now = now;
  if (id & kMeshMessageIdBit) return Error{Errc::InvalidArgument, "message ids with the top bit set are the mesh's own"};
  Broadcast b;
  b.id = id != 0 ? id : m.next_message_id++;
  // One copy for every member: each connection it is queued on holds a reference, and the
  // last one to be done with it (delivered, failed, closed) frees it.
  const std::uint32_t payload = m.payloads.acquire(message);
  for (std::size_t i = 0; i < m.members.size(); ++i) {
    if (!m.members[i].connected) continue;
    Session& s = m.peers[i].session;
    // As send(): a connection to a member we do not hold live (a healing partition) is
    // not sent on.
    auto r = is_live(m.members[i].state) ? s.conn->send_shared(payload, options, now, b.id)
                                         : Result<MessageId>(Error{Errc::NotConnected, "member is not connected"});
    if (r) {
      ++b.queued;
    } else {
      ++b.rejected;
      m.events.push_back(MessageFailed{m.members[i].id, b.id, options.lane, fail_reason_of(r.error().code)});
    }
    m.connection_touched(m.members[i].id);
  }
  m.payloads.release(payload);
  m.deadline_changed();
  return b;
}

void Mesh::leave(TimeNs now) {
  Impl& m = *impl_;
  m.last_now = now;
  if (m.leaving) return;
  m.leaving = true;
  m.push_to_all(m.self.id, Entry::State, false);
  m.enqueue_gossip(m.self.id, Entry::State);
  for (std::size_t i = 0; i < m.members.size(); ++i)
    if (m.peers[i].session.conn) {
      m.peers[i].session.conn->close(protocol::CloseReason::Normal, now);
      m.connection_touched(m.members[i].id);
    }
  m.dialer.dials.clear();
  m.deadline_changed();
}

void Mesh::set_displays(std::vector<Display> displays, TimeNs now) {
  Impl& m = *impl_;
  m.last_now = now;
  m.set_own_displays(std::move(displays), now);
  m.deadline_changed();
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
  m.deadline_changed();
}

NodeId Mesh::self_id() const { return impl_->self.id; }
std::span<const Member> Mesh::members() const { return impl_->members; }

std::optional<NodeId> Mesh::coordinator() const {
  const auto& c = impl_->election.claims.current();
  if (!c) return std::nullopt;
  if (c->node == impl_->self.id) return impl_->leaving ? std::nullopt : std::optional<NodeId>(c->node);
  auto it = impl_->index.find(c->node);
  if (it == impl_->index.end() || !is_live(impl_->members[it->second].state)) return std::nullopt;
  return c->node;
}

std::uint64_t Mesh::term() const { return impl_->election.claims.term(); }

const ConnectionStats* Mesh::peer_stats(NodeId peer) const {
  auto it = impl_->index.find(peer);
  if (it == impl_->index.end() || !impl_->peers[it->second].session.conn) return nullptr;
  return &impl_->peers[it->second].session.conn->stats();
}

const MeshCounters& Mesh::counters() const {
  impl_->counters.reassembly_refused = impl_->reassembly_budget.refused;  // kept by the connections
  return impl_->counters;
}
std::uint64_t Mesh::incarnation() const { return impl_->incarnation; }
const protocol::SharedPayloads& Mesh::payloads() const { return impl_->payloads; }

}  // namespace hana::topology
