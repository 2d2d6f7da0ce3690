// Mesh-wide link quality. Each node measures its links (link_table.cpp, with hysteresis)
// and reports every change to every connected member as a mesh-internal message
// (kDataMesh) on the CONTROL lane: reliable, latest-value keyed by the observed peer's
// id with one increasing version per observer, so an unsent older report of the same
// link is replaced in the queue and a late one is dropped by the receiver. A new
// connection gets the whole table of this node's own measurements. Every member is
// connected to every other, so each one hears every observer first-hand; nothing is
// relayed. Receivers keep, per observer, its latest report about each peer.
#include <algorithm>
#include <array>
#include <cmath>

#include "topology/mesh_impl.h"

namespace hana::topology {

namespace {
SendOptions report_options(NodeId about, std::uint64_t version) {
  SendOptions o;
  o.lane = Lane::Control;
  o.delivery = Delivery::ReliableUnordered;  // versions order them; no head-of-line wait
  o.latest_value = true;
  o.key = about;
  o.version = version;
  return o;
}

std::uint32_t loss_ppm(double rate) {
  const double r = std::clamp(rate, 0.0, 1.0);
  return static_cast<std::uint32_t>(std::lround(r * kLossPpmMax));
}
}  // namespace

bool Mesh::Impl::send_link_report(std::uint32_t to, std::uint32_t about, TimeNs now) {
  Peer& p = peers[to];
  const LinkRecord& a = peers[about].links;
  // Any member with a connection: one made while we still hold it Dead (a healing
  // partition; it refutes a moment later) gets the table now, or never.
  if (!p.session.conn || a.link_version == 0) return false;
  const LinkQuality& q = members[about].link;
  LinkReportBody body;
  body.peer = members[about].id;
  body.rtt_us = q.rtt_us;
  body.jitter_us = q.jitter_us;
  body.loss_ppm = loss_ppm(q.loss_rate);
  body.throughput_bytes_per_sec = q.throughput_bytes_per_sec;
  std::array<std::uint8_t, kMaxLinkReportBytes> buf{};
  BodyWriter w(MutableBytes(buf.data(), buf.size()));
  encode_link_report(w, body);
  if (!w.ok()) return false;
  auto r = p.session.conn->send(w.written(), report_options(body.peer, a.link_version), now, link_table.next_message_id++, true);
  if (!r) {
    p.links.resend_links = true;  // lane queue full: try the whole table again later
    return false;
  }
  ++counters.link_reports_out;
  connection_touched(members[to].id);
  return true;
}

void Mesh::Impl::report_link(std::uint32_t i, TimeNs now) {
  if (leaving) return;
  peers[i].links.link_version = ++link_table.report_version;
  peers[i].links.link_changed_at = now;
  for (std::uint32_t to = 0; to < members.size(); ++to) send_link_report(to, i, now);
}

void Mesh::Impl::send_link_table(std::uint32_t to, TimeNs now) {
  peers[to].links.resend_links = false;
  if (leaving) return;
  for (std::uint32_t about = 0; about < members.size(); ++about)
    if (is_live(members[about].state)) send_link_report(to, about, now);
}

void Mesh::Impl::on_mesh_message(std::uint32_t from, const protocol::ReceivedEvent& r, TimeNs now) {
  LinkReportBody body;
  const NodeId observer = members[from].id;
  if (!decode_link_report(r.payload, body) || !r.latest_value || r.key != body.peer || body.peer == observer) {
    ++counters.bad_mesh_messages;
    return;
  }
  LinkQuality q;
  q.rtt_us = body.rtt_us;
  q.jitter_us = body.jitter_us;
  q.loss_rate = static_cast<double>(body.loss_ppm) / kLossPpmMax;
  q.throughput_bytes_per_sec = body.throughput_bytes_per_sec;
  auto& list = peers[from].links.reported;
  auto it = std::find_if(list.begin(), list.end(), [&](const RemoteLink& l) { return l.peer == body.peer; });
  if (it == list.end()) {
    // An observer has at most max_peers peers: more entries is a misbehaving sender.
    if (list.size() >= config.max_peers) {
      ++counters.bad_mesh_messages;
      return;
    }
    list.push_back(RemoteLink{body.peer, q, now});
  } else {
    it->quality = q;
    it->at = now;
  }
  ++counters.link_reports_in;
  events.push_back(LinkQualityChanged{body.peer, q, observer});
}

void Mesh::Impl::on_mesh_outcome(std::uint32_t i, const protocol::ConnectionEvent& e) {
  // Superseded: replaced by a newer report (fine). Closed/PeerDead: the connection is
  // gone and the next one gets the whole table. Anything else (retry budget, deadline)
  // lost a report on a live connection: send the table again.
  if (const auto* f = std::get_if<protocol::FailedEvent>(&e))
    if (f->reason != FailReason::Superseded && f->reason != FailReason::Closed && f->reason != FailReason::PeerDead)
      peers[i].links.resend_links = true;
}

std::vector<LinkEntry> Mesh::links() const {
  const Impl& m = *impl_;
  std::vector<LinkEntry> out;
  for (std::size_t i = 0; i < m.members.size(); ++i) {
    if (!is_live(m.members[i].state)) continue;
    const Peer& p = m.peers[i];
    if (p.links.link_version != 0) out.push_back(LinkEntry{m.self.id, m.members[i].id, m.members[i].link, p.links.link_changed_at});
    for (const RemoteLink& l : p.links.reported) {
      // About a member this node holds Dead or Left: hidden until it is back.
      if (auto it = m.index.find(l.peer); it != m.index.end() && !is_live(m.members[it->second].state)) continue;
      out.push_back(LinkEntry{m.members[i].id, l.peer, l.quality, l.at});
    }
  }
  return out;
}

}  // namespace hana::topology
