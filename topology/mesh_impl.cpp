// Mesh::Impl's own parts: construction, knobs, the one deadline over every component,
// and the periodic maintenance pass.
#include <algorithm>

#include "topology/mesh_impl.h"

namespace hana::topology {

Mesh::Impl::Impl(const Config& cfg, Identity me, std::uint64_t seed, TimeNs now, Sealing sealing)
    : config(cfg),
      self(std::move(me)),
      rng(seed ^ 0x6a09e667f3bcc908ull),
      started_at(now),
      dialer(rng.next(), cfg.cookie_lifetime_ms * kNsPerMs, cfg.handshake_rate_per_sec) {
  // The incarnation starts at the start time in ms, so a restarted process usually
  // outranks the records its previous life left behind (refutation covers the rest).
  incarnation = now / kNsPerMs;
  // Display versions follow the same rule, so the displays a restarted process announces
  // are not ignored as older than what its previous life announced.
  display_version = std::max<std::uint64_t>(1, incarnation);
  if (sealing.sealer) auth = std::make_unique<Auth>(std::move(sealing));
  apply_config(cfg);
  clock.shift = ClockShift{cfg.fault_clock_offset_us * static_cast<std::int64_t>(kNsPerUs), cfg.fault_clock_drift_ppm, now};
  last_now = now;
  fd.next_probe_at = now + rng.below(probe_interval_ns() + 1);
  next_maintenance_at = now;
  scratch.resize(protocol::kMaxDatagramBytes);
  if (self.displays.size() > kMaxDisplays) self.displays.resize(kMaxDisplays);
  deadline_changed();
}

void Mesh::Impl::apply_config(const Config& c) {
  config = c;
  conn_config = c;
  // Liveness of a mesh peer is the failure detector's job: per-connection keepalives
  // to 99 peers would cost more than the whole SWIM budget, and an idle timeout would
  // tear down healthy idle connections. The mesh closes connections of dead peers.
  conn_config.keepalive_interval_ms = 3'600'000;
  conn_config.idle_timeout_ms = 3'600'000;
  // Connections start at the base size and discover up to the cap (PmtuProber); the
  // seal's bytes come off both.
  const std::uint32_t seal = auth ? static_cast<std::uint32_t>(protocol::kSealOverhead) : 0;
  conn_config.max_datagram_bytes = c.max_datagram_bytes - seal;
  conn_config.base_datagram_bytes = static_cast<std::uint32_t>(datagram_budget());
  dialer.cookies.set_lifetime(c.cookie_lifetime_ms * kNsPerMs);
  reassembly_budget.limit_bytes = c.node_reassembly_limit_bytes;
  dialer.handshake_limiter.set_rate(c.handshake_rate_per_sec);
  dialer.cookie_limiter.set_rate(c.handshake_rate_per_sec);
  dialer.dial_limiter.set_rate(c.dial_rate_per_sec);
  dialer.source_limiter.set_rate(c.handshake_rate_per_source_per_sec);
  for (auto& p : peers) {
    p.redial.reconnect.set_limits(c.reconnect_backoff_min_ms * kNsPerMs, c.reconnect_backoff_max_ms * kNsPerMs);
    if (p.session.conn) p.session.conn->apply_runtime_config(conn_config);
  }
}

std::size_t Mesh::Impl::datagram_budget() const {
  return config.base_datagram() - (auth ? protocol::kSealOverhead : 0);
}

void Mesh::Impl::maintenance(TimeNs now) {
  reap(now);
  evaluate_links(now);
  flush_link_digest(now);
  elect(now);
  view_tick(now);
  // Seeds: keep dialing every seed address that is not a connected member.
  for (const Address& s : dialer.seeds) {
    bool connected = false;
    for (std::size_t i = 0; i < members.size(); ++i)
      if (members[i].address == s && peers[i].session.conn && is_live(members[i].state)) connected = true;
    if (!connected && !dial_to(s)) start_dial(s, 0, now);
  }
  // Members that should be connected but are not; link tables that must go again.
  for (std::uint32_t i = 0; i < members.size(); ++i) {
    if (should_dial(i, now)) start_dial(members[i].address, members[i].id, now);
    if (peers[i].links.resend_links && peers[i].session.conn) send_link_table(i, now);
  }
}

TimeNs Mesh::Impl::current_deadline() {
  if (!deadline_stale) return deadline;
  deadline_stale = false;
  for (NodeId id : conns.deadline_dirty) {
    if (Peer* p = peer_of(id)) {
      p->session.dl_dirty = false;
      p->session.conn_deadline = kNever;
      if (p->session.conn)
        if (auto t = p->session.conn->next_timeout()) p->session.conn_deadline = *t;
    }
  }
  conns.deadline_dirty.clear();
  TimeNs t = next_maintenance_at;
  if (!leaving) {
    t = std::min(t, fd.next_probe_at);
    const Probe& probe = fd.probe;
    if (probe.active && !probe.acked) {
      if (!probe.indirect_sent) t = std::min(t, probe.direct_deadline);
      t = std::min(t, probe.end);
    }
    t = std::min(t, dialer.next_beacon_at);
    if (clock.following != 0 && clock.following != self.id) t = std::min(t, clock.next_ping_at);
    for (const Dial& d : dialer.dials) t = std::min(t, d.next_at);
  }
  for (const Peer& p : peers) {
    if (!leaving) t = std::min(t, p.path.next_at);
    t = std::min(t, p.session.conn_deadline);
    t = std::min(t, p.health.suspicion_deadline);
  }
  for (const RetiredConnection& r : conns.retired)
    if (auto c = r.conn->next_timeout()) t = std::min(t, *c);
  deadline = t;
  return t;
}

}  // namespace hana::topology
