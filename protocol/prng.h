// The one seeded PRNG of hana-net (xoshiro256** seeded by SplitMix64), used by the
// simulator, the topology layer and the engine's fault injector. Not <random>
// distributions: their output differs across standard libraries, and the sans-IO cores
// promise "same seed -> same run" everywhere.
#pragma once

#include <cstdint>

namespace hana::protocol {

// SplitMix64: used to expand one 64-bit seed into independent stream states.
constexpr std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// One-shot mixing of a value (for deriving per-link seeds and trace hashes).
constexpr std::uint64_t mix64(std::uint64_t v) {
  std::uint64_t s = v;
  return splitmix64(s);
}

// xoshiro256** (Blackman & Vigna): fast, small state, good statistical quality.
class Prng {
 public:
  explicit constexpr Prng(std::uint64_t seed = 0) { reseed(seed); }

  constexpr void reseed(std::uint64_t seed) {
    std::uint64_t sm = seed;
    for (auto& word : s_) word = splitmix64(sm);
  }

  constexpr std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 bits of precision.
  constexpr double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // True with probability p (p <= 0 never, p >= 1 always). Always draws once, so the
  // stream position does not depend on p.
  constexpr bool chance(double p) { return unit() < p; }

  // Uniform in [0, bound) (bound 0 -> 0). Multiply-shift; exactly one draw.
  constexpr std::uint64_t below(std::uint64_t bound) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }

  // Uniform in [0, bound] inclusive (bound 0 -> 0). Multiply-shift: bias < 2^-64 * bound,
  // irrelevant for a simulator, and always exactly one draw.
  constexpr std::uint64_t up_to(std::uint64_t bound) {
    if (bound == ~0ull) return next();
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * (bound + 1)) >> 64);
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4]{};
};

}  // namespace hana::protocol
