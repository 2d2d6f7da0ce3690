// The mesh's own outgoing datagrams (outbox.h): the queue, and each item encoded into
// the caller's buffer when poll_transmit asks for it.
#include <algorithm>

#include "topology/mesh_impl.h"

namespace hana::topology {

void Mesh::Impl::push_out(OutItem item) {
  if (out.size() >= kMaxOutItems) {
    ++counters.out_queue_drops;
    return;
  }
  out.push_back(std::move(item));
}

std::size_t Mesh::Impl::encode_out(const OutItem& item, MutableBytes buffer) {
  protocol::Header header;
  header.flags = protocol::kFlagShortChecksum;
  // A refusal goes to the initiator's proposed connection id; everything else addresses
  // the node itself and leaves connection id and packet number off the wire.
  if (item.type == OutType::Refuse) header.connection_id = item.cid;
  else header.flags |= protocol::kFlagConnectionless;
  protocol::DatagramWriter w(buffer, datagram_budget(), header);
  if (!w.ok()) return 0;
  switch (item.type) {
    case OutType::Gossip:
    case OutType::Sync: {
      const std::size_t room = w.remaining();
      if (room < 4) return 0;
      const std::size_t max_body = room - 1 - protocol::varint_size(room);
      BodyWriter bw(MutableBytes(scratch.data(), std::min(max_body, scratch.size())));
      const std::size_t count_at = encode_gossip_header(bw, item.gossip);
      if (!bw.ok()) return 0;
      if (item.type == OutType::Sync) {
        // Full state for a peer that just (re)joined: every member, self (state and displays), the claim.
        std::uint8_t count = 0;
        std::uint32_t cursor = item.cursor;
        const auto total = static_cast<std::uint32_t>(members.size() + 3);
        Update u;
        while (cursor < total && count < kMaxUpdatesPerBody) {
          bool have = false;
          if (cursor < members.size()) have = make_update(members[cursor].id, Entry::State, u);
          else if (cursor == members.size()) have = make_update(self.id, Entry::State, u);
          else if (cursor == members.size() + 1) have = make_update(self.id, Entry::Displays, u);
          else have = make_update(0, Entry::Coordinator, u);
          if (have && !encode_update(bw, u)) break;
          count = static_cast<std::uint8_t>(count + (have ? 1 : 0));
          ++cursor;
        }
        bw.patch_u8(count_at, count);
        if (cursor < total && cursor != item.cursor) {
          OutItem rest = item;
          rest.cursor = cursor;
          out.push_back(rest);  // the rest of the sync follows whatever is queued
        }
      } else {
        std::size_t budget = std::min<std::size_t>(config.gossip_max_bytes, max_body - bw.size());
        write_updates(bw, count_at, budget, item);
      }
      if (!w.append(protocol::GossipFrame{bw.written()})) return 0;
      ++counters.gossip_out;
      const std::size_t n = w.finish();
      counters.gossip_bytes_out += n;
      return n;
    }
    case OutType::Handshake: {
      protocol::HandshakeFrame h;
      h.kind = item.hkind;
      h.node_id = self.id;
      h.incarnation = incarnation;
      h.connection_id = item.cid;
      if (item.with_cookie) h.cookie = Bytes(item.cookie.data(), item.cookie.size());
      if (!w.append(h)) return 0;
      ++counters.handshake_out;
      return w.finish();
    }
    case OutType::Refuse: {
      protocol::CloseFrame c;
      c.reason = item.reason;
      if (!w.append(c)) return 0;
      ++counters.handshake_out;
      return w.finish();
    }
    case OutType::Beacon: {
      Beacon b;
      b.node = self.id;
      b.incarnation = incarnation;
      b.eligible = self.coordinator_eligible && config.coordinator_eligible;
      const auto& claim = election.claims.current();
      b.coordinator = claim && claim->node == self.id;
      b.term = claim ? claim->term : 0;
      b.coordinator_id = claim ? claim->node : 0;
      b.address = self.listen;
      b.name = self.name;
      b.members = live_members();
      b.displays = static_cast<std::uint8_t>(self.displays.size());
      for (const auto& d : self.displays) b.displays_available = static_cast<std::uint8_t>(b.displays_available + (d.available ? 1 : 0));
      BodyWriter bw(MutableBytes(scratch.data(), scratch.size()));
      encode_beacon(bw, b);
      if (!bw.ok() || !w.append(protocol::BeaconFrame{bw.written()})) return 0;
      ++counters.beacon_out;
      return w.finish();
    }
  }
  return 0;
}

}  // namespace hana::topology
