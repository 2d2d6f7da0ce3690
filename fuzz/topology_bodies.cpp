// Fuzzes the topology receive boundary. The first byte picks the mode:
//   0: GOSSIP body decode; a body that decodes must re-encode byte-identically
//   1: BEACON body decode; same round-trip check
//   2: the rest wrapped as a GOSSIP frame in a valid datagram, fed to a Mesh with members
//   3: the rest fed to a Mesh as a raw datagram (header, checksum, every frame)
//   4: mesh-internal LINK_REPORT body decode; same round-trip check
// Mesh modes also drive timeouts and drain transmits and events, so every state the
// input can reach is exercised, and check the mesh never spins (bounded output).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "protocol/codec.h"
#include "topology/bodies.h"
#include "topology/mesh.h"

using namespace hana;
using namespace hana::topology;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void roundtrip_gossip(Bytes in) {
  GossipView v;
  if (!decode_gossip(in, v)) return;
  std::vector<std::uint8_t> out(in.size() + 64);
  BodyWriter w(out);
  const std::size_t count_at = encode_gossip_header(w, v.header);
  UpdateReader r(v);
  Update u;
  std::size_t n = 0;
  while (r.next(u)) {
    check(encode_update(w, u));
    check(encoded_size(u) > 0);
    ++n;
  }
  check(n == v.update_count);
  w.patch_u8(count_at, static_cast<std::uint8_t>(n));
  check(w.ok() && w.size() == in.size() && std::memcmp(out.data(), in.data(), in.size()) == 0);
}

void roundtrip_beacon(Bytes in) {
  Beacon b;
  if (!decode_beacon(in, b)) return;
  std::vector<std::uint8_t> out(in.size() + 64);
  BodyWriter w(out);
  encode_beacon(w, b);
  check(w.ok() && w.size() == in.size() && std::memcmp(out.data(), in.data(), in.size()) == 0);
}

void roundtrip_link_digest(Bytes in) {
  LinkDigestView view;
  if (!decode_link_digest(in, view)) return;
  check(view.count > 0 && in.size() <= 2 + std::size_t{view.count} * kMaxLinkDigestEntryBytes);
  std::vector<std::uint8_t> out(in.size() + kMaxLinkDigestBytes);
  BodyWriter w(out);
  begin_link_digest(w);
  LinkDigestReader r(view);
  LinkDigestEntry e;
  std::size_t n = 0;
  while (r.next(e)) {
    check(e.peer != 0 && e.version != 0 && e.loss_ppm <= kLossPpmMax);
    write_link_digest_entry(w, e);  // unbounded: a peer may send a larger digest than we would
    ++n;
  }
  check(n == view.count);
  w.patch_u8(1, view.count);
  check(w.ok() && w.size() == in.size() && std::memcmp(out.data(), in.data(), in.size()) == 0);
}

// A mesh that already knows a few members, so updates about them take the merge paths.
void drive(Bytes datagram, bool wrap) {
  Config cfg;
  Identity me;
  me.id = 10;
  me.listen = Address::ipv4(10, 0, 0, 10, 7000);
  Mesh mesh(cfg, me, 1, 0);
  TimeNs now = 1'000'000;
  std::vector<std::uint8_t> buf(protocol::kMaxDatagramBytes);
  // Teach it members 11..13 through valid ALIVE pushes.
  for (NodeId id = 11; id <= 13; ++id) {
    std::vector<std::uint8_t> body(128);
    BodyWriter w(body);
    GossipHeader h;
    h.kind = GossipKind::Push;
    h.sender = id;
    const auto at = encode_gossip_header(w, h);
    Update u;
    u.kind = UpdateKind::Alive;
    u.node = id;
    u.number = 1;
    u.address = Address::ipv4(10, 0, 0, static_cast<std::uint8_t>(id), 7000);
    encode_update(w, u);
    w.patch_u8(at, 1);
    protocol::Header hd;
    protocol::DatagramWriter dw(buf, buf.size(), hd);
    dw.append(protocol::GossipFrame{w.written()});
    const std::size_t size = dw.finish();
    mesh.on_datagram(u.address, Bytes(buf.data(), size), now);
  }
  const Address from = Address::ipv4(10, 0, 0, 11, 7000);
  if (wrap) {
    protocol::Header hd;
    hd.flags = protocol::kFlagShortChecksum;
    protocol::DatagramWriter dw(buf, buf.size(), hd);
    if (!dw.append(protocol::GossipFrame{datagram})) return;
    const std::size_t size = dw.finish();
    std::vector<std::uint8_t> copy(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(size));
    mesh.on_datagram(from, copy, now);
  } else {
    mesh.on_datagram(from, datagram, now);
  }
  // Run the timers for a while; output must stay bounded, and after on_timeout(now)
  // and draining, no deadline may be left at or before `now` (that would spin a loop).
  std::size_t transmits = 0;
  for (int round = 0; round < 200; ++round) {
    while (auto t = mesh.poll_transmit(buf, now)) {
      check(t->size > 0 && t->size <= buf.size());
      check(++transmits < 100'000);
    }
    while (mesh.poll_event()) {
    }
    const auto next = mesh.next_timeout();
    if (!next) break;
    if (round > 0) check(*next > now);
    now = std::max(now, *next);
    mesh.on_timeout(now);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Bytes rest(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0: roundtrip_gossip(rest); break;
    case 1: roundtrip_beacon(rest); break;
    case 2: drive(rest, true); break;
    case 3: drive(rest, false); break;
    case 4: roundtrip_link_digest(rest); break;
  }
  return 0;
}
