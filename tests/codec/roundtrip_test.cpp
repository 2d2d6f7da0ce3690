// Round trips, writer limits and varints.
#include <gtest/gtest.h>

#include <xxhash.h>

#include <random>

#include "codec_test_util.h"

namespace hana::protocol::test {
namespace {

TEST(Varint, SizesAndBoundaries) {
  const std::uint64_t values[] = {0, 1, 127, 128, 16383, 16384, (1ull << 35), ~0ull};
  const std::size_t sizes[] = {1, 1, 1, 2, 2, 3, 6, 10};
  for (std::size_t i = 0; i < std::size(values); ++i) {
    std::uint8_t buf[10];
    ASSERT_EQ(write_varint(buf, values[i]), sizes[i]);
    EXPECT_EQ(varint_size(values[i]), sizes[i]);
    std::uint64_t back = 0;
    EXPECT_EQ(read_varint({buf, sizes[i]}, back), sizes[i]);
    EXPECT_EQ(back, values[i]);
    bool bad = false;
    EXPECT_EQ(read_varint({buf, sizes[i] - 1}, back, &bad), 0u);  // truncated
    EXPECT_FALSE(bad);
  }
}

// varint_size is computed from the bit width, read_varint decodes one byte inline: both
// against the byte-loop definition at every 7-bit boundary.
TEST(Varint, SizeAndReadAgreeWithTheByteLoopAtEveryBoundary) {
  const auto loop_size = [](std::uint64_t v) {
    std::size_t n = 1;
    for (; v >= 0x80; v >>= 7) ++n;
    return n;
  };
  for (int k = 0; k < 64; ++k) {
    for (std::uint64_t v : {(std::uint64_t{1} << k) - 1, std::uint64_t{1} << k, (std::uint64_t{1} << k) + 1}) {
      ASSERT_EQ(varint_size(v), loop_size(v)) << v;
      std::uint8_t buf[10];
      const std::size_t n = write_varint(buf, v);
      ASSERT_EQ(n, loop_size(v));
      std::uint64_t back = ~v;
      bool bad = true;
      EXPECT_EQ(read_varint({buf, n}, back, &bad), n) << v;
      EXPECT_EQ(back, v);
      EXPECT_FALSE(bad);
    }
  }
  std::uint64_t v = 0;
  const std::uint8_t overlong[] = {0x80, 0x00};  // 0 in two bytes: not the shortest form
  bool bad = false;
  EXPECT_EQ(read_varint(overlong, v, &bad), 0u);
  EXPECT_TRUE(bad);
  EXPECT_EQ(read_varint({}, v, &bad), 0u);  // empty: truncated, not bad
  EXPECT_FALSE(bad);
}

TEST(Varint, WriteFailsWhenBufferTooSmall) {
  std::uint8_t buf[1];
  EXPECT_EQ(write_varint(buf, 300), 0u);
}

TEST(RoundTrip, TypicalDatagramAckPlusThreeData) {
  const std::uint8_t payload[64] = {};
  AckFrame ack;
  ack.ack_delay_us = 40;
  ack.range_count = 2;
  ack.ranges[0] = {1000, 1010};
  ack.ranges[1] = {900, 990};
  std::vector<Frame> frames = {ack};
  for (std::uint64_t s = 0; s < 3; ++s) {
    DataFrame d;
    d.lane = static_cast<Lane>(s);
    d.sequence = 100 + s;
    d.payload = payload;
    frames.push_back(d);
  }
  ByteVec buf(kDefaultDatagramBytes);
  Header h = test_header();
  DatagramWriter w(buf, buf.size(), h);
  for (const auto& f : frames) ASSERT_TRUE(w.append(f));
  buf.resize(w.finish());

  const DecodeResult r = decode_datagram(buf);
  ASSERT_TRUE(r.datagram.has_value());
  EXPECT_EQ(r.datagram->header, h);
  FrameReader reader(r.datagram->frames);
  Frame f;
  std::size_t i = 0;
  while (reader.next(f)) {
    ASSERT_LT(i, frames.size());
    EXPECT_TRUE(f == frames[i]) << "frame " << i;
    ++i;
  }
  EXPECT_EQ(i, frames.size());
  EXPECT_FALSE(reader.error().has_value());
}

// Large datagrams take the AVX2 build of XXH3 (checksum_avx2.cpp) on CPUs with AVX2; the trailer
// must still be the reference XXH3-64 of the covered bytes (the wire format's checksum),
// at every size around the switch-over and up to loopback's 64 KiB datagrams.
TEST(RoundTrip, LargeDatagramChecksumIsPlainXxh3) {
  std::mt19937_64 rng(11);
  ByteVec payload(65000);
  for (auto& b : payload) b = static_cast<std::uint8_t>(rng());
  for (std::size_t size : {900u, 1000u, 1023u, 1024u, 1025u, 1452u, 9000u, 65000u}) {
    DataFrame d;
    d.lane = Lane::Bulk;
    d.sequence = 7;
    d.payload = Bytes(payload.data(), size);
    ByteVec buf(kMaxDatagramBytes);
    DatagramWriter w(buf, buf.size(), test_header());
    ASSERT_TRUE(w.append(d)) << size;
    buf.resize(w.finish());
    ASSERT_GT(buf.size(), size);
    std::uint64_t trailer = 0;
    for (int i = 0; i < 8; ++i) trailer |= std::uint64_t{buf[buf.size() - 8 + i]} << (8 * i);  // little-endian
    EXPECT_EQ(trailer, XXH3_64bits(buf.data(), buf.size() - 8)) << size;
    const DecodeResult r = decode_datagram(buf);
    EXPECT_TRUE(r.datagram.has_value()) << size;
    buf.back() ^= 1;
    EXPECT_FALSE(decode_datagram(buf).datagram.has_value()) << size;
  }
}

TEST(RoundTrip, RandomAcksWithMaxRanges) {
  std::mt19937_64 rng(7);
  for (int iter = 0; iter < 200; ++iter) {
    AckFrame a;
    a.ack_delay_us = rng() % 100000;
    a.range_count = static_cast<std::uint8_t>(1 + rng() % kMaxAckRanges);
    std::uint64_t next = (1ull << 40) + rng() % 1000;
    for (std::size_t i = 0; i < a.range_count; ++i) {
      const std::uint64_t len = rng() % 50;
      a.ranges[i] = {next - len, next};
      next = next - len - 2 - rng() % 20;
    }
    const ByteVec datagram = wrap_frames(encode_frame_bytes(a));
    const auto decoded = decode_single(datagram);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_TRUE(*decoded == Frame{a});
  }
}

TEST(Writer, RejectsFramesThatDoNotFitAndLeavesBufferUsable) {
  ByteVec buf(64);
  DatagramWriter w(buf, 40, test_header());
  ASSERT_TRUE(w.ok());
  const std::uint8_t big[64] = {};
  DataFrame d;
  d.payload = big;
  EXPECT_FALSE(w.append(d));
  EXPECT_TRUE(w.append(PingFrame{}));
  const std::size_t n = w.finish();
  EXPECT_LE(n, 40u);
  buf.resize(n);
  EXPECT_TRUE(decode_datagram(buf).datagram.has_value());
}

TEST(Writer, RejectsUnencodableFrames) {
  ByteVec buf(256);
  DatagramWriter w(buf, buf.size(), test_header());
  AckFrame overlapping;
  overlapping.range_count = 2;
  overlapping.ranges[0] = {10, 20};
  overlapping.ranges[1] = {5, 9};  // touches 10: must be separated by a gap
  EXPECT_FALSE(w.append(overlapping));
  AckFrame empty;
  EXPECT_FALSE(w.append(empty));
  DataFrame bad_fragment;
  bad_fragment.fragmented = true;
  bad_fragment.total_length = 0;
  EXPECT_FALSE(w.append(bad_fragment));
  EXPECT_EQ(w.frame_count(), 0u);
  EXPECT_EQ(w.finish(), 0u);  // nothing to send
}

TEST(Writer, HeaderThatDoesNotFitIsNotOk) {
  ByteVec buf(8);
  DatagramWriter w(buf, buf.size(), test_header());
  EXPECT_FALSE(w.ok());
  EXPECT_FALSE(w.append(PingFrame{}));
}

TEST(Writer, FrameCountLimit) {
  ByteVec buf(1024);
  DatagramWriter w(buf, buf.size(), test_header());
  for (std::size_t i = 0; i < kMaxFramesPerDatagram; ++i) ASSERT_TRUE(w.append(PingFrame{}));
  EXPECT_FALSE(w.append(PingFrame{}));
}

TEST(Writer, OverheadHelpersMatchTheWire) {
  const Header h = test_header();
  ByteVec buf(256);
  DatagramWriter w(buf, buf.size(), h);
  ASSERT_TRUE(w.append(PingFrame{}));
  EXPECT_EQ(w.finish(), datagram_overhead(h) + 1);
  DataFrame d;
  d.sequence = 300;
  d.fragmented = true;
  d.total_length = 5000;
  d.fragment_offset = 1000;
  const std::uint8_t p[100] = {};
  d.payload = p;
  EXPECT_EQ(encoded_size(d), data_frame_overhead(d, 100) + 100);
}

}  // namespace
}  // namespace hana::protocol::test
