// Plain counters and gauges, per lane, per connection (peer) and of the node's mesh, each
// struct generated from its table in hana/stats.def (which also drives `hana-net stats
// --json` and the Prometheus families). Snapshots are copies.
#pragma once

#include <array>
#include <cstdint>

#include "hana/types.h"

namespace hana {

enum class StatKind : std::uint8_t { Counter, Gauge };

struct LaneStats {
#define HANA_LANE_STAT(kind, name, prom, doc) std::uint64_t name = 0;
#include "hana/stats.def"

  // Per-node sums: every field adds up (a gauge summed over peers is the node's total).
  LaneStats& operator+=(const LaneStats& o) {
#define HANA_LANE_STAT(kind, name, prom, doc) name += o.name;
#include "hana/stats.def"
    return *this;
  }
};

struct ConnectionStats {
#define HANA_CONNECTION_STAT(kind, type, name, prom, doc) type name{};
#include "hana/stats.def"
  std::array<LaneStats, kLaneCount> lanes{};
};

struct MeshStats {
#define HANA_MESH_STAT(name, doc) std::uint64_t name = 0;
#include "hana/stats.def"
  // bad_datagrams split by what the codec rejected (indexed by DecodeError; to_string
  // names each): a junk flood, a version mismatch and unkeyed-vs-sealed nodes look
  // different here.
  std::array<std::uint64_t, kDecodeErrorCount> bad_datagrams_by_error{};
};

}  // namespace hana
