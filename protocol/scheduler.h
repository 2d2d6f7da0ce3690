// Lane scheduler: strict priority (Control > High > Normal > Bulk) with a starvation
// guard: a ready lane passed over for `threshold` consecutive picks gets the next one,
// so with starvation_share_pct = s every waiting lower lane gets about s% of sends.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "hana/types.h"

namespace hana::protocol {

class LaneScheduler {
 public:
  explicit LaneScheduler(std::uint32_t starvation_share_pct = 10) { set_share(starvation_share_pct); }

  void set_share(std::uint32_t pct) {
    // share s% -> a starved lane wins one pick after (100/s - 1) losses.
    threshold_ = pct == 0 ? 0 : (100 + pct - 1) / pct - 1;
    if (pct != 0 && threshold_ == 0) threshold_ = 1;
  }

  // ready: bit i set if lane i has something to send. Returns the lane to serve.
  std::optional<Lane> pick(std::uint32_t ready) {
    if (ready == 0) return std::nullopt;
    std::size_t top = 0;
    while (!(ready & (1u << top))) ++top;
    std::size_t chosen = top;
    if (threshold_ != 0) {
      for (std::size_t l = top + 1; l < kLaneCount; ++l) {
        if ((ready & (1u << l)) && waited_[l] >= threshold_) {
          chosen = l;
          break;
        }
      }
    }
    for (std::size_t l = 0; l < kLaneCount; ++l) {
      if (l == chosen || !(ready & (1u << l))) waited_[l] = 0;
      else ++waited_[l];
    }
    return static_cast<Lane>(chosen);
  }

  std::uint32_t threshold() const { return threshold_; }

 private:
  std::uint32_t threshold_ = 0;
  std::array<std::uint32_t, kLaneCount> waited_{};
};

}  // namespace hana::protocol
