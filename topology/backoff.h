// Jittered exponential backoff for handshake retries and reconnects. The delay
// doubles per attempt from min to max; each draw is spread uniformly over
// [delay/2, delay*3/2] so that nodes which lost a peer at the same instant do not
// retry in lock step.
#pragma once

#include <algorithm>
#include <cstdint>

#include "hana/types.h"
#include "topology/rng.h"

namespace hana::topology {

class Backoff {
 public:
  Backoff() = default;
  Backoff(TimeNs min_ns, TimeNs max_ns) : min_ns_(min_ns), max_ns_(std::max(min_ns, max_ns)) {}

  void set_limits(TimeNs min_ns, TimeNs max_ns) {
    min_ns_ = min_ns;
    max_ns_ = std::max(min_ns, max_ns);
  }
  // Delay before the next attempt; advances the exponent.
  TimeNs next(Rng& rng) {
    TimeNs base = min_ns_;
    for (std::uint32_t i = 0; i < attempts_ && base < max_ns_; ++i) base *= 2;
    base = std::min(base, max_ns_);
    if (attempts_ < 64) ++attempts_;
    return base / 2 + rng.below(base + 1);
  }
  void reset() { attempts_ = 0; }
  std::uint32_t attempts() const { return attempts_; }

 private:
  TimeNs min_ns_ = 20 * kNsPerMs;
  TimeNs max_ns_ = 2'000 * kNsPerMs;
  std::uint32_t attempts_ = 0;
};

}  // namespace hana::topology
