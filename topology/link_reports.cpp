// Mesh-wide link quality. Each node measures its links (link_table.cpp, with a change
// test against each link's own noise) and sends the links that changed to every connected
// member as mesh-internal messages (kDataMesh) on the CONTROL lane: one LINK_DIGEST per
// member per flush carrying every changed link, reliable and unordered. Each entry carries
// the observer's increasing version of that link, so a receiver keeps the newest per
// (observer, peer) whatever order digests arrive in. A new connection gets the whole table
// of this node's own measurements. Every member is connected to every other, so each one
// hears every observer first-hand; nothing is relayed.
//
// Why digests: with one message per link per member, a 100-node cold start queued ~19 000
// reliable messages per node (each link's first measurement to 99 members, and every
// provisional one corrected later), which saturated a 2-vCPU host for seconds (issue 18).
#include <algorithm>
#include <array>
#include <cmath>

#include "topology/mesh_impl.h"

namespace hana::topology {

namespace {
SendOptions digest_options() {
  SendOptions o;
  o.lane = Lane::Control;
  o.delivery = Delivery::ReliableUnordered;  // entry versions order them; no head-of-line wait
  return o;
}

std::uint32_t loss_ppm(double rate) {
  const double r = std::clamp(rate, 0.0, 1.0);
  return static_cast<std::uint32_t>(std::lround(r * kLossPpmMax));
}
}  // namespace

bool Mesh::Impl::link_reportable(std::uint32_t i) const {
  return is_live(members[i].state) && peers[i].links.link_version != 0;
}

void Mesh::Impl::send_link_digests(std::uint32_t to, std::span<const std::uint32_t> about, TimeNs now) {
  Peer& p = peers[to];
  // Any member with a connection: one made while we still hold it Dead (a healing
  // partition; it refutes a moment later) gets the table now, or never.
  if (!p.session.conn) return;
  std::array<std::uint8_t, kMaxLinkDigestBytes> buf{};
  std::size_t next = 0;
  while (next < about.size()) {
    BodyWriter w(MutableBytes(buf.data(), buf.size()));
    begin_link_digest(w);
    std::size_t entries = 0;
    for (; next < about.size(); ++next) {
      const std::uint32_t i = about[next];
      const LinkQuality& q = members[i].link;
      const LinkDigestEntry e{members[i].id, peers[i].links.link_version, q.rtt_us, q.jitter_us, loss_ppm(q.loss_rate),
                              q.throughput_bytes_per_sec};
      if (!add_link_digest_entry(w, e)) break;
      ++entries;
    }
    if (entries == 0) return;  // cannot happen: an empty digest holds a worst-case entry
    auto r = p.session.conn->send(w.written(), digest_options(), now, link_table.next_message_id++, true);
    if (!r) {
      p.links.resend_links = true;  // lane queue full: try the whole table again later
      return;
    }
    ++counters.link_digests_out;
    counters.link_reports_out += entries;
    connection_touched(members[to].id);
  }
}

void Mesh::Impl::report_link(std::uint32_t i, LinkUrgency urgency, TimeNs now) {
  if (leaving) return;
  LinkRecord& l = peers[i].links;
  l.link_version = ++link_table.report_version;
  l.link_changed_at = now;
  l.in_digest = true;
  const TimeNs due = urgency == LinkUrgency::Now
                         ? (link_table.last_digest_at == 0 ? now : link_table.last_digest_at + config.link_digest_min_interval_ms * kNsPerMs)
                         : now + config.link_correction_delay_ms * kNsPerMs;
  link_table.digest_due = std::min(link_table.digest_due, std::max(due, now));
}

// Runs from maintenance (at least every 100 ms, and every probe tick), which bounds how
// late a due digest leaves.
void Mesh::Impl::flush_link_digest(TimeNs now) {
  if (now < link_table.digest_due) return;
  link_table.digest_due = kNever;
  auto& about = link_table.scratch_members;
  about.clear();
  for (std::uint32_t i = 0; i < members.size(); ++i) {
    LinkRecord& l = peers[i].links;
    if (!l.in_digest) continue;
    l.in_digest = false;
    if (link_reportable(i)) about.push_back(i);
  }
  if (about.empty() || leaving) return;
  link_table.last_digest_at = now;
  for (std::uint32_t to = 0; to < members.size(); ++to) send_link_digests(to, about, now);
}

void Mesh::Impl::send_link_table(std::uint32_t to, TimeNs now) {
  peers[to].links.resend_links = false;
  if (leaving) return;
  auto& about = link_table.scratch_members;
  about.clear();
  for (std::uint32_t i = 0; i < members.size(); ++i)
    if (link_reportable(i)) about.push_back(i);
  send_link_digests(to, about, now);
}

void Mesh::Impl::on_mesh_message(std::uint32_t from, const protocol::ReceivedEvent& r, TimeNs now) {
  LinkDigestView view;
  const NodeId observer = members[from].id;
  if (!decode_link_digest(r.payload, view) || r.latest_value) {
    ++counters.bad_mesh_messages;
    return;
  }
  ++counters.link_digests_in;
  auto& list = peers[from].links.reported;
  LinkDigestReader reader(view);
  LinkDigestEntry e;
  while (reader.next(e)) {
    if (e.peer == observer) {
      ++counters.bad_mesh_messages;
      continue;
    }
    LinkQuality q;
    q.rtt_us = e.rtt_us;
    q.jitter_us = e.jitter_us;
    q.loss_rate = static_cast<double>(e.loss_ppm) / kLossPpmMax;
    q.throughput_bytes_per_sec = e.throughput_bytes_per_sec;
    auto it = std::find_if(list.begin(), list.end(), [&](const RemoteLink& l) { return l.peer == e.peer; });
    if (it == list.end()) {
      // An observer has at most max_peers peers: more entries is a misbehaving sender.
      if (list.size() >= config.max_peers) {
        ++counters.bad_mesh_messages;
        continue;
      }
      list.push_back(RemoteLink{e.peer, q, now, e.version});
    } else {
      if (e.version <= it->version) continue;  // an older digest that arrived late
      it->quality = q;
      it->at = now;
      it->version = e.version;
    }
    ++counters.link_reports_in;
    events.push_back(LinkQualityChanged{e.peer, q, observer});
  }
}

void Mesh::Impl::on_mesh_outcome(std::uint32_t i, const protocol::ConnectionEvent& e) {
  // Closed/PeerDead: the connection is gone and the next one gets the whole table.
  // Anything else (retry budget, deadline) lost a digest on a live connection: send the
  // table again.
  if (const auto* f = std::get_if<protocol::FailedEvent>(&e))
    if (f->reason != FailReason::Closed && f->reason != FailReason::PeerDead) peers[i].links.resend_links = true;
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
