// The topology layer's randomness (probe order, jitter, connection ids, cookie secret):
// the project's one seeded PRNG, so the same seed makes the same choices.
#pragma once

#include "protocol/prng.h"

namespace hana::topology {
using Rng = protocol::Prng;
}  // namespace hana::topology
