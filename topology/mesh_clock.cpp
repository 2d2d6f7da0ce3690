// The mesh clock component: timestamps on probes and acks, per-member clock offsets,
// and this node's mesh time (clock_sync.h, mesh_time.h; docs/topology.md, "Mesh clock").
//
// Every direct Ping carries t1; the Ack echoes it with t2/t3 and, when the responder's
// mesh time is synced, its mesh offset. Any direct timed Ack gives a sample of the
// responder's clock, whichever probe it answers: the SWIM probes (round robin) keep every
// member's offset fresh, and a Ping to the coordinator every clock_sync_interval_ms (seq
// 0, no probe; 4 times less often once 16 samples of it are held) keeps the one that mesh
// time follows freshest.
#include <algorithm>

#include "topology/mesh_impl.h"

namespace hana::topology {

namespace {
// The clock ping to the coordinator goes every clock_sync_interval_ms while its estimator
// is young, then this many times less often: with a drift line fitted, a sample a second
// keeps the bound within a few µs of the best sample's (drift error ~1 ppm × 1 s), and
// each follower's pings and the coordinator's acks were a sixth of an idle mesh's
// datagrams (the coordinator answered 4 × (n - 1) of them a second).
constexpr std::uint64_t kSettledClockPingFactor = 4;
// Samples of the coordinator held before the slower pace: 4 s at 250 ms, long enough for
// the drift line (three samples spread in time) and a choice of low-delay samples.
constexpr std::size_t kSettledClockSamples = 16;
// Any other member's offset is a diagnostic (PeerStats) and a head start should it become
// coordinator: a sample every 40 × clock_sync_interval_ms (10 s at the default) keeps it
// within a few µs through its drift line. At the coordinator's pace every visit of the
// probe round was "due" at 100 nodes, and no member heard from could be spared its probe.
constexpr std::uint64_t kMemberClockSampleFactor = 40;
// ... and at least every this many probe rounds (members × probe_interval_ms): a member is
// probed at most once a round, so an age shorter than a few rounds made most visits "due"
// and spared none (100 nodes, 50 ms: a round is ~5 s; hana-sim mesh idle 60-120 s: 27.2
// datagrams per node per second at 10 s, 23.3 at 8 rounds, the floor of SWIM's own).
constexpr std::uint64_t kMemberClockSampleRounds = 8;
}  // namespace

void Mesh::Impl::stamp_ping(std::uint32_t i, GossipHeader& ping, TimeNs now) {
  const TimeNs t1 = local_clock(now);
  ping.timed = true;
  ping.t1_low32 = static_cast<std::uint32_t>(t1);
  peers[i].clock.pings.record(t1);
  // Only the coordinator we follow is asked for its mesh time: nobody else's is used.
  ping.wants_mesh_time = members[i].id == clock.following;
}

void Mesh::Impl::answer_ping_clock(const GossipHeader& ping, GossipHeader& ack, TimeNs now) const {
  if (!ping.timed) return;
  ack.timed = true;
  ack.t1_low32 = ping.t1_low32;
  ack.t2 = local_clock(rx_at);
  // The ack leaves in this loop turn: `now` is no later than its send, as t3 must be.
  ack.t3 = std::max(ack.t2, local_clock(now));
  const MeshTimeMapping& m = clock.timebase.mapping();
  if (m.synced && ping.wants_mesh_time) {
    ack.has_mesh_time = true;
    ack.mesh_offset_ns = m.offset_at(ack.t3);
    ack.mesh_error_ns = m.error_at(ack.t3);
  }
}

void Mesh::Impl::on_clock_ack(std::uint32_t i, const GossipHeader& ack, TimeNs now) {
  (void)now;
  if (!ack.timed || ack.relay_for != 0) return;  // a relayed ack's times include the relay's hops
  PeerClock& pc = peers[i].clock;
  const std::optional<TimeNs> t1 = pc.pings.match(ack.t1_low32);
  if (!t1) return;  // not an answer to a ping of ours we still remember
  const ClockSample s{*t1, ack.t2, ack.t3, local_clock(rx_at)};
  if (!pc.estimator.add(s)) return;
  // Only pings to the coordinator we follow ask for mesh time; from it, an ack without
  // one says it is not synced (or answers a ping from before we followed it).
  if (!ack.has_mesh_time && members[i].id != clock.following) return;
  pc.has_mesh_time = ack.has_mesh_time;
  pc.mesh_offset_ns = ack.mesh_offset_ns;
  pc.mesh_error_ns = ack.mesh_error_ns;
  pc.mesh_reported_at = s.t4;
  if (members[i].id == clock.following) clock.timebase.update(s.t4, false, coordinator_target(s.t4));
}

bool Mesh::Impl::clock_sample_due(std::uint32_t i, TimeNs now) const {
  const PeerClock& pc = peers[i].clock;
  const TimeNs age = members[i].id == clock.following
                        ? config.clock_sync_interval_ms * kNsPerMs
                        : std::max<TimeNs>(kMemberClockSampleFactor * config.clock_sync_interval_ms * kNsPerMs,
                                           kMemberClockSampleRounds * live_members() * probe_interval_ns());
  return pc.estimator.size() == 0 || local_clock(now) - pc.estimator.last_sample_at() > age;
}

MeshTimeTarget Mesh::Impl::coordinator_target(TimeNs local) const {
  MeshTimeTarget t;
  auto it = index.find(clock.following);
  if (it == index.end() || !is_live(members[it->second].state)) return t;
  const PeerClock& pc = peers[it->second].clock;
  // Its mesh offset from before it took the role was still moving: wait for a fresh one.
  if (!pc.has_mesh_time || pc.mesh_reported_at < clock.following_since) return t;
  const ClockEstimate e = pc.estimator.estimate(local);
  if (!e.valid) return t;
  t.valid = true;
  t.offset_ns = e.offset_ns + pc.mesh_offset_ns;
  t.error_ns = e.error_ns + pc.mesh_error_ns;
  t.error_growth = e.drift_error_ppm * 1e-6;
  return t;
}

void Mesh::Impl::clock_tick(TimeNs now) {
  const TimeNs local = local_clock(now);
  const auto& claim = election.claims.current();
  const NodeId coordinator = claim && !leaving ? claim->node : 0;
  if (coordinator != clock.following) {
    clock.following = coordinator;
    clock.following_since = local;
    clock.next_ping_at = now;  // sample the new coordinator at once
  }
  const bool self_coordinates = coordinator == self.id;
  if (coordinator != 0 && !self_coordinates && now >= clock.next_ping_at) {
    clock.next_ping_at = now + config.clock_sync_interval_ms * kNsPerMs;
    if (Member* c = find(coordinator); c && is_live(c->state)) {
      const std::uint32_t ci = static_cast<std::uint32_t>(c - members.data());
      if (peers[ci].clock.estimator.size() >= kSettledClockSamples)
        clock.next_ping_at = now + kSettledClockPingFactor * config.clock_sync_interval_ms * kNsPerMs;
      GossipHeader ping;
      ping.kind = GossipKind::Ping;
      ping.seq = 0;  // no probe: an ack with seq 0 only gives a clock sample
      ping.target = coordinator;
      stamp_ping(ci, ping, now);
      send_gossip(c->address, ping);
    }
  }
  clock.timebase.update(local, self_coordinates, coordinator_target(local));
  const bool synced = clock.timebase.mapping().synced;
  if (synced != clock.reported_synced) {
    clock.reported_synced = synced;
    events.push_back(ClockSyncChanged{synced, coordinator});
  }
}

const ClockShift& Mesh::clock_shift() const { return impl_->clock.shift; }

ClockEstimate Mesh::clock_estimate(NodeId peer, TimeNs now) const {
  auto it = impl_->index.find(peer);
  if (it == impl_->index.end()) return {};
  return impl_->peers[it->second].clock.estimator.estimate(impl_->local_clock(now));
}

const MeshTimeMapping& Mesh::mesh_time() const { return impl_->clock.timebase.mapping(); }

}  // namespace hana::topology
