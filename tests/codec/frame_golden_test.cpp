// Golden bytes of every frame type: the examples in docs/wire-format.md, byte for byte.
#include <gtest/gtest.h>

#include "codec_test_util.h"

namespace hana::protocol::test {
namespace {

const std::uint8_t kPayload[] = {'h', 'i', '!'};
const std::uint8_t kCookie[] = {0xc0, 0x0c, 0x1e, 0x5a, 0xfe, 0xed, 0xbe, 0xef};
const std::uint8_t kText[] = {'b', 'y', 'e'};
const std::uint8_t kBody[] = {0x01, 0x02, 0x03, 0x04};

// Encodes to exactly `golden`, and `golden` decodes back to an equal frame.
void expect_golden(const Frame& frame, const ByteVec& golden) {
  EXPECT_EQ(encode_frame_bytes(frame), golden);
  EXPECT_EQ(encoded_size(frame), golden.size());
  const ByteVec datagram = wrap_frames(golden);  // decoded frames are views into it
  const auto decoded = decode_single(datagram);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(*decoded == frame);
}

TEST(FrameGolden, Padding) { expect_golden(PaddingFrame{3}, {0x00, 0x00, 0x00}); }

TEST(FrameGolden, Ping) { expect_golden(PingFrame{}, {0x01}); }

TEST(FrameGolden, AckWithThreeRanges) {
  AckFrame a;
  a.ack_delay_us = 25;
  a.range_count = 3;
  a.ranges[0] = {95, 100};
  a.ranges[1] = {90, 92};
  a.ranges[2] = {10, 10};
  expect_golden(a, {0x02, 0x19, 0x03, 0x64, 0x05, 0x01, 0x02, 0x4e, 0x00});
}

TEST(FrameGolden, DataWhole) {
  DataFrame d;
  d.lane = Lane::High;
  d.delivery = Delivery::ReliableOrdered;
  d.sequence = 7;
  d.payload = kPayload;
  expect_golden(d, {0x03, 0x00, 0x01, 0x07, 0x03, 'h', 'i', '!'});
}

TEST(FrameGolden, DataFragment) {
  DataFrame d;
  d.lane = Lane::Bulk;
  d.delivery = Delivery::ReliableUnordered;
  d.sequence = 2;
  d.fragmented = true;
  d.total_length = 3000;
  d.fragment_offset = 1400;
  d.payload = kPayload;
  expect_golden(d, {0x03, 0x01, 0x13, 0x02, 0xb8, 0x17, 0xf8, 0x0a, 0x03, 'h', 'i', '!'});
}

TEST(FrameGolden, DataLatestValue) {
  DataFrame d;
  d.lane = Lane::High;
  d.delivery = Delivery::UnreliableSequenced;
  d.sequence = 129;
  d.latest_value = true;
  d.key = 42;
  d.version = 5;
  d.payload = kPayload;
  expect_golden(d, {0x03, 0x02, 0x21, 0x81, 0x01, 0x2a, 0x05, 0x03, 'h', 'i', '!'});
}

TEST(FrameGolden, DataMeshLatestValue) {
  DataFrame d;
  d.lane = Lane::Control;
  d.delivery = Delivery::ReliableOrdered;
  d.sequence = 3;
  d.latest_value = true;
  d.mesh = true;
  d.key = 300;
  d.version = 2;
  d.payload = kPayload;
  expect_golden(d, {0x03, 0x06, 0x00, 0x03, 0xac, 0x02, 0x02, 0x03, 'h', 'i', '!'});
}

TEST(FrameGolden, Close) {
  CloseFrame c;
  c.reason = CloseReason::IdleTimeout;
  c.text = kText;
  expect_golden(c, {0x04, 0x02, 0x03, 'b', 'y', 'e'});
}

TEST(FrameGolden, Handshake) {
  HandshakeFrame h;
  h.kind = HandshakeKind::Retry;
  h.node_id = 0x0102030405060708ull;
  h.incarnation = 3;
  h.connection_id = 0xaabbccdd;
  h.cookie = kCookie;
  expect_golden(h, {0x05, 0x02, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x03, 0xdd, 0xcc, 0xbb, 0xaa,
                    0x08, 0xc0, 0x0c, 0x1e, 0x5a, 0xfe, 0xed, 0xbe, 0xef});
}

TEST(FrameGolden, Beacon) { expect_golden(BeaconFrame{kBody}, {0x06, 0x04, 0x01, 0x02, 0x03, 0x04}); }

TEST(FrameGolden, Gossip) { expect_golden(GossipFrame{kBody}, {0x07, 0x04, 0x01, 0x02, 0x03, 0x04}); }

TEST(FrameGolden, Skip) {
  SkipFrame s;
  s.lane = Lane::Normal;
  s.delivery = Delivery::ReliableOrdered;
  s.sequence = 1000;
  expect_golden(s, {0x08, 0x02, 0xe8, 0x07});
}

TEST(DatagramGolden, HeaderPingAndFullChecksum) {
  const ByteVec golden = {0x68, 0x6e, 0x02, 0x00, 0x44, 0x33, 0x22, 0x11, 0xac, 0x02,
                          0x01, 0x72, 0x31, 0xc9, 0xcf, 0xc0, 0x79, 0x53, 0x24};
  ByteVec buf(64);
  DatagramWriter w(buf, buf.size(), test_header());
  ASSERT_TRUE(w.append(PingFrame{}));
  buf.resize(w.finish());
  EXPECT_EQ(buf, golden);
  const DecodeResult r = decode_datagram(golden);
  ASSERT_TRUE(r.datagram.has_value());
  EXPECT_EQ(r.datagram->header, test_header());
  EXPECT_EQ(r.datagram->frames.size(), 1u);
}

TEST(DatagramGolden, ShortChecksum) {
  const ByteVec golden = {0x68, 0x6e, 0x02, 0x01, 0x44, 0x33, 0x22, 0x11, 0xac, 0x02, 0x01, 0xc1, 0xe5, 0x0a, 0x48};
  Header h = test_header();
  h.flags = kFlagShortChecksum;
  ByteVec buf(64);
  DatagramWriter w(buf, buf.size(), h);
  ASSERT_TRUE(w.append(PingFrame{}));
  buf.resize(w.finish());
  EXPECT_EQ(buf, golden);
  const DecodeResult r = decode_datagram(golden);
  ASSERT_TRUE(r.datagram.has_value());
  EXPECT_EQ(r.datagram->header, h);
}

// A connectionless datagram: no connection id, no packet number (docs/wire-format.md,
// the GOSSIP datagram of a timed PING).
TEST(DatagramGolden, Connectionless) {
  const ByteVec body = {0x61, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0xac, 0x02, 0xe8, 0x03, 0x00, 0x00, 0x00};
  ByteVec golden = {0x68, 0x6e, 0x02, 0x05, 0x07, 0x10};
  golden.insert(golden.end(), body.begin(), body.end());
  golden.insert(golden.end(), {0x16, 0x28, 0x50, 0x31});
  Header h;
  h.flags = kFlagShortChecksum | kFlagConnectionless;
  ByteVec buf(64);
  DatagramWriter w(buf, buf.size(), h);
  ASSERT_TRUE(w.append(GossipFrame{Bytes(body)}));
  buf.resize(w.finish());
  EXPECT_EQ(buf, golden);
  EXPECT_EQ(datagram_overhead(h), 8u);
  const DecodeResult r = decode_datagram(golden);
  ASSERT_TRUE(r.datagram.has_value());
  EXPECT_EQ(r.datagram->header, h);
  EXPECT_EQ(r.datagram->header.connection_id, kConnectionlessId);
  EXPECT_EQ(r.datagram->frames.size(), 2u + body.size());  // frame type, length, body
}

// Connectionless means connection id and packet number 0: a writer asked for anything
// else refuses, rather than dropping them silently.
TEST(DatagramGolden, ConnectionlessCarriesNoConnection) {
  ByteVec buf(64);
  Header h;
  h.flags = kFlagConnectionless;
  h.connection_id = 7;
  EXPECT_FALSE(DatagramWriter(buf, buf.size(), h).ok());
  h.connection_id = kConnectionlessId;
  h.packet_number = 1;
  EXPECT_FALSE(DatagramWriter(buf, buf.size(), h).ok());
}

}  // namespace
}  // namespace hana::protocol::test
