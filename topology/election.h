// Coordinator claims and the rule that orders them (pure, tested alone). A claim is
// (term, node): the higher term wins (fences a stale coordinator, and decides after a
// partition heals); at equal terms the lower node id wins, so concurrent claims for the
// same vacancy resolve the same way on every node. The mesh's election around it
// (vacancies, eligibility, the grace period) is in election.cpp.
#pragma once

#include <cstdint>
#include <optional>

#include "hana/types.h"

namespace hana::topology {

struct Claim {
  std::uint64_t term = 0;
  NodeId node = 0;
  bool operator==(const Claim&) const = default;
};

constexpr bool claim_beats(const Claim& a, const Claim& b) {
  return a.term > b.term || (a.term == b.term && a.node < b.node);
}

class Election {
 public:
  // Adopts `claim` if it beats the current one. Returns true if the coordinator changed.
  bool observe(const Claim& claim) {
    if (claim.term == 0) return false;
    if (highest_term_ < claim.term) highest_term_ = claim.term;
    if (current_ && !claim_beats(claim, *current_)) return false;
    const bool changed = !current_ || current_->node != claim.node || current_->term != claim.term;
    current_ = claim;
    return changed;
  }
  // The claim a node makes for a vacancy: one term above every term seen.
  Claim next_claim(NodeId self) const { return Claim{highest_term_ + 1, self}; }
  const std::optional<Claim>& current() const { return current_; }
  std::uint64_t term() const { return current_ ? current_->term : 0; }

 private:
  std::optional<Claim> current_;
  std::uint64_t highest_term_ = 0;
};

// The election component's state in the mesh (its code is in election.cpp).
struct ElectionState {
  Election claims;
  TimeNs vacancy_grace_until = 0;  // no claim before this (see observe_claim)
};

}  // namespace hana::topology
