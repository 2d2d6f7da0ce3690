// Fuzz target: fragments with arbitrary totals, offsets, overlaps and orders into the
// reassembly buffer. Every byte of a fragment is a function of (seq, offset), so any
// completed message can be checked byte for byte; the memory budget must hold.
#include <cstdint>
#include <vector>

#include "protocol/buffer_pool.h"
#include "protocol/reassembly.h"

using namespace hana::protocol;

namespace {
std::uint8_t byte_at(std::uint64_t seq, std::uint64_t offset) {
  return static_cast<std::uint8_t>((seq * 31 + offset * 7 + (offset >> 8)) & 0xff);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  BufferPool pool;
  Reassembly r(pool);
  constexpr std::uint64_t kBudget = 1 << 20;
  std::vector<std::uint8_t> frag;
  std::size_t pos = 0;
  auto u8 = [&]() -> std::uint8_t { return pos < size ? data[pos++] : 0; };
  auto u16 = [&]() -> std::uint16_t { return static_cast<std::uint16_t>(u8() | (u8() << 8)); };
  while (pos < size) {
    const std::uint8_t op = u8() % 8;
    const std::size_t stream = u8() % 4;
    const std::uint64_t seq = u8() % 16;
    if (op == 6) {
      r.drop(stream, seq);
      continue;
    }
    if (op == 7) {
      r.drop_below(stream, seq);
      continue;
    }
    // Totals are a function of seq most of the time so fragments mostly agree.
    const std::uint64_t total = (u8() % 4 == 0) ? u16() : 1 + (seq * 977) % 5000;
    const std::uint64_t offset = total ? u16() % (total + 1) : 0;
    const std::uint64_t len = u16() % 1500;
    frag.resize(len);
    for (std::uint64_t i = 0; i < len; ++i) frag[i] = byte_at(seq, offset + i);
    const std::uint64_t budget_left = kBudget > r.bytes() ? kBudget - r.bytes() : 0;
    std::uint32_t buf = BufferPool::kNone;
    const auto out = r.add(stream, seq, total, offset, Bytes(frag.data(), frag.size()), op & 1, budget_left, buf);
    if (out == Reassembly::Outcome::Complete) {
      if (buf == BufferPool::kNone || pool[buf].size() != total) __builtin_trap();
      for (std::uint64_t i = 0; i < total; ++i)
        if (pool[buf][i] != byte_at(seq, i)) __builtin_trap();
      pool.release(buf);
    } else if (buf != BufferPool::kNone) {
      __builtin_trap();
    }
    if (r.bytes() > kBudget || r.partials() > Reassembly::kMaxPartials) __builtin_trap();
  }
  r.clear();
  if (r.bytes() != 0 || pool.in_use() != 0) __builtin_trap();
  return 0;
}
