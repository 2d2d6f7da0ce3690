// Encode and decode of a typical datagram: ACK (2 ranges) + 3 DATA frames of 64 B.
#include <benchmark/benchmark.h>

#include <array>

#include "protocol/codec.h"

namespace {

using namespace hana;
using namespace hana::protocol;

const std::array<std::uint8_t, 64> kPayload{};

std::size_t encode_typical(std::span<std::uint8_t> buf, std::uint64_t pn) {
  Header h;
  h.connection_id = 0x11223344;
  h.packet_number = pn;
  DatagramWriter w(buf, kDefaultDatagramBytes, h);
  AckFrame ack;
  ack.ack_delay_us = 40;
  ack.range_count = 2;
  ack.ranges[0] = {pn - 10, pn - 2};
  ack.ranges[1] = {pn - 100, pn - 20};
  w.append(ack);
  for (std::uint64_t i = 0; i < 3; ++i) {
    DataFrame d;
    d.lane = static_cast<Lane>(i);
    d.sequence = pn * 3 + i;
    d.payload = kPayload;
    w.append(d);
  }
  return w.finish();
}

void BM_EncodeTypicalDatagram(benchmark::State& state) {
  std::array<std::uint8_t, kDefaultDatagramBytes> buf{};
  std::uint64_t pn = 1000;
  for (auto _ : state) {
    benchmark::DoNotOptimize(encode_typical(buf, ++pn));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeTypicalDatagram);

void BM_DecodeTypicalDatagram(benchmark::State& state) {
  std::array<std::uint8_t, kDefaultDatagramBytes> buf{};
  const std::size_t n = encode_typical(buf, 5000);
  for (auto _ : state) {
    const DecodeResult r = decode_datagram({buf.data(), n});
    FrameReader reader(r.datagram->frames);
    Frame f;
    std::size_t frames = 0;
    while (reader.next(f)) ++frames;
    benchmark::DoNotOptimize(frames);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(BM_DecodeTypicalDatagram);

}  // namespace
