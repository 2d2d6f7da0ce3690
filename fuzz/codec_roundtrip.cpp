// Structure-aware fuzz target: the input is read as a recipe of frames; they are
// encoded into a datagram, decoded again, and must come back equal: decode(encode(x)) == x.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "protocol/codec.h"
#include "fuzz_recipe.h"

using namespace hana;
using namespace hana::protocol;

namespace {

using hana::fuzz::Recipe;

Frame make_frame(Recipe& r) {
  switch (r.u8() % 10) {
    case 0: return PaddingFrame{static_cast<std::uint32_t>(1 + r.u8() % 8)};
    case 1: return PingFrame{};
    case 2: {
      AckFrame a;
      a.ack_delay_us = r.u64();
      a.range_count = static_cast<std::uint8_t>(1 + r.u8() % kMaxAckRanges);
      std::uint64_t next = r.u64() | (1ull << 62);
      for (std::size_t i = 0; i < a.range_count; ++i) {
        const std::uint64_t len = r.u8();
        a.ranges[i] = {next - len, next};
        next = next - len - 2 - r.u8();
      }
      return a;
    }
    case 3:
    case 4: {
      DataFrame d;
      d.lane = static_cast<Lane>(r.u8() % kLaneCount);
      d.delivery = static_cast<Delivery>(r.u8() % kDeliveryCount);
      d.sequence = r.u64();
      d.payload = r.bytes(200);
      d.fragmented = r.u8() & 1;
      if (d.fragmented) {
        d.total_length = d.payload.size() + 1 + r.u64() % kMaxMessageBytesHardCap / 2;
        d.fragment_offset = r.u64() % (d.total_length - d.payload.size() + 1);
      }
      const std::uint8_t flags = r.u8();
      d.latest_value = flags & 1;
      d.mesh = (flags & 2) != 0;
      if (d.latest_value) {
        d.key = r.u64();
        d.version = r.u64();
      }
      return d;
    }
    case 5: return CloseFrame{static_cast<CloseReason>(r.u8() % (kMaxCloseReason + 1)), r.bytes(64)};
    case 6: {
      HandshakeFrame h;
      h.kind = static_cast<HandshakeKind>(1 + r.u8() % kMaxHandshakeKind);
      h.node_id = r.u64();
      h.incarnation = r.u64();
      h.connection_id = static_cast<std::uint32_t>(r.u64());
      h.cookie = r.bytes(kMaxCookieBytes);
      return h;
    }
    case 7: return BeaconFrame{r.bytes(100)};
    case 8: return GossipFrame{r.bytes(100)};
    default:
      return SkipFrame{static_cast<Lane>(r.u8() % kLaneCount), static_cast<Delivery>(r.u8() % kDeliveryCount),
                       r.u64()};
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Recipe r(data, size);
  Header h;
  h.flags = r.u8() & kFlagShortChecksum;
  h.connection_id = static_cast<std::uint32_t>(r.u64());
  h.packet_number = r.u64();

  std::vector<Frame> frames;
  static std::uint8_t buf[kMaxDatagramBytes];
  // The same frames with DATA payloads appended by reference (a scatter-gather send):
  // the same frames fit, and joined it is the same datagram.
  static std::uint8_t gathered_buf[kMaxDatagramBytes];
  const std::size_t cap = 1 + r.u64() % sizeof buf;
  DatagramWriter w(buf, cap, h);
  DatagramWriter g(gathered_buf, cap, h);
  bool last_was_padding = false;
  while (!r.empty() && frames.size() < kMaxFramesPerDatagram) {
    Frame f = make_frame(r);
    const bool padding = std::holds_alternative<PaddingFrame>(f);
    if (padding && last_was_padding) continue;  // adjacent paddings decode as one
    const DataFrame* data = std::get_if<DataFrame>(&f);
    const bool fits = w.append(f);
    if (fits != (data ? g.append_by_reference(*data) : g.append(f))) std::abort();
    if (!fits) continue;                        // did not fit: the writer stays valid
    last_was_padding = padding;
    frames.push_back(f);
  }
  const std::size_t n = w.finish();
  const std::size_t joined = flatten(gathered_buf, g.finish(), g.gathered());
  if (joined != n || std::memcmp(buf, gathered_buf, n) != 0) std::abort();
  if (frames.empty()) {
    if (n != 0) std::abort();
    return 0;
  }
  const DecodeResult d = decode_datagram({buf, n});
  if (!d.datagram || !(d.datagram->header == h)) std::abort();
  FrameReader reader(d.datagram->frames);
  Frame f;
  std::size_t i = 0;
  while (reader.next(f)) {
    if (i >= frames.size() || !(f == frames[i])) std::abort();
    ++i;
  }
  if (reader.error() || i != frames.size()) std::abort();
  return 0;
}
