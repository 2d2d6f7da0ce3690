// State of the displays component: what each member last announced (its code is in
// displays.cpp; this node's own displays are Identity::displays).
#pragma once

#include <cstdint>
#include <vector>

#include "topology/mesh.h"

namespace hana::topology {

// The displays component's record of one member (Peer::announced). Member::displays
// shows them masked (unavailable while the member is Dead or Left).
struct AnnouncedDisplays {
  std::uint64_t version = 0;
  std::vector<Display> displays;  // as the member last announced them
};

}  // namespace hana::topology
