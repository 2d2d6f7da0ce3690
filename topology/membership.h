// SWIM merge rules: whether a received state for a member replaces the one we hold.
// Incarnation numbers are owned by the member itself; only it raises them (to refute
// a suspicion). So a higher incarnation always wins, and at the same incarnation the
// more severe state wins (Alive < Suspect < Dead/Left); Alive needs a strictly higher
// incarnation to override anything, which is what makes refutation necessary.
#pragma once

#include <cmath>
#include <cstdint>

#include "hana/events.h"
#include "hana/types.h"

namespace hana::topology {

constexpr int severity(MemberState s) {
  switch (s) {
    case MemberState::Alive: return 0;
    case MemberState::Suspect: return 1;
    case MemberState::Dead: return 2;
    case MemberState::Left: return 3;
  }
  return 0;
}

// True if (incoming_state, incoming_inc) should replace (current_state, current_inc).
constexpr bool supersedes(MemberState incoming_state, std::uint64_t incoming_inc, MemberState current_state,
                          std::uint64_t current_inc) {
  if (incoming_inc != current_inc) return incoming_inc > current_inc;
  return severity(incoming_state) > severity(current_state);
}

constexpr bool is_live(MemberState s) { return s == MemberState::Alive || s == MemberState::Suspect; }

// Lifeguard suspicion timeout. floor = mult * max(1, log10(n)) * probe interval; a
// suspicion starts at max_mult * floor and shrinks logarithmically towards the floor
// as independent confirmations (other nodes suspecting the same incarnation) arrive;
// `expected` confirmations reach the floor.
inline TimeNs suspicion_timeout_ns(double mult, double max_mult, std::size_t members, TimeNs probe_interval_ns,
                                   std::uint32_t confirmations, std::uint32_t expected) {
  const double scale = std::max(1.0, std::log10(static_cast<double>(members < 1 ? 1 : members)));
  const double floor_ns = mult * scale * static_cast<double>(probe_interval_ns);
  const double max_ns = std::max(1.0, max_mult) * floor_ns;
  if (expected == 0 || confirmations >= expected) return static_cast<TimeNs>(floor_ns);
  const double frac = std::log(static_cast<double>(confirmations) + 1.0) / std::log(static_cast<double>(expected) + 1.0);
  return static_cast<TimeNs>(std::max(floor_ns, max_ns - (max_ns - floor_ns) * frac));
}

// Pieces of one gossip budget: how many times an update is piggybacked.
inline std::uint32_t gossip_retransmits(std::uint32_t mult, std::size_t members) {
  const double scale = std::ceil(std::log10(static_cast<double>(members) + 1.0));
  return mult * static_cast<std::uint32_t>(std::max(1.0, scale));
}

}  // namespace hana::topology
