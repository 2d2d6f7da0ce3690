// The TCP path (issue 17, docs/connection.md): which path each member is sent on, and the
// way back to UDP.
//
// A pair gets onto a member's TCP stream through its handshake: a dial whose UDP
// handshake goes unanswered for tcp_fallback_ms also sends it over the stream
// (dialer.cpp), replies go back on the path their request came on, and a handshake
// completed over the stream puts the pair there. Each side decides for itself what it
// sends on; the receive side takes either path, so the two need not agree at every
// instant, only each must use a path that works. On the stream, a member is sent a small
// UDP path probe (a direct PING over UDP, answered over UDP) at doubling intervals;
// an answer that comes back over UDP proves the round trip and moves the member back to
// UDP. The connection keeps its packet numbers, acks and dedup across a move: what is
// still in the stream arrives, and loss detection (on again) repairs anything it lost.
#include "topology/mesh_impl.h"

namespace hana::topology {

void Mesh::Impl::set_path(std::uint32_t i, bool over_stream, TimeNs now) {
  if (config.transport == 2) over_stream = true;
  if (config.transport == 1) over_stream = false;
  Member& m = members[i];
  Peer& p = peers[i];
  m.over_stream = over_stream;
  if (p.session.conn && p.session.conn->stream_path() != over_stream) p.session.conn->set_stream_path(over_stream);
  p.path.seq = 0;
  p.path.next_at = kNever;
  if (over_stream && auto_path() && p.session.conn) {
    p.path.backoff.set_limits(config.udp_probe_min_ms * kNsPerMs, config.udp_probe_max_ms * kNsPerMs);
    p.path.backoff.reset();
    p.path.next_at = now + p.path.backoff.next(rng);
  }
  connection_touched(m.id);
}

std::optional<std::uint32_t> Mesh::Impl::member_at(const Address& a) const {
  for (std::uint32_t i = 0; i < members.size(); ++i)
    if (members[i].address == a) return i;
  return std::nullopt;
}

bool Mesh::Impl::stream_for(const Member& m) const {
  if (config.transport != 0) return config.transport == 2;
  return m.over_stream;
}

bool Mesh::Impl::stream_for(const OutItem& item) const {
  if (item.to.is_multicast()) return false;  // beacons to a group or broadcast address
  if (config.transport != 0) return config.transport == 2;
  switch (item.via) {
    case Via::Udp: return false;
    case Via::Stream: return true;
    case Via::Member: break;
  }
  const auto i = member_at(item.to);
  return i && members[*i].over_stream;
}

void Mesh::Impl::path_tick(std::uint32_t i, TimeNs now) {
  Peer& p = peers[i];
  if (!members[i].over_stream || !p.session.conn || !auto_path() || leaving) {
    p.path.next_at = kNever;
    return;
  }
  GossipHeader ping;
  ping.kind = GossipKind::Ping;
  ping.seq = fd.next_seq;  // from the probes' numbers: never the one the failure detector waits for
  fd.next_seq = fd.next_seq % kMaxProbeSeq + 1;
  OutItem item;
  item.type = OutType::Gossip;
  item.to = members[i].address;
  item.via = Via::Udp;
  item.gossip = ping;
  item.gossip.sender = self.id;
  item.piggyback = false;  // small: it is likely dropped
  push_out(item);
  ++counters.udp_path_probes;
  p.path.seq = ping.seq;
  p.path.sent_at = now;
  p.path.next_at = now + p.path.backoff.next(rng);
}

// A direct ACK that came in over UDP from member i: the answer to its UDP path probe, if
// it names the probe and comes from the member's address (a keyed mesh also proved it
// authentic). PINGs to a member on the stream go over the stream, and their ACKs come
// back there: only a path probe is answered over UDP.
void Mesh::Impl::on_path_ack(std::uint32_t i, std::uint64_t seq, const Address& from, TimeNs now) {
  Peer& p = peers[i];
  if (!members[i].over_stream || !auto_path() || p.path.seq == 0 || p.path.seq != seq || members[i].address != from)
    return;
  ++counters.moved_to_udp;
  udp_doubted = false;
  set_path(i, false, now);
}

// The member sends to us over UDP while we send to it over the stream: it has probably
// moved back itself (or is probing); our own probe goes now, not at its backoff.
void Mesh::Impl::heard_over_udp(std::uint32_t i, const Address& from, TimeNs now) {
  Peer& p = peers[i];
  if (members[i].address == from) p.path.udp_heard_at = now;
  if (!members[i].over_stream || !auto_path() || !p.session.conn || members[i].address != from) return;
  const TimeNs at = std::max(now, p.path.sent_at + kPathProbeGapNs);
  if (at < p.path.next_at) p.path.next_at = at;
}

void Mesh::Impl::heard_udp_from(const Address& from, TimeNs now) {
  if (rx_path != Path::Udp || !auto_path()) return;
  if (const auto i = member_at(from)) peers[*i].path.udp_heard_at = now;
}

bool Mesh::Impl::udp_heard_since(std::uint32_t i, TimeNs since) const {
  const TimeNs at = peers[i].path.udp_heard_at;
  return at != 0 && at >= since;
}

bool Mesh::Impl::any_member_over_udp() const {
  for (std::uint32_t i = 0; i < members.size(); ++i)
    if (peers[i].session.conn && !members[i].over_stream) return true;
  return false;
}

// Evidence, not only time: tcp_fallback_ms on the dial's own clock, kFallbackAttempts
// Hellos sent, no answer over UDP, and nothing at all from the peer over UDP since the
// dial started (its own Hello, a probe, a beacon). A peer that is merely slow, or a node
// that is itself late, keeps dialing over UDP.
bool Mesh::Impl::should_fall_back(const Dial& d, TimeNs now) const {
  if (!auto_path() || d.via_stream || d.refused || d.udp_answered) return false;
  if (now < d.started_at + config.tcp_fallback_ms * kNsPerMs || d.attempts < kFallbackAttempts) return false;
  if (const auto i = index.find(d.node); i != index.end() && udp_heard_since(i->second, d.started_at)) return false;
  if (const auto i = member_at(d.to); i && udp_heard_since(*i, d.started_at)) return false;
  return true;
}

void Mesh::on_stream_closed(const Address& peer, TimeNs now) {
  Impl& m = *impl_;
  m.last_now = now;
  const auto i = m.member_at(peer);
  if (!i || !m.stream_for(m.members[*i]) || !is_live(m.members[*i].state) || m.leaving) return;
  ++m.counters.stream_close_hints;
  // What the stream held is gone: it goes again over the next one (dialed on the send).
  if (auto& conn = m.peers[*i].session.conn) {
    conn->on_stream_broken();
    m.connection_touched(m.members[*i].id);
  }
  m.fd.hint = m.members[*i].id;
  if (!m.fd.probe.active || m.fd.probe.acked) m.fd.next_probe_at = std::min(m.fd.next_probe_at, now);
  m.deadline_changed();
}

}  // namespace hana::topology
