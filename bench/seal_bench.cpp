// What a pre-shared key costs per datagram: sealing (in place, after the plain datagram is
// written) and opening, for a 64-byte message and a full 1412-byte one (1452 less the 40
// bytes sealing needs).
#include <benchmark/benchmark.h>

#include <vector>

#include "protocol/seal.h"

namespace {

using namespace hana;
using namespace hana::protocol;

Sealer test_sealer() { return *Sealer::create(std::vector<PresharedKey>{PresharedKey{1, 2, 3}}); }

// A plain datagram with one DATA frame of `payload` bytes, finished with its checksum.
std::size_t plain_datagram(std::vector<std::uint8_t>& buf, std::size_t payload, std::uint64_t pn) {
  static const std::vector<std::uint8_t> bytes(kMaxDatagramBytes, 0x5a);
  Header h;
  h.connection_id = 0x11223344;
  h.packet_number = pn;
  DatagramWriter w(buf, kDefaultDatagramBytes - kSealOverhead, h);
  DataFrame d;
  d.payload = Bytes(bytes.data(), payload);
  w.append(d);
  return w.finish();
}

void BM_SealDatagram(benchmark::State& state) {
  const Sealer s = test_sealer();
  std::vector<std::uint8_t> buf(kDefaultDatagramBytes);
  std::uint64_t counter = 1;
  for (auto _ : state) {
    const std::size_t n = plain_datagram(buf, static_cast<std::size_t>(state.range(0)), counter);
    benchmark::DoNotOptimize(s.seal(buf, n, Salt{7}, ++counter));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_SealDatagram)->Arg(64)->Arg(1'380);

void BM_OpenDatagram(benchmark::State& state) {
  const Sealer s = test_sealer();
  std::vector<std::uint8_t> buf(kDefaultDatagramBytes), plain(kDefaultDatagramBytes);
  const std::size_t n = s.seal(buf, plain_datagram(buf, static_cast<std::size_t>(state.range(0)), 1), Salt{7}, 1);
  for (auto _ : state) benchmark::DoNotOptimize(s.open(Bytes(buf.data(), n), plain).datagram);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_OpenDatagram)->Arg(64)->Arg(1'380);

// The plain path it replaces: encode with the XXH3 trailer, then verify it.
void BM_PlainDatagramChecksum(benchmark::State& state) {
  std::vector<std::uint8_t> buf(kDefaultDatagramBytes);
  std::uint64_t pn = 1;
  for (auto _ : state) {
    const std::size_t n = plain_datagram(buf, static_cast<std::size_t>(state.range(0)), ++pn);
    benchmark::DoNotOptimize(decode_datagram(Bytes(buf.data(), n)).datagram);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_PlainDatagramChecksum)->Arg(64)->Arg(1'380);

}  // namespace
