// Reads a fuzzer's input as a recipe of small decisions (structure-aware fuzzing):
// bytes past the end read as 0, so every input is a valid recipe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

namespace hana::fuzz {

class Recipe {
 public:
  Recipe(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  bool empty() const { return pos_ >= n_; }
  std::uint8_t u8() { return pos_ < n_ ? d_[pos_++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
  // 0..8 bytes wide: small and huge values alike.
  std::uint64_t u64() {
    std::uint64_t v = 0;
    const std::uint8_t width = u8() % 9;
    for (std::uint8_t i = 0; i < width; ++i) v = (v << 8) | u8();
    return v;
  }
  // A view of up to `max` of the remaining input bytes.
  std::span<const std::uint8_t> bytes(std::size_t max) {
    const std::size_t len = std::min<std::size_t>(u16() % (max + 1), n_ - pos_);
    std::span<const std::uint8_t> b{d_ + pos_, len};
    pos_ += len;
    return b;
  }

 private:
  const std::uint8_t* d_;
  std::size_t n_;
  std::size_t pos_ = 0;
};

}  // namespace hana::fuzz
