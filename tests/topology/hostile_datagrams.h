// Hand-made connectionless datagrams an attacker on the LAN could send (well-formed,
// correct checksum): beacons and gossip naming whatever it likes. For the hostile-input
// tests (hostile_test.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "protocol/codec.h"
#include "topology/bodies.h"

namespace hana::topology::test {

// One connectionless datagram carrying `frame`.
template <class Frame>
std::vector<std::uint8_t> connectionless(const Frame& frame) {
  std::vector<std::uint8_t> buf(2048);
  protocol::Header header;
  header.flags = protocol::kFlagShortChecksum;
  header.connection_id = protocol::kConnectionlessId;
  protocol::DatagramWriter w(buf, buf.size(), header);
  if (!w.append(frame)) return {};
  buf.resize(w.finish());
  return buf;
}

inline std::vector<std::uint8_t> beacon_datagram(const Beacon& b) {
  std::vector<std::uint8_t> body(512);
  BodyWriter w(body);
  encode_beacon(w, b);
  body.resize(w.size());
  protocol::BeaconFrame f;
  f.body = body;
  return connectionless(f);
}

// A gossip Push from `sender` with the given updates.
inline std::vector<std::uint8_t> gossip_datagram(NodeId sender, const std::vector<Update>& updates) {
  std::vector<std::uint8_t> body(1024);
  BodyWriter w(body);
  GossipHeader h;
  h.kind = GossipKind::Push;
  h.sender = sender;
  const std::size_t count_at = encode_gossip_header(w, h);
  std::uint8_t n = 0;
  for (const Update& u : updates) n += encode_update(w, u) ? 1 : 0;
  w.patch_u8(count_at, n);
  body.resize(w.size());
  protocol::GossipFrame f;
  f.body = body;
  return connectionless(f);
}

}  // namespace hana::topology::test
