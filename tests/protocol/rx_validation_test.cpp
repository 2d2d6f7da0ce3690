// A datagram is decoded whole before any frame is applied (one pass into a scratch): a
// malformed frame after valid ones drops the whole packet, nothing half-applied.
#include <gtest/gtest.h>

#include <vector>

#include "pair.h"

namespace hana::protocol::test {
namespace {

// Frame bytes of one datagram holding DATA frames for sequences [first, first + count).
std::vector<std::uint8_t> data_frames(std::uint64_t first, int count) {
  std::vector<std::uint8_t> buf(kDefaultDatagramBytes);
  Header h;
  h.connection_id = 7;
  h.packet_number = 1;
  DatagramWriter w(buf, buf.size(), h);
  const auto payload = bytes_of(first, 64);
  for (int i = 0; i < count; ++i) {
    DataFrame d;
    d.lane = Lane::Normal;
    d.sequence = first + static_cast<std::uint64_t>(i);
    d.payload = payload;
    EXPECT_TRUE(w.append(d));
  }
  buf.resize(w.finish());
  const DecodeResult r = decode_datagram(buf);
  EXPECT_TRUE(r.datagram.has_value());
  return std::vector<std::uint8_t>(r.datagram->frames.begin(), r.datagram->frames.end());
}

TEST(RxValidation, AMalformedFrameAfterValidOnesDropsTheWholePacket) {
  Pair p;
  Header h;
  h.connection_id = 7;
  h.packet_number = 1;
  std::vector<std::uint8_t> frames = data_frames(0, 3);
  frames.push_back(0xEE);  // no such frame type
  EXPECT_EQ(p.b.on_datagram(DatagramView{h, frames}, p.now, false), Connection::Arrival::Dropped);
  EXPECT_FALSE(p.b.poll_event().has_value()) << "no DATA of the bad packet may be delivered";
  EXPECT_EQ(p.b.stats().bad_packets, 1u);
  EXPECT_EQ(p.b.stats().packets_received, 0u);
  // The same frames without the junk are accepted, all three delivered in order.
  frames.pop_back();
  EXPECT_EQ(p.b.on_datagram(DatagramView{h, frames}, p.now, false), Connection::Arrival::New);
  std::vector<Ev> evs;
  Pair::drain(p.b, evs);
  ASSERT_EQ(evs.size(), 3u);
  for (const Ev& e : evs) EXPECT_EQ(e.kind, Ev::Kind::Received);
  EXPECT_EQ(p.b.stats().lanes[static_cast<std::size_t>(Lane::Normal)].messages_received, 3u);
}

}  // namespace
}  // namespace hana::protocol::test
