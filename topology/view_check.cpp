// Anti-entropy of the member list. Gossip spreads a change by a few piggybacked copies,
// and a sync goes only to a peer that is new to us; a node that missed every copy of a
// member (a cold start of 100 nodes seeded at one node did, 1 seed in ~40 in hana-sim)
// never learns it, and nothing repeats it. So every view_check_interval_ms each node
// sends one member a VIEW: how many live members it holds and a digest of their ids (a
// few bytes a second). A member whose own view differs sends its full view back (a sync)
// and answers with its VIEW, and the checker, seeing the difference too, sends its own:
// both end up with the union, whichever side missed something.
#include "topology/mesh_impl.h"

namespace hana::topology {

namespace {
// Order-independent: an xor of well-mixed ids (splitmix64's finalizer), folded to 32 bits.
std::uint64_t mix(std::uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

GossipHeader Mesh::Impl::view_header(std::uint64_t answer) const {
  GossipHeader h;
  h.kind = GossipKind::View;
  h.seq = answer;
  std::uint64_t digest = mix(self.id);
  std::uint32_t count = 1;
  for (const Member& m : members)
    if (is_live(m.state)) {
      digest ^= mix(m.id);
      ++count;
    }
  h.view_count = count;
  h.view_digest = static_cast<std::uint32_t>(digest ^ (digest >> 32));
  return h;
}

void Mesh::Impl::view_tick(TimeNs now) {
  if (config.view_check_interval_ms == 0 || now < next_view_check_at) return;
  const TimeNs interval = config.view_check_interval_ms * kNsPerMs;
  // Jittered ±25 %: nodes started together do not check in step.
  next_view_check_at = now + interval * 3 / 4 + rng.below(interval / 2 + 1);
  // A random connected live member: one we handshook with (only those are listened to).
  std::uint32_t live = 0;
  for (std::size_t i = 0; i < members.size(); ++i)
    if (members[i].state == MemberState::Alive && peers[i].session.conn) ++live;
  if (live == 0) return;
  std::uint64_t pick = rng.below(live);
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (members[i].state != MemberState::Alive || !peers[i].session.conn) continue;
    if (pick-- == 0) {
      send_gossip(members[i].address, view_header(0));
      ++counters.view_checks;
      return;
    }
  }
}

void Mesh::Impl::on_view(const Address& from, const GossipHeader& h) {
  const GossipHeader mine = view_header(1);
  if (mine.view_count == h.view_count && mine.view_digest == h.view_digest) return;
  ++counters.view_mismatches;
  send_sync(from);
  if (h.seq == 0) send_gossip(from, mine);  // the checker learns the difference and syncs us
}

}  // namespace hana::topology
