// Topology bodies: round trips, every malformation rejected, nothing read past the end.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "topology/bodies.h"

namespace hana::topology {
namespace {

std::vector<std::uint8_t> encode(const GossipHeader& h, const std::vector<Update>& updates) {
  std::vector<std::uint8_t> buf(2048);
  BodyWriter w(buf);
  const std::size_t count_at = encode_gossip_header(w, h);
  for (const auto& u : updates) EXPECT_TRUE(encode_update(w, u));
  w.patch_u8(count_at, static_cast<std::uint8_t>(updates.size()));
  EXPECT_TRUE(w.ok());
  buf.resize(w.size());
  return buf;
}

std::vector<Update> sample_updates() {
  std::vector<Update> out;
  Update alive;
  alive.kind = UpdateKind::Alive;
  alive.node = 0x1122334455667788ull;
  alive.number = 300;
  alive.address = Address::ipv4(10, 0, 0, 7, 7000);
  alive.eligible = false;
  alive.name = "wall-left";
  out.push_back(alive);
  Update suspect;
  suspect.kind = UpdateKind::Suspect;
  suspect.node = 5;
  suspect.number = 1;
  suspect.from = 9;
  out.push_back(suspect);
  Update dead = suspect;
  dead.kind = UpdateKind::Dead;
  out.push_back(dead);
  Update left;
  left.kind = UpdateKind::Left;
  left.node = 6;
  left.number = 2;
  out.push_back(left);
  Update coord;
  coord.kind = UpdateKind::Coordinator;
  coord.node = 3;
  coord.number = 17;
  out.push_back(coord);
  Update disp;
  disp.kind = UpdateKind::Displays;
  disp.node = 8;
  disp.number = 4;
  disp.display_count = 2;
  disp.displays[0] = WireDisplay{"d0", true, "3840x2160@60"};
  disp.displays[1] = WireDisplay{"d1", false, ""};
  out.push_back(disp);
  Update v6 = alive;
  v6.address = *Address::parse("[::1]:9");
  out.push_back(v6);
  return out;
}

TEST(Bodies, GossipRoundTripEveryKind) {
  const auto updates = sample_updates();
  for (auto kind : {GossipKind::Ping, GossipKind::Ack, GossipKind::PingReq, GossipKind::Push}) {
    for (NodeId relay : {NodeId{0}, NodeId{42}}) {
      GossipHeader h;
      h.kind = kind;
      h.sender = 77;
      const bool has_seq = kind != GossipKind::Push;
      h.seq = has_seq ? 1234567 : 0;
      const bool relayable = kind == GossipKind::Ping || kind == GossipKind::Ack;
      h.relay_for = relayable ? relay : 0;
      // A direct Ping/Ack carries no target (the Ack's sender is who answered).
      h.target = (kind == GossipKind::PingReq || h.relay_for) ? 99 : 0;
      if (relayable && relay == 0) {  // the mesh clock's timestamps (direct probes)
        h.timed = true;
        h.t1_low32 = 0x5678'9abcu;
        h.wants_mesh_time = kind == GossipKind::Ping;
        if (kind == GossipKind::Ack) {
          h.t2 = 0x7000'0000'0000'0000ull;
          h.t3 = h.t2 + 12345;
          h.has_mesh_time = true;
          h.mesh_offset_ns = -5'000'000'000'000ll;
          h.mesh_error_ns = 20'000;
        }
      }
      const auto bytes = encode(h, updates);
      GossipView v;
      ASSERT_TRUE(decode_gossip(bytes, v)) << static_cast<int>(kind);
      EXPECT_EQ(v.header, h);
      ASSERT_EQ(v.update_count, updates.size());
      UpdateReader r(v);
      Update u;
      for (const auto& expect : updates) {
        ASSERT_TRUE(r.next(u));
        EXPECT_EQ(u, expect);
        EXPECT_EQ(encoded_size(u), encoded_size(expect));
      }
      EXPECT_FALSE(r.next(u));
    }
  }
}

TEST(Bodies, EncodedSizeMatchesBytes) {
  for (const auto& u : sample_updates()) {
    std::vector<std::uint8_t> buf(512);
    BodyWriter w(buf);
    ASSERT_TRUE(encode_update(w, u));
    EXPECT_EQ(w.size(), encoded_size(u));
  }
}

TEST(Bodies, EveryTruncationRejected) {
  GossipHeader h;
  h.kind = GossipKind::Ping;
  h.sender = 1;
  h.seq = 3;
  h.target = 2;
  const auto bytes = encode(h, sample_updates());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    GossipView v;
    EXPECT_FALSE(decode_gossip(Bytes(bytes.data(), n), v)) << n;
  }
  auto longer = bytes;
  longer.push_back(0);
  GossipView v;
  EXPECT_FALSE(decode_gossip(longer, v)) << "trailing byte";
}

TEST(Bodies, BadFieldsRejected) {
  GossipHeader h;
  h.kind = GossipKind::Push;
  h.sender = 1;
  auto base = encode(h, {sample_updates()[0]});
  GossipView v;
  ASSERT_TRUE(decode_gossip(base, v));
  auto bad = base;
  bad[0] = 0;  // kind 0
  EXPECT_FALSE(decode_gossip(bad, v));
  bad = base;
  bad[0] = 9;  // unknown kind
  EXPECT_FALSE(decode_gossip(bad, v));
  bad = base;
  bad[0] = static_cast<std::uint8_t>(GossipKind::Push) | kGossipRelayed;  // relay flag on a Push
  EXPECT_FALSE(decode_gossip(bad, v));
  bad = base;
  bad[0] = static_cast<std::uint8_t>(GossipKind::Push) | kGossipTimed;  // timestamps on a Push
  EXPECT_FALSE(decode_gossip(bad, v));
  {
    GossipHeader ping;
    ping.kind = GossipKind::Ping;
    ping.sender = 1;
    auto p = encode(ping, {});
    ASSERT_TRUE(decode_gossip(p, v));
    p[0] |= kGossipMeshTime;  // mesh time (asked for or carried) only with timestamps
    EXPECT_FALSE(decode_gossip(p, v));
    ping.timed = true;
    p = encode(ping, {});
    ASSERT_TRUE(decode_gossip(p, v));
    p[0] |= 0x80;  // reserved bit
    EXPECT_FALSE(decode_gossip(p, v));
    // Timestamps on a relayed probe: its times would include the relay's hops.
    ping.relay_for = 3;
    ping.target = 2;
    p = encode(ping, {});
    ASSERT_TRUE(decode_gossip(p, v));
    EXPECT_FALSE(v.header.timed);  // the encoder leaves them off
    p[0] |= kGossipTimed;
    EXPECT_FALSE(decode_gossip(p, v));
  }
  bad = base;
  for (int i = 1; i <= 8; ++i) bad[static_cast<std::size_t>(i)] = 0;  // sender 0
  EXPECT_FALSE(decode_gossip(bad, v));
  bad = base;
  bad[10] = 7;  // update kind 7
  EXPECT_FALSE(decode_gossip(bad, v));
  bad = base;
  bad[9] = 2;  // claims two updates, has one
  EXPECT_FALSE(decode_gossip(bad, v));
  // Alive address family 5.
  bad = base;
  bad[10 + 1 + 8 + 2] = 5;
  EXPECT_FALSE(decode_gossip(bad, v));
}

TEST(Bodies, OversizedStringsRejected) {
  GossipHeader h;
  h.kind = GossipKind::Push;
  h.sender = 1;
  auto bytes = encode(h, {});
  bytes[9] = 1;
  // Alive with a 33-byte name (limit 32) written by hand.
  const std::uint8_t head[] = {1, 5, 0, 0, 0, 0, 0, 0, 0, 1, 4, 1, 0, 10, 0, 0, 1, 1, 33};
  bytes.insert(bytes.end(), std::begin(head), std::end(head));
  bytes.insert(bytes.end(), 33, 'x');
  GossipView v;
  EXPECT_FALSE(decode_gossip(bytes, v));
  bytes[bytes.size() - 34] = 32;
  bytes.pop_back();
  EXPECT_TRUE(decode_gossip(bytes, v));
}

TEST(Bodies, WriterIsAllOrNothing) {
  std::vector<std::uint8_t> buf(30);
  BodyWriter w(buf);
  GossipHeader h;
  h.kind = GossipKind::Push;
  h.sender = 1;
  encode_gossip_header(w, h);
  const std::size_t before = w.size();
  EXPECT_FALSE(encode_update(w, sample_updates()[0]));  // does not fit
  EXPECT_EQ(w.size(), before);
  EXPECT_TRUE(w.ok());
}

TEST(Bodies, BeaconRoundTripAndRejects) {
  Beacon b;
  b.node = 12;
  b.incarnation = 99999;
  b.eligible = true;
  b.coordinator = true;
  b.term = 4;
  b.coordinator_id = 12;
  b.address = Address::ipv4(192, 168, 1, 2, 4000);
  b.name = "node-a";
  b.members = 57;
  b.displays = 3;
  b.displays_available = 2;
  std::vector<std::uint8_t> buf(256);
  BodyWriter w(buf);
  encode_beacon(w, b);
  ASSERT_TRUE(w.ok());
  buf.resize(w.size());
  Beacon out;
  ASSERT_TRUE(decode_beacon(buf, out));
  EXPECT_EQ(out, b);
  for (std::size_t n = 0; n < buf.size(); ++n) EXPECT_FALSE(decode_beacon(Bytes(buf.data(), n), out)) << n;
  auto bad = buf;
  bad.back() = 4;  // more available than displays
  EXPECT_FALSE(decode_beacon(bad, out));
}

std::vector<LinkDigestEntry> read_digest(const LinkDigestView& view) {
  std::vector<LinkDigestEntry> out;
  LinkDigestReader r(view);
  LinkDigestEntry e;
  while (r.next(e)) out.push_back(e);
  return out;
}

TEST(Bodies, LinkDigestRoundTripAndRejects) {
  const std::vector<LinkDigestEntry> entries{{0x1122334455667788ull, 7, 250, 40, 5000, 1'000'000}, {11, 8, 90, 3, 0, 0}};
  std::vector<std::uint8_t> buf(kMaxLinkDigestBytes);
  BodyWriter w(buf);
  begin_link_digest(w);
  for (const auto& e : entries) ASSERT_TRUE(add_link_digest_entry(w, e));
  EXPECT_EQ(link_digest_count(w.written()), 2u);
  buf.resize(w.size());
  LinkDigestView view;
  ASSERT_TRUE(decode_link_digest(buf, view));
  EXPECT_EQ(read_digest(view), entries);
  for (std::size_t n = 0; n < buf.size(); ++n) EXPECT_FALSE(decode_link_digest(Bytes(buf.data(), n), view)) << n;
  auto trailing = buf;
  trailing.push_back(0);
  EXPECT_FALSE(decode_link_digest(trailing, view));
  auto kind = buf;
  kind[0] = 1;  // the retired one-link LINK_REPORT
  EXPECT_FALSE(decode_link_digest(kind, view));
  auto more = buf;
  more[1] = 3;  // says one entry more than it holds
  EXPECT_FALSE(decode_link_digest(more, view));
  const std::uint8_t empty[] = {2, 0};
  EXPECT_FALSE(decode_link_digest(Bytes(empty, sizeof empty), view));
  // Loss over 100 %, peer 0 and version 0 are out of range.
  for (LinkDigestEntry bad : {LinkDigestEntry{5, 1, 1, 1, kLossPpmMax + 1, 0}, LinkDigestEntry{0, 1, 1, 1, 0, 0},
                              LinkDigestEntry{5, 0, 1, 1, 0, 0}}) {
    std::vector<std::uint8_t> v(kMaxLinkDigestBytes);
    BodyWriter bw(v);
    begin_link_digest(bw);
    ASSERT_TRUE(add_link_digest_entry(bw, bad));
    v.resize(bw.size());
    EXPECT_FALSE(decode_link_digest(v, view));
  }
}

// A digest stops taking entries while a worst-case one could overflow its bound, so the
// body always fits one base-size datagram; typical entries pack ~75 to a digest.
TEST(Bodies, LinkDigestStaysWithinItsBound) {
  std::vector<std::uint8_t> buf(kMaxLinkDigestBytes);
  for (const LinkDigestEntry e : {LinkDigestEntry{~NodeId{0}, ~0ull, ~0ull, ~0ull, kLossPpmMax, ~0ull},
                                  LinkDigestEntry{0x1122334455667788ull, 300, 250, 40, 0, 0}}) {
    BodyWriter w(buf);
    begin_link_digest(w);
    std::size_t n = 0;
    while (add_link_digest_entry(w, e)) ++n;
    EXPECT_LE(w.size(), kMaxLinkDigestBytes);
    EXPECT_EQ(link_digest_count(w.written()), n);
    LinkDigestView view;
    ASSERT_TRUE(decode_link_digest(w.written(), view));
    EXPECT_EQ(view.count, n);
    if (e.rtt_us == 250) {
      EXPECT_GE(n, 70u) << "a typical entry is ~16 bytes";
    }
  }
}

std::vector<std::uint8_t> hex(const char* text) {
  std::vector<std::uint8_t> out;
  for (const char* p = text; *p;) {
    if (*p == ' ') {
      ++p;
      continue;
    }
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(p, 2), nullptr, 16)));
    p += 2;
  }
  return out;
}

// The examples of docs/wire-format.md, "Topology bodies", byte for byte.
TEST(Bodies, WireFormatDocExamples) {
  std::vector<std::uint8_t> buf(256);
  {
    BodyWriter w(buf);
    GossipHeader h;
    h.kind = GossipKind::Ping;
    h.sender = 0x0102030405060708ull;
    h.seq = 300;
    encode_gossip_header(w, h);
    EXPECT_EQ(std::vector<std::uint8_t>(w.written().begin(), w.written().end()),
              hex("01 08 07 06 05 04 03 02 01 ac 02 00"));
  }
  {
    BodyWriter w(buf);
    begin_link_digest(w);
    ASSERT_TRUE(add_link_digest_entry(w, LinkDigestEntry{11, 7, 250, 40, 5000, 1'000'000}));
    EXPECT_EQ(std::vector<std::uint8_t>(w.written().begin(), w.written().end()),
              hex("02 01 0b 00 00 00 00 00 00 00 07 fa 01 28 88 27 c0 84 3d"));
  }
  {
    BodyWriter w(buf);
    GossipHeader h;
    h.kind = GossipKind::Ack;
    h.sender = 0x1122334455667788ull;
    h.seq = 300;
    encode_gossip_header(w, h);
    EXPECT_EQ(std::vector<std::uint8_t>(w.written().begin(), w.written().end()), hex("02 88 77 66 55 44 33 22 11 ac 02 00"));
  }
  {
    BodyWriter w(buf);
    GossipHeader h;
    h.kind = GossipKind::View;
    h.sender = 0x0102030405060708ull;
    h.view_count = 6;
    h.view_digest = 0xa1b2c3d4;
    encode_gossip_header(w, h);
    EXPECT_EQ(std::vector<std::uint8_t>(w.written().begin(), w.written().end()),
              hex("05 08 07 06 05 04 03 02 01 00 06 d4 c3 b2 a1 00"));
    GossipView v;
    ASSERT_TRUE(decode_gossip(w.written(), v));
    EXPECT_EQ(v.header, h);
    std::vector<std::uint8_t> answer2 = hex("05 08 07 06 05 04 03 02 01 02 06 d4 c3 b2 a1 00");
    EXPECT_FALSE(decode_gossip(answer2, v)) << "a VIEW's seq is 0 (check) or 1 (answer)";
  }
  {
    // Mesh clock: a timed Ping (t1 = 1000) asking for mesh time, and its Ack (t2 = 5000,
    // t3 = 5020) with the responder's mesh time (offset -300, bound 1500).
    BodyWriter w(buf);
    GossipHeader h;
    h.kind = GossipKind::Ping;
    h.sender = 0x0102030405060708ull;
    h.seq = 300;
    h.timed = true;
    h.t1_low32 = 1000;
    h.wants_mesh_time = true;
    encode_gossip_header(w, h);
    EXPECT_EQ(std::vector<std::uint8_t>(w.written().begin(), w.written().end()),
              hex("61 08 07 06 05 04 03 02 01 ac 02 e8 03 00 00 00"));
    BodyWriter a(buf);
    GossipHeader ack;
    ack.kind = GossipKind::Ack;
    ack.sender = 0x1122334455667788ull;
    ack.seq = 300;
    ack.timed = true;
    ack.t1_low32 = 1000;
    ack.t2 = 5000;
    ack.t3 = 5020;
    ack.has_mesh_time = true;
    ack.mesh_offset_ns = -300;
    ack.mesh_error_ns = 1500;
    encode_gossip_header(a, ack);
    const std::vector<std::uint8_t> bytes(a.written().begin(), a.written().end());
    EXPECT_EQ(bytes, hex("62 88 77 66 55 44 33 22 11 ac 02 e8 03 00 00 88 27 14 d7 04 dc 0b 00"));
    GossipView v;
    ASSERT_TRUE(decode_gossip(bytes, v));
    EXPECT_EQ(v.header, ack);
  }
  {
    BodyWriter w(buf);
    GossipHeader h;
    h.kind = GossipKind::Push;
    h.sender = 10;
    const auto at = encode_gossip_header(w, h);
    Update u;
    u.kind = UpdateKind::Suspect;
    u.node = 11;
    u.number = 5;
    u.from = 10;
    ASSERT_TRUE(encode_update(w, u));
    w.patch_u8(at, 1);
    EXPECT_EQ(std::vector<std::uint8_t>(w.written().begin(), w.written().end()),
              hex("04 0a 00 00 00 00 00 00 00 01 02 0b 00 00 00 00 00 00 00 05 0a 00 00 00 00 00 00 00"));
  }
  auto update_bytes = [&](const Update& u) {
    BodyWriter w(buf);
    EXPECT_TRUE(encode_update(w, u));
    return std::vector<std::uint8_t>(w.written().begin(), w.written().end());
  };
  Update alive;
  alive.kind = UpdateKind::Alive;
  alive.node = 11;
  alive.number = 300;
  alive.address = Address::ipv4(10, 0, 0, 2, 7000);
  alive.name = "n2";
  EXPECT_EQ(update_bytes(alive), hex("01 0b 00 00 00 00 00 00 00 ac 02 04 58 1b 0a 00 00 02 01 02 6e 32"));
  Update coord;
  coord.kind = UpdateKind::Coordinator;
  coord.node = 10;
  coord.number = 3;
  EXPECT_EQ(update_bytes(coord), hex("05 0a 00 00 00 00 00 00 00 03"));
  Update disp;
  disp.kind = UpdateKind::Displays;
  disp.node = 11;
  disp.number = 2;
  disp.display_count = 1;
  disp.displays[0] = WireDisplay{"d0", true, "4k"};
  EXPECT_EQ(update_bytes(disp), hex("06 0b 00 00 00 00 00 00 00 02 01 02 64 30 01 02 34 6b"));
  Beacon b;
  b.node = 10;
  b.incarnation = 300;
  b.coordinator = true;
  b.term = 3;
  b.coordinator_id = 10;
  b.address = Address::ipv4(10, 0, 0, 1, 7000);
  b.name = "n1";
  b.members = 99;
  b.displays = 2;
  b.displays_available = 1;
  BodyWriter w(buf);
  encode_beacon(w, b);
  EXPECT_EQ(std::vector<std::uint8_t>(w.written().begin(), w.written().end()),
            hex("0a 00 00 00 00 00 00 00 ac 02 03 03 0a 00 00 00 00 00 00 00 04 58 1b 0a 00 00 01 02 6e 31 63 02 01"));
}

}  // namespace
}  // namespace hana::topology
