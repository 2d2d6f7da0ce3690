// Fuzz target: arbitrary datagram sequences into a protocol::Connection. The input is
// a recipe of operations: raw bytes through decode_datagram, structured datagrams
// built with DatagramWriter (ACKs naming packets the connection really sent, DATA of
// every delivery mode incl. fragments and latest-value, SKIP, PING, CLOSE), sends of
// our own, time steps with timeouts, and transmit/event draining. Invariants that must
// hold whatever the peer sends are checked with __builtin_trap().
#include <algorithm>
#include <cstdint>
#include <vector>

#include "protocol/codec.h"
#include "protocol/connection.h"
#include "fuzz_recipe.h"

using namespace hana;
using namespace hana::protocol;

namespace {

using hana::fuzz::Recipe;

struct Harness {
  Config cfg;
  Connection conn;
  TimeNs now = 0;
  std::uint64_t sent_packets = 0;  // packet numbers the connection has used
  std::uint64_t peer_pn = 0;
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(kMaxDatagramBytes);
  std::vector<std::uint8_t> in = std::vector<std::uint8_t>(kMaxDatagramBytes);

  static Config make_config() {
    Config c;
    c.reassembly_limit_bytes = 65536;
    c.max_message_bytes = 65536;
    c.lane_queue_messages = 64;
    c.max_retransmits = 4;
    return c;
  }
  Harness() : cfg(make_config()), conn(cfg, {7, 9}, 0) {}

  void transmit() {
    for (int i = 0; i < 256; ++i) {
      const std::size_t n = conn.poll_transmit(buf, now);
      if (n == 0) break;
      if (n > cfg.max_datagram_bytes) __builtin_trap();
      // Our own output must always decode.
      if (!decode_datagram(Bytes(buf.data(), n)).datagram) __builtin_trap();
      ++sent_packets;
    }
    for (int i = 0; i < 100000; ++i) {
      auto e = conn.poll_event();
      if (!e) break;
      if (auto* r = std::get_if<ReceivedEvent>(&*e))
        if (r->payload.size() > cfg.max_message_bytes) __builtin_trap();
    }
    const ConnectionStats& s = conn.stats();
    if (s.reassembly_bytes > cfg.reassembly_limit_bytes) __builtin_trap();
  }

  Frame make_frame(Recipe& r) {
    switch (r.u8() % 8) {
      case 0: return PingFrame{};
      case 1:
      case 2: {
        // ACK ranges near the packet numbers really sent (and sometimes beyond).
        AckFrame a;
        a.ack_delay_us = r.u16();
        a.range_count = static_cast<std::uint8_t>(1 + r.u8() % kMaxAckRanges);
        std::uint64_t top = sent_packets + (r.u8() % 4 == 0 ? r.u8() : 0);
        std::uint8_t n = 0;
        for (; n < a.range_count; ++n) {
          const std::uint64_t len = r.u8() % 8;
          if (top < len) break;
          a.ranges[n] = {top - len, top};
          const std::uint64_t gap = 2 + r.u8() % 4;
          if (top - len < gap) {
            ++n;
            break;
          }
          top = top - len - gap;
        }
        a.range_count = std::max<std::uint8_t>(n, 1);
        if (n == 0) a.ranges[0] = {0, 0};
        return a;
      }
      case 3:
      case 4: {
        DataFrame d;
        d.lane = static_cast<Lane>(r.u8() % kLaneCount);
        d.delivery = static_cast<Delivery>(r.u8() % kDeliveryCount);
        d.sequence = r.u8() % 4 == 0 ? r.u64() : r.u8() % 32;
        d.payload = r.bytes(600);
        if (r.u8() & 1) {
          d.fragmented = true;
          d.total_length = d.payload.size() + 1 + r.u16();
          d.fragment_offset = r.u16() % (d.total_length - d.payload.size() + 1);
        }
        if (r.u8() & 1) {
          d.latest_value = true;
          d.key = r.u8() % 4;
          d.version = r.u8();
        }
        return d;
      }
      case 5: {
        SkipFrame s;
        s.lane = static_cast<Lane>(r.u8() % kLaneCount);
        s.delivery = static_cast<Delivery>(r.u8() % kDeliveryCount);
        s.sequence = r.u8() % 32;
        return s;
      }
      case 6: return CloseFrame{static_cast<CloseReason>(r.u8() % (kMaxCloseReason + 1)), {}};
      default: return PaddingFrame{static_cast<std::uint32_t>(1 + r.u8() % 4)};
    }
  }

  void structured(Recipe& r) {
    Header h;
    h.connection_id = 7;
    h.packet_number = r.u8() % 8 == 0 ? r.u64() : peer_pn++;
    DatagramWriter w(in, cfg.max_datagram_bytes, h);
    const int frames = 1 + r.u8() % 4;
    for (int i = 0; i < frames; ++i) (void)w.append(make_frame(r));
    const std::size_t n = w.finish();
    auto d = decode_datagram(Bytes(in.data(), n));
    if (d.datagram) conn.on_datagram(*d.datagram, now);
  }

  void raw(Recipe& r) {
    const Bytes b = r.bytes(1500);
    auto d = decode_datagram(b);
    if (d.datagram) conn.on_datagram(*d.datagram, now);
  }

  void send(Recipe& r) {
    SendOptions o;
    o.lane = static_cast<Lane>(r.u8() % kLaneCount);
    o.delivery = static_cast<Delivery>(r.u8() % kDeliveryCount);
    if (r.u8() & 1) {
      o.latest_value = true;
      o.key = r.u8() % 4;
      o.version = r.u8();
    }
    static std::vector<std::uint8_t> payload(70000, 0x5a);
    const std::size_t size = r.u8() % 8 == 0 ? r.u16() : r.u8();
    (void)conn.send(Bytes(payload.data(), size), o, now);
  }

  void tick(Recipe& r) {
    now += std::uint64_t{r.u16()} * (r.u8() % 2 ? kNsPerUs : 100);
    if (auto t = conn.next_timeout(); t && *t <= now) {
      conn.on_timeout(now);
      transmit();
      // Whatever was due has been done: the next deadline lies in the future, or the
      // driver would spin.
      if (auto t2 = conn.next_timeout(); t2 && *t2 <= now) __builtin_trap();
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Harness h;
  Recipe r(data, size);
  for (int ops = 0; !r.empty() && ops < 2000; ++ops) {
    switch (r.u8() % 6) {
      case 0: h.raw(r); break;
      case 1:
      case 2: h.structured(r); break;
      case 3: h.send(r); break;
      case 4: h.tick(r); break;
      default: h.transmit(); break;
    }
  }
  h.transmit();
  return 0;
}
