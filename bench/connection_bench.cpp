// protocol::Connection micro-benchmarks: ACK processing with many ranges, lane
// scheduler pick, and send + poll_transmit of a 64 B message.
#include <benchmark/benchmark.h>

#include <vector>

#include "protocol/codec.h"
#include "protocol/connection.h"
#include "protocol/scheduler.h"

namespace {

using namespace hana;
using namespace hana::protocol;

void feed(Connection& c, std::vector<std::uint8_t>& buf, std::uint64_t pn, const AckFrame& ack, TimeNs now) {
  Header h;
  h.connection_id = c.ids().local;
  h.packet_number = pn;
  DatagramWriter w(buf, kMaxDatagramBytes, h);
  w.append(ack);
  const std::size_t n = w.finish();
  auto r = decode_datagram(Bytes(buf.data(), n));
  c.on_datagram(*r.datagram, now);
}

// 64 packets in flight, then one ACK with 32 ranges (every other packet: the gaps are
// declared lost and requeued). Timed: that ACK only. Untimed: the retransmissions go
// out and a single-range ACK settles everything (64 Delivered events per round).
void BM_AckProcessingManyRanges(benchmark::State& state) {
  Config cfg;
  cfg.initial_cwnd_packets = 1000;
  cfg.min_cwnd_packets = 1000;
  Connection c(cfg, {1, 2}, 0);
  std::vector<std::uint8_t> buf(kMaxDatagramBytes), in(kMaxDatagramBytes);
  std::vector<std::uint8_t> msg(64, 1);
  SendOptions o;
  o.lane = Lane::High;
  TimeNs now = 0;
  std::uint64_t next_pn = 0, peer_pn = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::uint64_t first_pn = next_pn;
    for (int i = 0; i < 64; ++i) {
      if (!c.send(msg, o, now).ok()) {
        state.SkipWithError("send failed");
        return;
      }
      next_pn += c.poll_transmit(buf, now) > 0;  // one message per packet
    }
    now += 20 * kNsPerUs;
    AckFrame ack;
    ack.range_count = 32;
    for (std::uint64_t r = 0; r < 32; ++r) {
      const std::uint64_t pn = first_pn + 62 - 2 * r;
      ack.ranges[r] = AckRange{pn, pn};
    }
    state.ResumeTiming();
    feed(c, in, peer_pn++, ack, now);
    state.PauseTiming();
    while (c.poll_transmit(buf, now) > 0) ++next_pn;
    ack.range_count = 1;
    ack.ranges[0] = AckRange{first_pn, next_pn - 1};
    feed(c, in, peer_pn++, ack, now);
    int delivered = 0;
    while (auto e = c.poll_event()) delivered += std::holds_alternative<DeliveredEvent>(*e);
    if (delivered != 64) {
      state.SkipWithError("acks did not settle every message");
      return;
    }
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_AckProcessingManyRanges);

void BM_SchedulerPick(benchmark::State& state) {
  LaneScheduler s(10);
  std::uint32_t ready = 0xF;
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.pick(ready));
    ready = (ready + 5) & 0xF;
    ready |= 0x8;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_SchedulerPick);

// send() of a 64 B message and the poll_transmit that puts it on the wire. Batches of
// 32; between batches (untimed) the peer receives them and its ACK reopens the window.
void BM_SendPollTransmit64B(benchmark::State& state) {
  Connection a(Config{}, {1, 2}, 0);
  Connection b(Config{}, {2, 1}, 0);
  std::vector<std::vector<std::uint8_t>> wire(32, std::vector<std::uint8_t>(kMaxDatagramBytes));
  std::vector<std::size_t> lens(32);
  std::vector<std::uint8_t> back(kMaxDatagramBytes);
  std::vector<std::uint8_t> msg(64, 7);
  SendOptions o;
  o.lane = Lane::High;
  TimeNs now = 0;
  std::size_t k = 0;
  for (auto _ : state) {
    if (!a.send(msg, o, now).ok()) {
      state.SkipWithError("send failed");
      return;
    }
    lens[k] = a.poll_transmit(wire[k], now);
    if (lens[k] == 0) {
      state.SkipWithError("nothing to transmit");
      return;
    }
    if (++k == 32) {
      state.PauseTiming();
      for (std::size_t i = 0; i < k; ++i) {
        auto r = decode_datagram(Bytes(wire[i].data(), lens[i]));
        if (r.datagram) b.on_datagram(*r.datagram, now);
      }
      k = 0;
      now += 10 * kNsPerUs;
      while (std::size_t m = b.poll_transmit(back, now)) {
        auto rb = decode_datagram(Bytes(back.data(), m));
        if (rb.datagram) a.on_datagram(*rb.datagram, now);
      }
      while (a.poll_event()) {
      }
      while (b.poll_event()) {
      }
      if (auto t = a.next_timeout(); t && *t <= now) a.on_timeout(now);
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_SendPollTransmit64B);

// One message end to end: send + poll_transmit at the sender, on_datagram + poll_event
// (Received) at the receiver; every 8 messages the receiver's ACK goes back and the
// sender drains its Delivered events (included in the time).
void BM_MessageEndToEnd64B(benchmark::State& state) {
  Connection a(Config{}, {1, 2}, 0);
  Connection b(Config{}, {2, 1}, 0);
  std::vector<std::uint8_t> buf(kMaxDatagramBytes), back(kMaxDatagramBytes);
  std::vector<std::uint8_t> msg(64, 7);
  SendOptions o;
  o.lane = Lane::Normal;
  TimeNs now = 0;
  std::uint64_t n = 0, received = 0;
  for (auto _ : state) {
    (void)a.send(msg, o, now);
    const std::size_t len = a.poll_transmit(buf, now);
    auto r = decode_datagram(Bytes(buf.data(), len));
    if (r.datagram) b.on_datagram(*r.datagram, now);
    while (auto e = b.poll_event()) received += std::holds_alternative<ReceivedEvent>(*e);
    if (++n % 8 == 0) {
      now += 5 * kNsPerUs;
      while (std::size_t m = b.poll_transmit(back, now)) {
        auto rb = decode_datagram(Bytes(back.data(), m));
        if (rb.datagram) a.on_datagram(*rb.datagram, now);
      }
      while (a.poll_event()) {
      }
      if (auto t = a.next_timeout(); t && *t <= now) a.on_timeout(now);
      if (auto t = b.next_timeout(); t && *t <= now) b.on_timeout(now);
    }
  }
  if (received != n) state.SkipWithError("a message was not received");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_MessageEndToEnd64B);

}  // namespace
