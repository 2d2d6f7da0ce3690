// Membership gossip: the queue of changes piggybacked on probes and acks, the pushes
// that carry one change to every member at once, and the updates as they go out
// (make_update, write_updates) and come in (apply_update, with the merge rules of
// membership.h).
#include <algorithm>

#include "topology/mesh_impl.h"

namespace hana::topology {

namespace {
MemberState state_of(UpdateKind k) {
  switch (k) {
    case UpdateKind::Suspect: return MemberState::Suspect;
    case UpdateKind::Dead: return MemberState::Dead;
    case UpdateKind::Left: return MemberState::Left;
    default: return MemberState::Alive;
  }
}
}  // namespace

void Mesh::Impl::send_gossip(const Address& to, const GossipHeader& h, Via via) {
  OutItem item;
  item.type = OutType::Gossip;
  item.to = to;
  item.via = via;
  item.gossip = h;
  item.gossip.sender = self.id;
  push_out(item);
}

void Mesh::Impl::apply_update(Update u, NodeId via, const Address& from, TimeNs now) {
  if (u.kind == UpdateKind::Alive && unspecified(u.address)) {
    // Only the member itself can tell us where an unspecified address really is.
    if (u.node == via) u.address = reachable(u.address, from);
    else u.address.port = 0;
  } else if (u.kind == UpdateKind::Alive) {
    u.address = scoped_like(u.address, from);
  }
  switch (u.kind) {
    case UpdateKind::Alive:
    case UpdateKind::Suspect:
    case UpdateKind::Dead:
    case UpdateKind::Left: {
      const MemberState state = state_of(u.kind);
      if (u.node == self.id) {
        if (state == MemberState::Alive) incarnation = std::max(incarnation, u.number);
        else if (!leaving && u.number >= incarnation) refute(u.number, now);
        return;
      }
      auto it = index.find(u.node);
      if (it == index.end()) {
        if (state != MemberState::Alive || u.address.port == 0) return;  // nothing to mark or reach yet
        const std::uint32_t i = add_member(u.node, u.address, u.number, now);
        if (i == ~0u) return;
        members[i].name = std::string(u.name);
        peers[i].eligible = u.eligible;
        enqueue_gossip(u.node, Entry::State);
        elect(now);
        return;
      }
      const std::uint32_t i = it->second;
      Member& m = members[i];
      if (!supersedes(state, u.number, m.state, m.incarnation)) {
        Peer& p = peers[i];
        Health& h = p.health;
        // The member's own record (sync, introduce, refutation) is the authority on its
        // eligibility, even at the incarnation we already hold.
        if (state == MemberState::Alive && u.node == via && u.number == m.incarnation && m.state == MemberState::Alive &&
            p.eligible != u.eligible) {
          p.eligible = u.eligible;
          elect(now);
        }
        // A member met by handshake has no name yet; a record at the same incarnation brings it.
        if (state == MemberState::Alive && u.number == m.incarnation && m.name.empty() && !u.name.empty())
          m.name = std::string(u.name);
        // Same suspicion from another node: a Lifeguard confirmation shortens the timeout.
        if (state == MemberState::Suspect && m.state == MemberState::Suspect && u.number == m.incarnation && u.from != 0 &&
            h.confirmations < kMaxConfirmations &&
            std::find(h.confirmers.begin(), h.confirmers.begin() + h.confirmations, u.from) == h.confirmers.begin() + h.confirmations) {
          h.confirmers[h.confirmations++] = u.from;
          h.suspicion_deadline = h.suspicion_start + suspicion_timeout(h.confirmations);
        }
        return;
      }
      if (state == MemberState::Alive) {
        if (u.address.port != 0) m.address = u.address;
        m.name = std::string(u.name);
        peers[i].eligible = u.eligible;
      }
      if (state == MemberState::Dead && u.from != self.id) {
        // Our coordinator declared Dead by a node we hold Dead ourselves: the two sides of
        // a healing partition are trading death notices, and the coordinator will refute.
        // Do not claim the vacancy meanwhile (as in observe_claim).
        const auto& cur = election.claims.current();
        auto by = index.find(u.from);
        if (cur && cur->node == u.node && (by == index.end() || !is_live(members[by->second].state)))
          election.vacancy_grace_until = std::max(election.vacancy_grace_until, now + 2 * suspicion_timeout(0));
        // The same trade about any member we hold live: the verdict was reached on the
        // other side of a partition (its declarer is Dead here, or was until moments ago),
        // and the member is most likely on our side and fine. Taken as is, it would drop a
        // healthy connection (pending messages fail, PeerDown) on every node of our side
        // until the member refutes. Taken as a suspicion, the member refutes our notice
        // within a round trip; if it is really gone, our own suspicion timer makes it Dead.
        // (Already Suspect: the running timer decides; more copies of the verdict, in syncs
        // and gossip, change nothing.)
        const bool healing =
            by != index.end() && (!is_live(members[by->second].state) ||
                                  (peers[by->second].health.revived_at != 0 && now < peers[by->second].health.revived_at + kHealingWindowNs));
        if (healing && is_live(m.state) && u.number == m.incarnation) {
          if (m.state == MemberState::Alive) {
            notice(i, now);
            set_state(i, MemberState::Suspect, u.number, u.from, now);
          }
          return;
        }
      }
      set_state(i, state, u.number, u.from, now);
      return;
    }
    case UpdateKind::Coordinator: observe_claim(Claim{u.number, u.node}, now); return;
    case UpdateKind::Displays: on_displays(u); return;
  }
}

void Mesh::Impl::enqueue_gossip(NodeId node, Entry entry) {
  const std::uint32_t n = gossip_retransmits(config.gossip_retransmit_mult, live_members() + 1);
  for (auto& g : fd.gossip)
    if (g.node == node && g.entry == entry) {
      g.left = n;
      return;
    }
  fd.gossip.push_back(GossipEntry{node, entry, n});
}

void Mesh::Impl::push_to_all(NodeId subject, Entry entry, bool include_dead, NodeId from) {
  for (const Member& m : members) {
    if (m.state == MemberState::Left || (!include_dead && !is_live(m.state))) continue;
    if (m.id == subject && entry == Entry::State && m.state == MemberState::Dead) continue;
    OutItem item;
    item.type = OutType::Gossip;
    item.to = m.address;
    item.gossip.kind = GossipKind::Push;
    item.gossip.sender = self.id;
    item.has_subject = true;
    item.subject = subject;
    item.subject_entry = entry;
    item.subject_from = from;
    item.piggyback = false;
    push_out(item);
  }
}

bool Mesh::Impl::make_update(NodeId node, Entry entry, Update& u) const {
  u = Update{};
  if (entry == Entry::Coordinator) {
    const auto& c = election.claims.current();
    if (!c) return false;
    u.kind = UpdateKind::Coordinator;
    u.node = c->node;
    u.number = c->term;
    return true;
  }
  const bool is_self = node == self.id;
  const Member* m = nullptr;
  const Peer* p = nullptr;
  if (!is_self) {
    auto it = index.find(node);
    if (it == index.end()) return false;
    m = &members[it->second];
    p = &peers[it->second];
  }
  u.node = node;
  if (entry == Entry::Displays) {
    const auto& list = is_self ? self.displays : p->announced.displays;
    u.kind = UpdateKind::Displays;
    u.number = is_self ? display_version : p->announced.version;
    u.display_count = static_cast<std::uint8_t>(std::min(list.size(), kMaxDisplays));
    for (std::size_t d = 0; d < u.display_count; ++d) u.displays[d] = WireDisplay{list[d].id, list[d].available, list[d].metadata};
    return true;
  }
  const MemberState state = is_self ? (leaving ? MemberState::Left : MemberState::Alive) : m->state;
  u.number = is_self ? incarnation : m->incarnation;
  switch (state) {
    case MemberState::Alive:
      u.kind = UpdateKind::Alive;
      u.address = is_self ? self.listen : m->address;
      u.eligible = is_self ? (self.coordinator_eligible && config.coordinator_eligible) : p->eligible;
      u.name = is_self ? std::string_view(self.name) : std::string_view(m->name);
      break;
    case MemberState::Suspect:
      u.kind = UpdateKind::Suspect;
      u.from = p->health.declared_by ? p->health.declared_by : self.id;
      break;
    case MemberState::Dead:
      u.kind = UpdateKind::Dead;
      u.from = p->health.declared_by ? p->health.declared_by : self.id;
      break;
    case MemberState::Left: u.kind = UpdateKind::Left; break;
  }
  return true;
}

std::size_t Mesh::Impl::write_updates(BodyWriter& w, std::size_t count_at, std::size_t budget, const OutItem& item) {
  std::size_t count = 0;
  const std::size_t start = w.size();
  Update u;
  if (item.has_subject && make_update(item.subject, item.subject_entry, u)) {
    if (item.subject_from != 0 && u.kind == UpdateKind::Suspect) u.from = item.subject_from;
    if (encode_update(w, u)) ++count;
  }
  auto& gossip = fd.gossip;
  if (item.piggyback && !gossip.empty()) {
    // Least-sent first, so a fresh change overtakes the tail of an old one.
    std::stable_sort(gossip.begin(), gossip.end(), [](const GossipEntry& a, const GossipEntry& b) { return a.left > b.left; });
    for (auto& g : gossip) {
      if (count >= kMaxUpdatesPerBody) break;
      if (item.has_subject && g.node == item.subject && g.entry == item.subject_entry) continue;
      if (!make_update(g.node, g.entry, u)) {
        g.left = 0;
        continue;
      }
      if (w.size() - start + encoded_size(u) > budget) continue;
      if (encode_update(w, u)) {
        ++count;
        --g.left;
      }
    }
    std::erase_if(gossip, [](const GossipEntry& g) { return g.left == 0; });
  }
  w.patch_u8(count_at, static_cast<std::uint8_t>(count));
  counters.updates_out += count;
  return count;
}

}  // namespace hana::topology
