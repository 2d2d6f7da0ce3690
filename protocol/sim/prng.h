// The simulator uses the project's one PRNG (protocol/prng.h).
#pragma once

#include "protocol/prng.h"

namespace hana::sim {
using protocol::mix64;
using protocol::Prng;
using protocol::splitmix64;
}  // namespace hana::sim
