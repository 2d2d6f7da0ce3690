// The node-wide reassembly budget: memory that all of a node's connections together may
// hold in partially received messages and in complete ones held back behind a gap
// (each connection's own share is still capped by reassembly_limit_bytes). Without it,
// max_peers joining peers could pin max_peers x reassembly_limit_bytes (3.2 GiB by
// default) with one-byte fragments of large messages.
//
// One per Mesh, shared by its connections. Not thread-safe and needs not be: a node's
// connections are only ever driven by the thread running its loop turn (engine: one turn
// at a time, whichever thread holds the loop role).
#pragma once

#include <cstdint>

namespace hana::protocol {

struct ReassemblyBudget {
  std::uint64_t limit_bytes = 0;  // 0 = no node-wide limit
  std::uint64_t used_bytes = 0;   // sum of what the connections reported (Connection::Impl::sync_budget)
  std::uint64_t refused = 0;      // partial messages refused because the node had no room for them
};

}  // namespace hana::protocol
