// Topology-level vocabulary shared by the mesh (sans-IO) and the public API.
#pragma once

#include <cstdint>
#include <string_view>

#include "hana/types.h"

namespace hana {

enum class MemberState : std::uint8_t { Alive, Suspect, Dead, Left };
enum class Role : std::uint8_t { Member, Coordinator };

constexpr std::string_view to_string(MemberState s) {
  switch (s) {
    case MemberState::Alive: return "alive";
    case MemberState::Suspect: return "suspect";
    case MemberState::Dead: return "dead";
    case MemberState::Left: return "left";
  }
  return "?";
}
constexpr std::string_view to_string(Role r) { return r == Role::Coordinator ? "coordinator" : "member"; }

// Link quality one node measures to one peer.
struct LinkQuality {
  std::uint64_t rtt_us = 0;
  std::uint64_t jitter_us = 0;
  double loss_rate = 0;            // 0..1, over the recent window
  std::uint64_t throughput_bytes_per_sec = 0;
};

}  // namespace hana
