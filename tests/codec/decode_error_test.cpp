// One test per malformed case: each is rejected with its own typed error.
#include <gtest/gtest.h>

#include "codec_test_util.h"

namespace hana::protocol::test {
namespace {

DecodeError datagram_error(const ByteVec& d) {
  const DecodeResult r = decode_datagram(d);
  EXPECT_FALSE(r.datagram.has_value());
  return r.error;
}

TEST(DecodeError, EmptyAndTinyDatagramsAreTruncated) {
  EXPECT_EQ(datagram_error({}), DecodeError::Truncated);
  EXPECT_EQ(datagram_error({0x68, 0x6e, kWireVersion}), DecodeError::Truncated);
  // A connectionless header is 4 bytes, but a trailer must follow it.
  EXPECT_EQ(datagram_error({0x68, 0x6e, kWireVersion, kFlagConnectionless | kFlagShortChecksum, 0x01, 0, 0}),
            DecodeError::Truncated);
  EXPECT_EQ(datagram_error({0x68, 0x6e, kWireVersion, kFlagConnectionless, 0x01, 0, 0, 0, 0, 0, 0}),
            DecodeError::Truncated);
}

TEST(DecodeError, BadMagic) {
  ByteVec d = wrap_frames({0x01});
  d[0] = 'x';
  EXPECT_EQ(datagram_error(d), DecodeError::BadMagic);
}

TEST(DecodeError, UnknownVersion) {
  Header h = test_header();
  h.version = 1;  // the previous wire version: its GOSSIP probe bodies read differently
  EXPECT_EQ(datagram_error(wrap_frames({0x01}, h)), DecodeError::UnknownVersion);
  h.version = kWireVersion + 1;
  EXPECT_EQ(datagram_error(wrap_frames({0x01}, h)), DecodeError::UnknownVersion);
}

TEST(DecodeError, UnknownHeaderFlags) {
  Header h = test_header();
  h.flags = 0x80;
  EXPECT_EQ(datagram_error(wrap_frames({0x01}, h)), DecodeError::UnknownHeaderFlags);
}

TEST(DecodeError, BadChecksumOnAnyFlippedBit) {
  const ByteVec good = wrap_frames({0x01, 0x01});
  for (std::size_t i = 4; i < good.size(); ++i) {
    ByteVec d = good;
    d[i] ^= 0x10;
    EXPECT_EQ(datagram_error(d), DecodeError::BadChecksum) << "byte " << i;
  }
}

TEST(DecodeError, TruncatedPacketNumber) {
  // Header whose packet-number varint never terminates before the (valid) checksum.
  ByteVec raw = {kMagic0, kMagic1, kWireVersion, 0, 1, 0, 0, 0, 0x80};
  EXPECT_EQ(datagram_error(seal(raw)), DecodeError::Truncated);
}

TEST(DecodeError, TruncatedFrameBody) { EXPECT_EQ(frame_error({0x02}), DecodeError::Truncated); }

TEST(DecodeError, UnknownFrameType) { EXPECT_EQ(frame_error({0x7f}), DecodeError::UnknownFrame); }

TEST(DecodeError, TooManyFrames) {
  ByteVec pings(kMaxFramesPerDatagram + 1, 0x01);
  EXPECT_EQ(frame_error(pings), DecodeError::TooManyFrames);
  ByteVec ok(kMaxFramesPerDatagram, 0x01);
  EXPECT_EQ(frame_error(ok), std::nullopt);
}

TEST(DecodeError, OverlongVarint) {
  // 0x80 0x00 encodes 0 in two bytes: not the shortest form.
  EXPECT_EQ(frame_error({0x08, 0x02, 0x80, 0x00}), DecodeError::BadVarint);
  // 11 continuation bytes: longer than any 64-bit value.
  ByteVec f = {0x08, 0x02};
  for (int i = 0; i < 11; ++i) f.push_back(0xff);
  EXPECT_EQ(frame_error(f), DecodeError::BadVarint);
}

TEST(DecodeError, BadLane) { EXPECT_EQ(frame_error({0x08, 0x04, 0x01}), DecodeError::BadLane); }

TEST(DecodeError, BadDelivery) { EXPECT_EQ(frame_error({0x08, 0x42, 0x01}), DecodeError::BadDelivery); }

TEST(DecodeError, UnknownDataFlags) {
  EXPECT_EQ(frame_error({0x03, 0x80, 0x01, 0x07, 0x00}), DecodeError::UnknownDataFlags);
}

TEST(DecodeError, AckRangeCountZeroOrTooMany) {
  EXPECT_EQ(frame_error({0x02, 0x00, 0x00, 0x05, 0x00}), DecodeError::RangeOverflow);
  EXPECT_EQ(frame_error({0x02, 0x00, 0x21, 0x05, 0x00}), DecodeError::RangeOverflow);
}

TEST(DecodeError, AckFirstRangeBelowZero) {
  // largest 5, first range length 6: would reach packet -1.
  EXPECT_EQ(frame_error({0x02, 0x00, 0x01, 0x05, 0x06}), DecodeError::RangeOverflow);
}

TEST(DecodeError, AckGapBelowZero) {
  // largest 10, first len 0 -> [10,10]; gap 9 would put the next range at -1.
  EXPECT_EQ(frame_error({0x02, 0x00, 0x02, 0x0a, 0x00, 0x09, 0x00}), DecodeError::RangeOverflow);
}

TEST(DecodeError, DataPayloadLongerThanDatagram) {
  EXPECT_EQ(frame_error({0x03, 0x00, 0x01, 0x07, 0x10, 'h', 'i'}), DecodeError::Truncated);
}

TEST(DecodeError, FragmentBeyondTotal) {
  // total 4, offset 3, payload 3 bytes: ends at 6 > 4.
  EXPECT_EQ(frame_error({0x03, 0x01, 0x03, 0x00, 0x04, 0x03, 0x03, 'a', 'b', 'c'}), DecodeError::BadFragment);
}

TEST(DecodeError, FragmentTotalZeroOrOverHardCap) {
  EXPECT_EQ(frame_error({0x03, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00}), DecodeError::BadFragment);
  ByteVec f = {0x03, 0x01, 0x03, 0x00};
  std::uint8_t v[10];
  const std::size_t n = write_varint(v, kMaxMessageBytesHardCap + 1);
  f.insert(f.end(), v, v + n);
  f.insert(f.end(), {0x00, 0x00});
  EXPECT_EQ(frame_error(f), DecodeError::BadFragment);
}

TEST(DecodeError, CloseReasonOutOfRange) { EXPECT_EQ(frame_error({0x04, 0x09, 0x00}), DecodeError::BadEnum); }

TEST(DecodeError, CloseTextTooLong) {
  ByteVec f = {0x04, 0x00, 0x80, 0x02};  // 256 bytes announced
  f.resize(f.size() + 256, 'x');
  EXPECT_EQ(frame_error(f), DecodeError::TooLong);
}

TEST(DecodeError, HandshakeKindOutOfRange) {
  EXPECT_EQ(frame_error({0x05, 0x00}), DecodeError::BadEnum);
  EXPECT_EQ(frame_error({0x05, 0x05}), DecodeError::BadEnum);
}

TEST(DecodeError, HandshakeCookieTooLong) {
  ByteVec f = {0x05, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0x00, 1, 2, 3, 4, 33};
  f.resize(f.size() + 33, 0xaa);
  EXPECT_EQ(frame_error(f), DecodeError::TooLong);
}

TEST(DecodeError, HandshakeTruncated) { EXPECT_EQ(frame_error({0x05, 0x01, 1, 2, 3}), DecodeError::Truncated); }

TEST(DecodeError, BeaconBodyTruncated) { EXPECT_EQ(frame_error({0x06, 0x05, 1, 2}), DecodeError::Truncated); }

TEST(DecodeError, ErrorStopsTheReader) {
  // A good PING, then garbage: one frame read, then the error.
  const ByteVec d = wrap_frames({0x01, 0x7f, 0x01});
  const DecodeResult r = decode_datagram(d);
  ASSERT_TRUE(r.datagram.has_value());
  FrameReader reader(r.datagram->frames);
  Frame f;
  EXPECT_TRUE(reader.next(f));
  EXPECT_FALSE(reader.next(f));
  EXPECT_EQ(reader.error(), DecodeError::UnknownFrame);
  EXPECT_FALSE(reader.next(f));
  EXPECT_EQ(reader.frames_read(), 1u);
}

TEST(DecodeError, EveryErrorHasAName) {
  for (std::size_t i = 0; i < kDecodeErrorCount; ++i)
    EXPECT_NE(to_string(static_cast<DecodeError>(i)), "?") << i;
}

}  // namespace
}  // namespace hana::protocol::test
