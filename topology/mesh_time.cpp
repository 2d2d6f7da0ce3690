// Mesh time: see mesh_time.h.
#include "topology/mesh_time.h"

#include <algorithm>
#include <cmath>

#include "topology/clock_sync.h"

namespace hana::topology {

std::int64_t MeshTimeMapping::offset_at(TimeNs local) const {
  const double since = static_cast<double>(static_cast<std::int64_t>(local - anchor));
  return offset_ns + std::llround(slew * since);
}

std::uint64_t MeshTimeMapping::error_at(TimeNs local) const {
  const double since = static_cast<double>(local > anchor ? local - anchor : 0);
  return error_ns + static_cast<std::uint64_t>(std::ceil(error_growth * since));
}

void MeshTimebase::update(TimeNs local, bool coordinator, const MeshTimeTarget& target) {
  const std::int64_t current = mapping_.offset_at(local);
  const std::uint64_t current_error = mapping_.error_at(local);
  mapping_.anchor = local;
  mapping_.offset_ns = current;
  mapping_.slew = 0;
  if (coordinator || target.valid) last_valid_ = local;
  if (coordinator) {
    // The reference: it keeps the mesh time it had (free-running on its own clock).
    mapping_.error_ns = 0;
    mapping_.error_growth = 0;
    mapping_.synced = true;
    ever_synced_ = true;
    return;
  }
  if (!target.valid) {
    // Free-running: the bound grows as an unmeasured oscillator may drift.
    mapping_.error_ns = current_error;
    mapping_.error_growth = std::max(mapping_.error_growth, kAssumedMaxDriftPpm * 1e-6);
    mapping_.synced = mapping_.synced && local - last_valid_ < kSyncGraceNs;
    return;
  }
  if (!ever_synced_) {
    // First sync: step (the node's own clock had nothing to do with the mesh's).
    ever_synced_ = true;
    mapping_.offset_ns = target.offset_ns;
    mapping_.error_ns = target.error_ns;
    mapping_.error_growth = target.error_growth;
    mapping_.synced = true;
    return;
  }
  const double remaining = static_cast<double>(target.offset_ns - current);
  const double max_slew = kMaxSlewPpm * 1e-6;
  mapping_.slew = std::clamp(remaining / static_cast<double>(kSlewTimeNs), -max_slew, max_slew);
  mapping_.error_ns = target.error_ns + static_cast<std::uint64_t>(std::abs(remaining));
  mapping_.error_growth = target.error_growth + std::abs(mapping_.slew);
  mapping_.synced = true;
}

}  // namespace hana::topology
