// The public MeshStats (hana/stats.def's mesh table) from the mesh's own counters: a row
// of the table naming a counter the mesh does not keep fails to compile here.
#pragma once

#include "hana/stats.h"
#include "topology/mesh.h"

namespace hana::topology {

inline MeshStats to_mesh_stats(const MeshCounters& c) {
  MeshStats s;
#define HANA_MESH_STAT(name, doc) s.name = c.name;
#include "hana/stats.def"
  s.bad_datagrams_by_error = c.bad_datagrams_by_error;
  return s;
}

}  // namespace hana::topology
