// This node's measurement of its link to each member: RTT from the connection (busy
// link) or the failure detector's probes (idle link), loss and throughput from the
// connection's counters, reported only when a change matters (hysteresis). The reports
// themselves travel in link_reports.cpp.
#include <algorithm>
#include <cmath>

#include "topology/mesh_impl.h"

namespace hana::topology {

void Mesh::Impl::on_probe_rtt(std::uint32_t i, TimeNs rtt_ns) {
  LinkRecord& l = peers[i].links;
  const double rtt_us = static_cast<double>(rtt_ns) / 1000.0;
  l.probe_rtt_us = l.probe_rtt_us == 0 ? rtt_us : 0.875 * l.probe_rtt_us + 0.125 * rtt_us;
  ++l.probe_samples;
}

void Mesh::Impl::evaluate_links(TimeNs now) {
  const TimeNs every = config.link_report_interval_ms * kNsPerMs;
  for (std::uint32_t i = 0; i < members.size(); ++i) {
    Peer& p = peers[i];
    LinkRecord& l = p.links;
    Member& m = members[i];
    // Until the first measurement is reported the link is evaluated every turn: "report
    // when first measured" must not wait for the interval (with last_link_eval = 0 and a
    // long interval it waited until the monotonic clock passed the interval, i.e. never on
    // a machine booted less than an interval ago).
    const bool reported = m.link.rtt_us != 0;
    if (!is_live(m.state) || (reported && now < l.last_link_eval + every)) continue;
    const TimeNs dt = now - l.last_link_eval;
    l.last_link_eval = now;
    LinkQuality q = m.link;
    if (p.session.conn) {
      const ConnectionStats& s = p.session.conn->stats();
      // The RTT comes from whichever measured since the last evaluation: the connection
      // (busy link: probes are skipped while traffic flows) or the failure detector's
      // direct probes (idle link: the connection's estimate is as old as its last
      // traffic). Before its first sample a connection's RTT is the initial_rtt_us
      // assumption, not a measurement.
      if (s.rtt_samples != l.last_rtt_samples && s.rtt_samples != 0) {  // != : a new connection counts afresh
        q.rtt_us = s.rtt_smoothed_us;
        q.jitter_us = s.rtt_var_us;
      } else if (l.probe_samples > l.last_probe_samples || s.rtt_samples == 0) {
        q.rtt_us = static_cast<std::uint64_t>(l.probe_rtt_us);
      }
      l.last_rtt_samples = s.rtt_samples;
      l.last_probe_samples = l.probe_samples;
      const std::uint64_t sent = s.packets_sent - std::min(s.packets_sent, l.last_packets_sent);
      const std::uint64_t lost = s.packets_lost - std::min(s.packets_lost, l.last_packets_lost);
      if (sent >= 20) q.loss_rate = static_cast<double>(lost) / static_cast<double>(sent);
      const std::uint64_t bytes = s.bytes_received - std::min(s.bytes_received, l.last_bytes);
      q.throughput_bytes_per_sec = dt ? static_cast<std::uint64_t>(static_cast<double>(bytes) * 1e9 / static_cast<double>(dt)) : 0;
      l.last_packets_sent = s.packets_sent;
      l.last_packets_lost = s.packets_lost;
      l.last_bytes = s.bytes_received;
    } else {
      q.rtt_us = static_cast<std::uint64_t>(l.probe_rtt_us);
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

void Mesh::Impl::forget_links(std::uint32_t i) {
  LinkRecord& l = peers[i].links;
  l.reported.clear();
  l.reported.shrink_to_fit();
  // Our own measurement goes too (every receiver just dropped it): if the member comes
  // back, its first measurement is reported afresh.
  members[i].link = LinkQuality{};
  l.link_version = 0;
  l.probe_rtt_us = 0;
  l.last_packets_sent = l.last_packets_lost = l.last_bytes = 0;
  l.probe_samples = l.last_probe_samples = l.last_rtt_samples = 0;
}

void Mesh::Impl::forget_links_about(NodeId id) {
  for (auto& p : peers) std::erase_if(p.links.reported, [&](const RemoteLink& l) { return l.peer == id; });
}

}  // namespace hana::topology
