// When the standby's timer goes off for a deadline an application thread will most likely
// serve itself (shared threading's grace arm, loop_role.cpp): at a random point of the
// grace's second half, never after `next + grace`'s promise. A fixed now + grace fired in
// step with a periodic application (every second message at 1000/s and a 2 ms grace, the default then)
// and put the standby's wake-up inside its round trips; a random one lands in a round trip
// only as often as round trips fill the time.
#pragma once

#include <algorithm>

#include "hana/types.h"
#include "protocol/prng.h"

namespace hana::engine {

// `next`: the loop's deadline; `now`: the turn's time; `grace`: standby_grace_us in ns (> 0).
inline TimeNs standby_grace_arm(TimeNs next, TimeNs now, TimeNs grace, protocol::Prng& rng) {
  return std::max(next, now + grace / 2 + rng.below(grace / 2 + 1));
}

}  // namespace hana::engine
