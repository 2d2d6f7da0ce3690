#include "codec_test_util.h"

#include <xxhash.h>

namespace hana::protocol::test {

ByteVec wrap_frames(const ByteVec& frame_bytes, Header h) {
  ByteVec out = {kMagic0, kMagic1, h.version, h.flags};
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(h.connection_id >> (8 * i)));
  std::uint8_t pn[10];
  const std::size_t n = write_varint(pn, h.packet_number);
  out.insert(out.end(), pn, pn + n);
  out.insert(out.end(), frame_bytes.begin(), frame_bytes.end());
  return seal(out, (h.flags & kFlagShortChecksum) != 0);
}

ByteVec seal(ByteVec raw, bool short_checksum) {
  const std::uint64_t sum = XXH3_64bits(raw.data(), raw.size());
  const int trailer = short_checksum ? 4 : 8;
  for (int i = 0; i < trailer; ++i) raw.push_back(static_cast<std::uint8_t>(sum >> (8 * i)));
  return raw;
}

ByteVec encode_frame_bytes(const Frame& frame) {
  ByteVec buf(2048);
  const Header h = test_header();
  DatagramWriter w(buf, buf.size(), h);
  EXPECT_TRUE(w.append(frame));
  const std::size_t n = w.finish();
  const std::size_t head = datagram_overhead(h) - 8;
  return ByteVec(buf.begin() + static_cast<std::ptrdiff_t>(head), buf.begin() + static_cast<std::ptrdiff_t>(n - 8));
}

std::optional<Frame> decode_single(const ByteVec& datagram) {
  const DecodeResult r = decode_datagram(datagram);
  if (!r.datagram) {
    ADD_FAILURE() << "datagram rejected: " << to_string(r.error);
    return std::nullopt;
  }
  FrameReader reader(r.datagram->frames);
  Frame f;
  if (!reader.next(f)) {
    ADD_FAILURE() << "no frame";
    return std::nullopt;
  }
  Frame extra;
  EXPECT_FALSE(reader.next(extra)) << "more than one frame";
  EXPECT_FALSE(reader.error().has_value());
  return f;
}

std::optional<DecodeError> frame_error(const ByteVec& frame_bytes) {
  const ByteVec d = wrap_frames(frame_bytes);
  const DecodeResult r = decode_datagram(d);
  if (!r.datagram) return r.error;
  FrameReader reader(r.datagram->frames);
  Frame f;
  while (reader.next(f)) {
  }
  return reader.error();
}

}  // namespace hana::protocol::test
