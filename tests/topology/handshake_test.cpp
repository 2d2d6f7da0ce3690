// The dialer's responder side, driven by hand-made handshake datagrams: a Hello costs
// the responder no state, only a HelloCookie echoing its cookie from the same address
// admits a member, and a forged cookie is counted and dropped.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "protocol/codec.h"
#include "topology/mesh.h"

namespace hana::topology {
namespace {

const Address kResponder = Address::ipv4(10, 0, 0, 2, 7000);
const Address kInitiator = Address::ipv4(10, 0, 0, 1, 7000);
constexpr NodeId kInitiatorId = 1;

std::vector<std::uint8_t> handshake(protocol::HandshakeKind kind, protocol::Bytes cookie = {}) {
  std::vector<std::uint8_t> buf(512);
  protocol::Header header;
  header.flags = protocol::kFlagShortChecksum;
  header.connection_id = protocol::kConnectionlessId;
  protocol::DatagramWriter w(buf, buf.size(), header);
  protocol::HandshakeFrame h;
  h.kind = kind;
  h.node_id = kInitiatorId;
  h.incarnation = 1;
  h.connection_id = 0x1234;
  h.cookie = cookie;
  EXPECT_TRUE(w.append(h));
  buf.resize(w.finish());
  return buf;
}

// The handshake frame of the next datagram `m` sends to the initiator, if any.
std::optional<protocol::HandshakeFrame> reply(Mesh& m, std::vector<std::uint8_t>& buf) {
  buf.assign(2048, 0);
  for (auto t = m.poll_transmit(buf, 0); t; t = m.poll_transmit(buf, 0)) {
    if (t->to != kInitiator) continue;
    const auto d = protocol::decode_datagram(protocol::Bytes(buf.data(), t->size));
    if (!d.datagram) continue;
    protocol::FrameReader r(d.datagram->frames);
    protocol::Frame f;
    while (r.next(f))
      if (auto* h = std::get_if<protocol::HandshakeFrame>(&f)) return *h;
  }
  return std::nullopt;
}

TEST(Handshake, CookieAdmitsAndForgeryIsDropped) {
  Identity me;
  me.id = 2;
  me.listen = kResponder;
  Mesh m(Config{}, me, 5, 0);
  std::vector<std::uint8_t> buf;

  // Hello: a Retry with a cookie, and still no member.
  ASSERT_EQ(m.on_datagram(kInitiator, handshake(protocol::HandshakeKind::Hello), 10), DatagramVerdict::Accepted);
  const auto retry = reply(m, buf);
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->kind, protocol::HandshakeKind::Retry);
  const std::vector<std::uint8_t> cookie(retry->cookie.begin(), retry->cookie.end());
  ASSERT_FALSE(cookie.empty());
  EXPECT_TRUE(m.members().empty());

  // A forged cookie: counted, dropped, no member.
  std::vector<std::uint8_t> forged = cookie;
  forged[0] ^= 1;
  m.on_datagram(kInitiator, handshake(protocol::HandshakeKind::HelloCookie, forged), 20);
  EXPECT_EQ(m.counters().bad_cookies, 1u);
  EXPECT_FALSE(reply(m, buf));
  EXPECT_TRUE(m.members().empty());

  // The real cookie from the address it was made for: Accept, and a connected member.
  m.on_datagram(kInitiator, handshake(protocol::HandshakeKind::HelloCookie, cookie), 30);
  const auto accept = reply(m, buf);
  ASSERT_TRUE(accept);
  EXPECT_EQ(accept->kind, protocol::HandshakeKind::Accept);
  ASSERT_EQ(m.members().size(), 1u);
  EXPECT_EQ(m.members()[0].id, kInitiatorId);
  EXPECT_TRUE(m.members()[0].connected);
}

}  // namespace
}  // namespace hana::topology
