// The connection to each member: installed when a handshake completes, retired (kept
// until its events and CLOSE are drained) when it ends or its member is declared Dead,
// and the dirty lists that tell the router which connections to poll.
#include "topology/mesh_impl.h"

namespace hana::topology {

void Mesh::Impl::connection_touched(NodeId id) {
  Peer* p = peer_of(id);
  if (!p) return;
  Session& s = p->session;
  if (!s.tx_dirty) {
    s.tx_dirty = true;
    conns.transmit_dirty.push_back(id);
  }
  if (!s.ev_dirty) {
    s.ev_dirty = true;
    conns.event_dirty.push_back(id);
  }
  if (!s.dl_dirty) {
    s.dl_dirty = true;
    conns.deadline_dirty.push_back(id);
  }
}

void Mesh::Impl::maybe_peer_up(std::uint32_t i) {
  Session& s = peers[i].session;
  if (s.up_reported || !s.conn || members[i].state != MemberState::Alive) return;
  s.up_reported = true;
  events.push_back(PeerUp{members[i].id, members[i].address});
}

void Mesh::Impl::install_connection(std::uint32_t i, std::uint32_t local_cid, std::uint32_t remote_cid, Path path,
                                    TimeNs now) {
  Peer& p = peers[i];
  Session& s = p.session;
  if (s.conn) drop_connection(i, FailReason::Closed, now);  // replaced by a newer handshake
  s.conn = std::make_unique<protocol::Connection>(conn_config, protocol::ConnectionIds{local_cid, remote_cid}, now);
  s.conn->set_reassembly_budget(&reassembly_budget);
  // What the path adds below each datagram: IP and UDP headers, and the seal.
  s.conn->set_path_overhead((members[i].address.family == 6 ? 48 : 28) + (auth ? protocol::kSealOverhead : 0));
  s.conn->use_shared_payloads(&payloads);
  s.local_cid = local_cid;
  s.remote_cid = remote_cid;
  s.stray_since = 0;
  conns.by_cid[local_cid] = members[i].id;
  members[i].connected = true;
  p.redial.reconnect.reset();
  p.health.last_heard = now;
  set_path(i, path == Path::Stream, now);
  if (auto_path()) udp_doubted = path == Path::Stream && !any_member_over_udp();
  // What it reported over its previous connection may belong to a previous life; it
  // sends its whole table again on this one, as we do.
  p.links.reported.clear();
  send_link_table(i, now);
  connection_touched(members[i].id);
  maybe_peer_up(i);
}

void Mesh::Impl::drop_connection(std::uint32_t i, std::optional<FailReason> abort_reason, TimeNs now) {
  Peer& p = peers[i];
  Session& s = p.session;
  if (!s.conn) return;
  if (abort_reason) s.conn->abort(*abort_reason, now);
  conns.by_cid.erase(s.local_cid);
  conns.retired.push_back(
      RetiredConnection{members[i].id, members[i].address, std::move(s.conn), false, stream_for(members[i])});
  s.conn.reset();
  s.local_cid = s.remote_cid = 0;
  s.conn_deadline = kNever;
  s.up_reported = false;
  members[i].connected = false;
  p.path.next_at = kNever;  // no UDP path probes without a connection (the path itself is kept for the redial)
  p.path.seq = 0;
  p.redial.next_dial_at = now + p.redial.reconnect.next(rng);
}

// Seen in a 24-node simulated cold start on a starved host (TcpPathSim.
// StarvedColdStartStaysOnUdp): pairs whose two sides held connections from two different
// handshakes, each sending to an id the other did not know, for good, while SWIM (which
// needs no connection) kept both Alive: nothing sent between them arrived.
void Mesh::Impl::on_stray_datagram(std::uint32_t i, TimeNs now) {
  Session& s = peers[i].session;
  if (!s.conn || leaving || members[i].state == MemberState::Left) return;
  // Not reset by a quiet gap: the mesh's connections send no keepalives (SWIM is the
  // liveness), so an idle crossed pair strays only now and then (a link report, the
  // application's data), and a second stray a minute after the first still means it.
  if (s.stray_since == 0) {
    s.stray_since = now;
    return;
  }
  if (now < s.stray_since + kStrayGraceNs) return;
  ++counters.mismatched_connections;
  drop_connection(i, FailReason::Closed, now);
  redial_now(i, now);
}

}  // namespace hana::topology
