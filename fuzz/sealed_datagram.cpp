// Fuzz target: the receive path of a keyed mesh, behind the seal and in front of it (after
// msquic's recvfuzz). The first input byte picks the mode:
//   bit 0 clear: the rest goes to Mesh::on_datagram as it is: garbage at the open path;
//   bit 0 set:   the rest is a plain datagram (header | frames); the harness appends its
//                checksum trailer and seals it under the mesh's fixed test key, so every
//                mutation is authentic and reaches the frame and body parsers;
//   bit 1 set:   (with bit 0) its connection id is replaced by the live connection's, so
//                it reaches the connection's frame handling too.
// Time moves 1 µs per input so the sealed counters stay fresh and never repeat.
#include <cstdint>
#include <cstring>
#include <vector>

#include <xxhash.h>

#include "protocol/seal.h"
#include "topology/mesh.h"

using namespace hana;

namespace {

constexpr TimeNs kStart = 1'000 * kNsPerSec;

PresharedKey test_key() {
  PresharedKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i * 7 + 1);
  return k;
}

topology::Sealing sealing(std::uint8_t salt) {
  topology::Sealing s;
  s.sealer = std::move(*protocol::Sealer::create(std::vector<PresharedKey>{test_key()}));
  s.salt.fill(salt);
  return s;
}

topology::Identity identity(NodeId id, std::uint8_t octet) {
  topology::Identity me;
  me.id = id;
  me.name = "f" + std::to_string(id);
  me.listen = Address::ipv4(10, 0, 0, octet, 7000);
  return me;
}

struct Harness {
  Config config;
  topology::Mesh target{config, identity(2, 2), 2, kStart, sealing(2)};
  topology::Mesh peer{config, identity(1, 1), 1, kStart, sealing(1)};
  protocol::Sealer sealer = *protocol::Sealer::create(std::vector<PresharedKey>{test_key()});
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(protocol::kMaxDatagramBytes);
  TimeNs now = kStart;
  std::uint32_t live_cid = 0;

  // Runs the two meshes against each other until the peer has a connection to the target.
  Harness() {
    (void)peer.add_seed(identity(2, 2).listen, now);
    for (int round = 0; round < 200 && live_cid == 0; ++round) {
      now += 100 * kNsPerUs;
      exchange(peer, target, identity(1, 1).listen);
      exchange(target, peer, identity(2, 2).listen);
      peer.on_timeout(now);
      target.on_timeout(now);
      if (!peer.members().empty() && peer.members()[0].connected) {
        const std::uint8_t hi[2] = {'h', 'i'};
        (void)peer.send(2, hi, {}, now);
        if (auto t = peer.poll_transmit(buf, now)) std::memcpy(&live_cid, buf.data() + 4, 4);
      }
    }
  }
  void exchange(topology::Mesh& from, topology::Mesh& to, const Address& from_address) {
    while (auto t = from.poll_transmit(buf, now)) (void)to.on_datagram(from_address, {buf.data(), t->size}, now);
    while (from.poll_event()) {
    }
  }
  void drain() {
    while (target.poll_transmit(buf, now)) {
    }
    while (target.poll_event()) {
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Harness h;
  if (size < 1 || size > protocol::kMaxDatagramBytes - protocol::kSealOverhead) return 0;
  const std::uint8_t mode = data[0];
  ++data;
  --size;
  h.now += kNsPerUs;
  const Address from = Address::ipv4(10, 0, 0, 1, 7000);
  if (!(mode & 1)) {
    (void)h.target.on_datagram(from, {data, size}, h.now);
  } else {
    static std::vector<std::uint8_t> d(protocol::kMaxDatagramBytes);
    std::memcpy(d.data(), data, size);
    if (size >= 8 && (mode & 2)) std::memcpy(d.data() + 4, &h.live_cid, 4);
    // A well-formed plain trailer (the seal drops it), so the seal accepts the datagram.
    const std::size_t trailer = size >= 4 && (d[3] & protocol::kFlagShortChecksum) ? 4 : 8;
    const std::uint64_t sum = XXH3_64bits(d.data(), size);
    for (std::size_t i = 0; i < trailer; ++i) d[size + i] = static_cast<std::uint8_t>(sum >> (8 * i));
    const std::size_t n = h.sealer.seal(d, size + trailer, protocol::Salt{9}, h.now / kNsPerUs);
    if (n) (void)h.target.on_datagram(from, {d.data(), n}, h.now);
  }
  h.drain();
  return 0;
}
