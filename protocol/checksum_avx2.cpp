// XXH3-64 compiled for AVX2 (this file alone gets -mavx2, protocol/CMakeLists.txt), called
// only when the CPU has it (codec.cpp). Why not libxxhash's own run-time dispatch: on
// this VM's Xeon it picks AVX-512, and a 64 B message stream (64 KiB datagrams packed
// with messages) ran 10-15 % slower with it than with the SSE2 build although callgrind
// counted fewer instructions: AVX-512 lowers the core's clock for the code around it.
// Only C headers and XXH_INLINE_ALL (every function static) here, so no inline function
// compiled for AVX2 can be picked by the linker for another translation unit.
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace hana::protocol {

// Each entry point clears the upper halves of the ymm registers itself before it returns.
// GCC's own vzeroupper is placed per function, and once the streaming code below joined
// this file it stopped emitting one on a path of the one-shot hash (XXH3_hashLong_64b
// returning through a call to XXH3_mergeAccs): the dirty upper state then slowed every SSE
// instruction after it, and encoding a 1452-byte datagram went from 150 to 272 ns
// (the sender's CPU per GB over the veth +25 %).
::uint64_t xxh3_64_avx2(const void* data, ::size_t size) {
  const ::uint64_t h = XXH3_64bits(data, size);
  _mm256_zeroupper();
  return h;
}

// The streamed form over a gathered datagram's pieces (codec.cpp's checksum of pieces).
// Plain pointers and sizes, no std::span: see above.
::uint64_t xxh3_64_avx2_pieces(const void* const* data, const ::size_t* sizes, ::size_t count) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  for (::size_t i = 0; i < count; ++i) XXH3_64bits_update(&state, data[i], sizes[i]);
  const ::uint64_t h = XXH3_64bits_digest(&state);
  _mm256_zeroupper();
  return h;
}

}  // namespace hana::protocol
