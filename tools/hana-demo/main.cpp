// hana-demo: for now, a codec round trip of a typical datagram (ACK + 3 DATA frames),
// printed byte by byte. The mesh demo (issue 7) replaces it.
#include <cstdio>
#include <string>

#include "protocol/codec.h"

using namespace hana;
using namespace hana::protocol;

namespace {

std::string hex(Bytes b) {
  std::string s;
  char buf[4];
  for (auto byte : b) {
    std::snprintf(buf, sizeof buf, "%02x ", byte);
    s += buf;
  }
  return s;
}

void print_frame(const Frame& frame) {
  std::visit(
      [](const auto& f) {
        using F = std::decay_t<decltype(f)>;
        if constexpr (std::is_same_v<F, AckFrame>) {
          std::printf("  ACK delay=%lluus ranges:", static_cast<unsigned long long>(f.ack_delay_us));
          for (const auto& r : f.active())
            std::printf(" [%llu..%llu]", static_cast<unsigned long long>(r.smallest),
                        static_cast<unsigned long long>(r.largest));
          std::printf("\n");
        } else if constexpr (std::is_same_v<F, DataFrame>) {
          std::printf("  DATA lane=%s delivery=%s seq=%llu payload=\"%.*s\"\n", std::string(to_string(f.lane)).c_str(),
                      std::string(to_string(f.delivery)).c_str(), static_cast<unsigned long long>(f.sequence),
                      static_cast<int>(f.payload.size()), reinterpret_cast<const char*>(f.payload.data()));
        } else {
          std::printf("  frame of type index %zu\n", Frame(f).index());
        }
      },
      frame);
}

}  // namespace

int main() {
  std::uint8_t buf[kDefaultDatagramBytes];
  Header h;
  h.connection_id = 7;
  h.packet_number = 1234;
  DatagramWriter w(buf, sizeof buf, h);
  AckFrame ack;
  ack.ack_delay_us = 40;
  ack.range_count = 2;
  ack.ranges[0] = {1200, 1210};
  ack.ranges[1] = {1100, 1190};
  w.append(ack);
  const char* texts[] = {"group 1 moved", "window 3 raised", "display 2 online"};
  for (std::uint64_t i = 0; i < 3; ++i) {
    DataFrame d;
    d.lane = static_cast<Lane>(i % kLaneCount);
    d.sequence = 50 + i;
    d.payload = {reinterpret_cast<const std::uint8_t*>(texts[i]), std::char_traits<char>::length(texts[i])};
    w.append(d);
  }
  const std::size_t n = w.finish();
  std::printf("hana-net codec demo: one datagram, %zu bytes\n%s\n", n, hex({buf, n}).c_str());

  const DecodeResult r = decode_datagram({buf, n});
  if (!r.datagram) {
    std::printf("decode failed: %s\n", std::string(to_string(r.error)).c_str());
    return 1;
  }
  std::printf("decoded: connection %u, packet %llu\n", r.datagram->header.connection_id,
              static_cast<unsigned long long>(r.datagram->header.packet_number));
  FrameReader reader(r.datagram->frames);
  Frame f;
  while (reader.next(f)) print_frame(f);
  buf[n / 2] ^= 1;
  std::printf("one bit flipped -> %s\n", std::string(to_string(decode_datagram({buf, n}).error)).c_str());
  return 0;
}
