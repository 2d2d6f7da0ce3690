// The mesh's coordinator election: a vacancy (no coordinator, or one we no longer hold
// live) is claimed by the lowest-id live eligible node, one term above every term seen;
// claims spread as gossip and in beacons, and election.h orders them.
#include <algorithm>

#include "topology/mesh_impl.h"

namespace hana::topology {

void Mesh::Impl::observe_claim(const Claim& c, TimeNs now) {
  const auto prev = election.claims.current();
  if (!election.claims.observe(c)) return;
  // A claim for a node we hold Dead usually means a partition is healing and that node
  // is about to refute: give it a suspicion timeout before declaring a vacancy, or
  // both sides would elect yet another coordinator while the views merge.
  if (c.node != self.id) {
    auto it = index.find(c.node);
    if (it == index.end() || !is_live(members[it->second].state))
      election.vacancy_grace_until = now + 2 * suspicion_timeout(0);
  }
  if (prev && prev->node != c.node) events.push_back(RoleChanged{prev->node, Role::Member, c.term});
  events.push_back(RoleChanged{c.node, Role::Coordinator, c.term});
  for (auto& m : members) m.role = m.id == c.node ? Role::Coordinator : Role::Member;
  enqueue_gossip(0, Entry::Coordinator);
}

void Mesh::Impl::elect(TimeNs now) {
  if (leaving) return;
  const auto& cur = election.claims.current();
  bool vacancy = !cur;
  if (cur && cur->node != self.id) {
    auto it = index.find(cur->node);
    vacancy = it == index.end() || !is_live(members[it->second].state);
  }
  if (!vacancy) return;
  if (!cur && now < started_at + config.election_delay_ms * kNsPerMs) return;
  if (now < election.vacancy_grace_until) return;
  if (!(self.coordinator_eligible && config.coordinator_eligible)) return;
  // Refused by a mesh (its view is full) and alone: this node is outside that mesh, not
  // the coordinator of a mesh of its own. It claims once someone admits it, or once
  // every refused dial is gone.
  if (live_members() == 0 && std::any_of(dialer.dials.begin(), dialer.dials.end(), [](const Dial& d) { return d.refused; }))
    return;
  for (std::size_t i = 0; i < members.size(); ++i)
    if (is_live(members[i].state) && peers[i].eligible && members[i].id < self.id) return;  // not ours to claim
  observe_claim(election.claims.next_claim(self.id), now);
  push_to_all(0, Entry::Coordinator, false);
}

}  // namespace hana::topology
