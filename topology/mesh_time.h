// Mesh clock, part 2: one monotonic timebase for the whole mesh, anchored to the
// coordinator (docs/topology.md, "Mesh clock").
//
// The coordinator's mesh time is its own clock plus a constant it keeps from the moment
// it took the role (the first coordinator's is 0): a new coordinator continues the mesh
// time it already followed, so the timebase survives a failover. Every other node
// targets `offset to the coordinator` (its OffsetEstimator) plus the coordinator's
// constant (which the coordinator's acks carry), and slews towards that target at most
// kMaxSlewPpm, so its mesh time never runs backwards and never steps. Only the very
// first sync of a node steps (before it the node reports `synced = false`: its mesh
// time is then its own clock). The error bound is the target's bound plus whatever of
// the target has not been slewed away yet.
//
// Sans-IO: `local` times are this node's clock (ClockShift::local of the engine's).
#pragma once

#include <cstdint>

#include "hana/types.h"
#include "topology/clock_sync.h"

namespace hana::topology {

// At most this fast (parts per million of elapsed time) the mesh time is steered.
inline constexpr double kMaxSlewPpm = 500;
// A difference to the target is slewed away with this time constant.
inline constexpr TimeNs kSlewTimeNs = 1'000'000'000;
// Without a usable estimate of the coordinator for this long, sync is lost (shorter gaps,
// e.g. the first samples of a new coordinator after a failover, free-run silently).
inline constexpr TimeNs kSyncGraceNs = 2'000'000'000;

// How mesh time follows this node's clock from an anchor on; what Node publishes to
// application threads (they read it without asking the loop).
struct MeshTimeMapping {
  TimeNs anchor = 0;                // local time of the last update
  std::int64_t offset_ns = 0;       // mesh minus local, at the anchor
  double slew = 0;                  // d(offset)/d(local) from the anchor on (fraction)
  std::uint64_t error_ns = 0;       // bound at the anchor
  double error_growth = 0;          // d(bound)/d(local) from the anchor on (fraction)
  bool synced = false;

  std::int64_t offset_at(TimeNs local) const;
  TimeNs mesh_at(TimeNs local) const { return local + static_cast<TimeNs>(offset_at(local)); }
  std::uint64_t error_at(TimeNs local) const;
};

// What the estimator says of the coordinator's mesh time (mesh minus local).
struct MeshTimeTarget {
  bool valid = false;
  std::int64_t offset_ns = 0;
  std::uint64_t error_ns = 0;
  double error_growth = 0;  // fraction
};

class MeshTimebase {
 public:
  // Call on every new sample and at least every probe period. `coordinator`: this node
  // holds the role (its mesh time is then the reference, error 0).
  void update(TimeNs local, bool coordinator, const MeshTimeTarget& target);
  const MeshTimeMapping& mapping() const { return mapping_; }

 private:
  MeshTimeMapping mapping_;
  bool ever_synced_ = false;
  TimeNs last_valid_ = 0;
};

// The mesh clock component's state in the mesh (mesh_clock.cpp).
struct MeshClock {
  ClockShift shift;
  MeshTimebase timebase;
  TimeNs next_ping_at = 0;       // clock sample of the coordinator
  NodeId following = 0;          // the coordinator whose mesh time reports count
  TimeNs following_since = 0;    // (local) only its reports from then on
  bool reported_synced = false;  // what the last SyncChanged event said
};

}  // namespace hana::topology
