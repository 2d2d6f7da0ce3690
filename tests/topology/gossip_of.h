// The connectionless GOSSIP body in a datagram a simulated node sends, for tests that
// filter the simulator's traffic by what it says (Cluster::on_send).
#pragma once

#include <cstdint>
#include <span>
#include <variant>

#include "protocol/codec.h"
#include "topology/bodies.h"

namespace hana::topology::test {

inline bool gossip_of(std::span<const std::uint8_t> datagram, GossipView& view) {
  const auto d = protocol::decode_datagram(protocol::Bytes(datagram.data(), datagram.size()));
  if (!d.datagram || d.datagram->header.connection_id != protocol::kConnectionlessId) return false;
  protocol::FrameReader r(d.datagram->frames);
  protocol::Frame f;
  while (r.next(f))
    if (auto* g = std::get_if<protocol::GossipFrame>(&f)) return decode_gossip(g->body, view);
  return false;
}

}  // namespace hana::topology::test
