// A datagram whose payload is appended by reference (a scatter-gather send) is, once
// joined, byte for byte the datagram a plain writer makes: the wire does not change.
#include <gtest/gtest.h>

#include <numeric>

#include "codec_test_util.h"

namespace hana::protocol::test {
namespace {

DataFrame fragment_of(Bytes payload, std::uint64_t sequence) {
  DataFrame d;
  d.lane = Lane::Bulk;
  d.delivery = Delivery::ReliableOrdered;
  d.sequence = sequence;
  d.fragmented = true;
  d.total_length = 1 << 20;
  d.fragment_offset = 4096;
  d.payload = payload;
  return d;
}

AckFrame one_range_ack() {
  AckFrame a;
  a.ack_delay_us = 25;
  a.range_count = 1;
  a.ranges[0] = {90, 120};
  return a;
}

// Writes ACK, DATA (by reference or copied), then a PING after it, and returns the
// datagram as the wire sees it.
ByteVec written(Bytes payload, bool by_reference, Gathered* gathered = nullptr) {
  ByteVec buf(2048, 0xee);
  DatagramWriter w(buf, buf.size(), test_header());
  EXPECT_TRUE(w.append(one_range_ack()));
  const DataFrame d = fragment_of(payload, 7);
  EXPECT_TRUE(by_reference ? w.append_by_reference(d) : w.append(d));
  EXPECT_EQ(w.has_external(), by_reference);
  EXPECT_TRUE(w.append(PingFrame{}));  // a frame after the external piece still fits
  const std::size_t in_buffer = w.finish();
  EXPECT_GT(in_buffer, 0u);
  const Gathered g = w.gathered();
  if (gathered) *gathered = g;
  const std::size_t size = flatten(buf, in_buffer, g);
  buf.resize(size);
  return buf;
}

// Sizes on both sides of XXH3's short-input (240 B) and vector (1 KiB) paths.
TEST(GatheredWriter, JoinedItIsThePlainWritersDatagram) {
  for (std::size_t n : {1u, 100u, 230u, 700u, 1024u, 1400u, 1900u}) {
    ByteVec payload(n);
    std::iota(payload.begin(), payload.end(), static_cast<std::uint8_t>(n));
    Gathered g;
    const ByteVec gathered = written(payload, true, &g);
    EXPECT_EQ(gathered, written(payload, false)) << n;
    EXPECT_EQ(g.external.data(), payload.data()) << "the payload was copied, not referenced";
    EXPECT_TRUE(decode_datagram(gathered).datagram.has_value()) << n;
  }
}

// The writer's budget counts the external bytes: what fits is what a plain writer fits.
TEST(GatheredWriter, TheExternalPayloadCountsAgainstTheDatagramCap) {
  ByteVec payload(1000, 1);
  ByteVec buf(2048);
  DatagramWriter plain(buf, 1100, test_header());
  DatagramWriter by_ref(buf, 1100, test_header());
  ASSERT_TRUE(plain.append(fragment_of(payload, 1)));
  ASSERT_TRUE(by_ref.append_by_reference(fragment_of(payload, 1)));
  EXPECT_EQ(by_ref.remaining(), plain.remaining());
  ByteVec too_big(1100, 1);
  DatagramWriter w(buf, 1100, test_header());
  EXPECT_FALSE(w.append_by_reference(fragment_of(too_big, 1)));
  EXPECT_FALSE(w.has_external());
}

// A second payload by reference is copied: one external piece per datagram.
TEST(GatheredWriter, ASecondPayloadByReferenceIsCopied) {
  ByteVec a(300, 0xa), b(300, 0xb);
  ByteVec buf(2048);
  DatagramWriter w(buf, buf.size(), test_header());
  ASSERT_TRUE(w.append_by_reference(fragment_of(a, 1)));
  ASSERT_TRUE(w.append_by_reference(fragment_of(b, 2)));
  const std::size_t in_buffer = w.finish();
  const Gathered g = w.gathered();
  EXPECT_EQ(g.external.data(), a.data());
  buf.resize(std::max(buf.size(), in_buffer + g.external.size()));
  const std::size_t size = flatten(buf, in_buffer, g);

  ByteVec plain_buf(2048);
  DatagramWriter p(plain_buf, plain_buf.size(), test_header());
  ASSERT_TRUE(p.append(fragment_of(a, 1)));
  ASSERT_TRUE(p.append(fragment_of(b, 2)));
  const std::size_t plain_size = p.finish();
  ASSERT_EQ(size, plain_size);
  EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(size), plain_buf.begin()));
}

}  // namespace
}  // namespace hana::protocol::test
