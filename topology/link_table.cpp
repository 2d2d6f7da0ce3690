// This node's measurement of its link to each member: RTT from the connection (busy
// link) or the failure detector's probes (idle link), loss and throughput from the
// connection's counters, reported only when a change stands out of the link's own noise
// (link_change.h). The reports themselves travel in link_reports.cpp.
#include <algorithm>

#include "topology/mesh_impl.h"

namespace hana::topology {

namespace {
// New connection RTT samples in one evaluation that make a link "busy" (its connection's
// estimate counts as a measurement).
constexpr std::uint64_t kBusyRttSamples = 8;
}  // namespace

// The link's round trip is the probe's minus the responder's turnaround, as QUIC subtracts
// its ack delay and NTP the server's processing: what the network took, not how long the
// peer's host took to schedule its process (issue 18: on 100 processes sharing two vCPUs
// that wait swung probe RTT medians by more than ×1.75 as load came and went, and every
// swing went to 99 members as a "change"). The ping's arrival is the responder's kernel
// receive stamp where it has one, so the wait to be scheduled is inside the turnaround. A
// turnaround longer than the whole round trip is not believed (a skewed or lying peer).
void Mesh::Impl::on_probe_rtt(std::uint32_t i, TimeNs sent, TimeNs acked, TimeNs turnaround, TimeNs now) {
  LinkRecord& l = peers[i].links;
  ++l.probe_samples;
  if (!link_table.host.fair(sent, now)) {
    ++counters.rtt_samples_while_late;
    return;
  }
  const TimeNs rtt = acked - sent;
  l.probe_rtt.add((turnaround < rtt ? rtt - turnaround : rtt) / 1000);
}

void Mesh::Impl::evaluate_links(TimeNs now) {
  const bool tick = now >= link_table.next_eval_at;
  if (tick) link_table.next_eval_at = now + config.link_report_interval_ms * kNsPerMs;
  bool provisional_left = false;  // a live link whose first report no full window judged yet
  for (std::uint32_t i = 0; i < members.size(); ++i) {
    Peer& p = peers[i];
    LinkRecord& l = p.links;
    Member& m = members[i];
    // Until the first measurement is reported the link is evaluated every pass: "report
    // when first measured" must not wait for the interval (nor, on a machine booted less
    // than an interval ago, for the monotonic clock to pass it).
    const bool reported = m.link.rtt_us != 0;
    if (!is_live(m.state) || (reported && !tick)) continue;
    const TimeNs dt = now - l.last_link_eval;
    l.last_link_eval = now;
    LinkQuality q = m.link;
    bool loss_moved = false;
    if (p.session.conn) {
      const ConnectionStats& s = p.session.conn->stats();
      // A busy link's RTT comes from its connection (probes are skipped while traffic
      // flows): its smoothed estimate is one sample per evaluation that saw at least
      // kBusyRttSamples new RTT samples. An idle link's comes from the failure detector's
      // direct probes (on_probe_rtt): the odd sample the mesh's own reports produce on an
      // idle connection is one late ack smoothed in for seconds, i.e. noise that, reported,
      // made more reports. The two are kept apart: they differ by a bias of their own
      // (ack delay, processing), and a window mixing them moved with the mix, not the link.
      // A new connection (fewer samples than last time) counts afresh.
      const std::uint64_t fresh = s.rtt_samples >= l.last_rtt_samples ? s.rtt_samples - l.last_rtt_samples : s.rtt_samples;
      l.busy = fresh >= kBusyRttSamples;
      // A link not reported yet takes the connection's first samples (the handshake's) as
      // a provisional measurement, so the picture fills at connect time instead of one
      // probe round later; the first full window settles it (rtt_settles).
      if (l.busy && !link_table.host.fair(now - dt, now)) ++counters.rtt_samples_while_late;
      else if (l.busy || (!reported && fresh > 0 && l.probe_rtt.empty())) l.conn_rtt.add(s.rtt_smoothed_us);
      l.last_rtt_samples = s.rtt_samples;
      const std::uint64_t sent = s.packets_sent - std::min(s.packets_sent, l.last_packets_sent);
      const std::uint64_t lost = s.packets_lost - std::min(s.packets_lost, l.last_packets_lost);
      if (sent >= 20) {
        loss_moved = loss_changed(m.link.loss_rate, lost, sent);
        q.loss_rate = static_cast<double>(lost) / static_cast<double>(sent);
      }
      const std::uint64_t bytes = s.bytes_received - std::min(s.bytes_received, l.last_bytes);
      q.throughput_bytes_per_sec = dt ? static_cast<std::uint64_t>(static_cast<double>(bytes) * 1e9 / static_cast<double>(dt)) : 0;
      l.last_packets_sent = s.packets_sent;
      l.last_packets_lost = s.packets_lost;
      l.last_bytes = s.bytes_received;
    }
    RttWindow& rtt = l.busy || l.probe_rtt.empty() ? l.conn_rtt : l.probe_rtt;
    if (!rtt.empty()) {
      q.rtt_us = rtt.median();
      q.jitter_us = rtt.spread();
    }
    // Report only what the link's own noise does not explain (link_change.h), never per
    // packet. An RTT is judged once per full window of fresh samples.
    const LinkQuality& old = m.link;
    const auto diff = [](std::uint64_t a, std::uint64_t b) { return a > b ? a - b : b - a; };
    const bool first = !reported && q.rtt_us != 0;
    // The first full window judges the provisional value (the handshake's round trips,
    // which hold each side's processing and the first ack's delay: ~×4 the probes' RTT in
    // hana-sim mesh) only as a settling correction, however far off: it leaves lazily with
    // the others, not as (n - 1) urgent reports per link 10-15 s after a 32-node start
    // (~90 per node per second in hana-sim mesh's window then). From then on a move is
    // judged against the link's noise.
    const bool judging_provisional = reported && rtt.window_full() && !l.rtt_settled;
    const bool rtt_moved = reported && !judging_provisional && rtt_changed(old.rtt_us, rtt);
    bool settled = false;
    if (judging_provisional) {
      settled = rtt_settles(old.rtt_us, rtt);
      l.rtt_settled = true;
    }
    if (rtt.window_full()) rtt.close_window();
    const bool tput_moved = diff(q.throughput_bytes_per_sec, old.throughput_bytes_per_sec) >
                            std::max<std::uint64_t>(old.throughput_bytes_per_sec / 2, 64 * 1024);
    if (first || rtt_moved || loss_moved || settled || tput_moved) {
      m.link = q;
      events.push_back(LinkQualityChanged{m.id, q, self.id});
      // The mesh hears at once of a link it did not know and of a change that matters; a
      // correction of a provisional first value or a throughput move may wait for company.
      report_link(i, first || rtt_moved || loss_moved ? LinkUrgency::Now : LinkUrgency::Lazy, now);
    }
    if (m.link.rtt_us != 0 && !l.rtt_settled) provisional_left = true;
  }
  // The corrections of a cold start come over a minute at 100 nodes (a link's first full
  // window is 8 probes of it, a few seconds apart each, none taken while the host is
  // loaded): waiting a fixed delay sent them in ~7 flushes of a message to every member
  // each (8.6-9.1 KB/s per node 40 s after the full view). Once no provisional link is
  // left no more company is coming: the waiting ones leave now, all in one flush.
  if (tick && !provisional_left && link_table.digest_due != kNever)
    link_table.digest_due = std::min(link_table.digest_due, std::max(now, link_table.last_digest_at + config.link_digest_min_interval_ms * kNsPerMs));
}

void Mesh::Impl::forget_links(std::uint32_t i) {
  LinkRecord& l = peers[i].links;
  l.reported.clear();
  l.reported.shrink_to_fit();
  // Our own measurement goes too (every receiver just dropped it): if the member comes
  // back, its first measurement is reported afresh.
  members[i].link = LinkQuality{};
  l.link_version = 0;
  l.in_digest = false;
  l.probe_rtt.clear();
  l.conn_rtt.clear();
  l.busy = false;
  l.rtt_settled = false;
  l.last_packets_sent = l.last_packets_lost = l.last_bytes = 0;
  l.probe_samples = l.last_rtt_samples = 0;
}

void Mesh::Impl::forget_links_about(NodeId id) {
  for (auto& p : peers) std::erase_if(p.links.reported, [&](const RemoteLink& l) { return l.peer == id; });
}

}  // namespace hana::topology
