// Mesh time for application threads: the loop publishes how mesh time follows the node's
// clock (topology::MeshTimeMapping, a few times a second and on every sample of the
// coordinator); Node::mesh_time_ns() reads the engine clock itself and extrapolates, so
// it never waits for the loop. The lock is held for a copy of a few words on either
// side; the last value handed out is kept so that mesh time never goes backwards across
// calls, even when a new mapping arrives between two readers.
#pragma once

#include <algorithm>
#include <mutex>

#include "hana/node.h"
#include "topology/clock_sync.h"
#include "topology/mesh_time.h"

namespace hana::engine {

class MeshTimeCell {
 public:
  void set_shift(const topology::ClockShift& shift) {
    std::lock_guard lock(mutex_);
    shift_ = shift;
  }
  // Loop only: publish() when differs() says the mesh's mapping changed. differs() runs
  // every turn, so it compares with the loop's own copy and takes no lock.
  void publish(const topology::MeshTimeMapping& m) {
    published_ = m;
    std::lock_guard lock(mutex_);
    mapping_ = m;
  }
  bool differs(const topology::MeshTimeMapping& m) const {
    return m.anchor != published_.anchor || m.synced != published_.synced;
  }
  MeshTime read(TimeNs engine_now) const {
    std::lock_guard lock(mutex_);
    const TimeNs local = shift_.local(engine_now);
    MeshTime t;
    t.ns = std::max(mapping_.mesh_at(local), last_);
    t.error_ns = mapping_.error_at(local);
    t.synced = mapping_.synced;
    last_ = t.ns;
    return t;
  }

 private:
  mutable std::mutex mutex_;
  topology::ClockShift shift_;
  topology::MeshTimeMapping mapping_;
  topology::MeshTimeMapping published_;  // the loop's copy of mapping_ (whoever holds the loop role)
  mutable TimeNs last_ = 0;
};

}  // namespace hana::engine
