// Which sequence numbers of one stream have been seen: everything below `base` plus a
// bitmap above it. Grows (up to a hard cap) while warming up; the base slides forward
// as the contiguous prefix completes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hana::protocol {

class SeqWindow {
 public:
  static constexpr std::uint64_t kMaxSpan = 1u << 22;  // sequences tracked beyond base

  enum class Mark : std::uint8_t { New, Seen, TooFar };

  bool seen(std::uint64_t seq) const {
    if (seq < base_) return true;
    if (bits_.empty() || seq / 64 - base_ / 64 >= bits_.size()) return false;
    // Bit positions are absolute within a word (seq % 64) so sliding is cheap.
    return (bits_[word_of(seq)] >> (seq % 64)) & 1u;
  }

  Mark mark(std::uint64_t seq) {
    if (seen(seq)) return Mark::Seen;
    const std::uint64_t off = seq - base_;
    if (off >= kMaxSpan) return Mark::TooFar;
    while (seq / 64 - base_ / 64 >= bits_.size()) grow();
    set_bit(seq);
    advance();
    return Mark::New;
  }

  std::uint64_t base() const { return base_; }

 private:
  // Word w of the ring covers sequences [aligned_base + 64*k, +64) where k = ring distance.
  std::size_t word_of(std::uint64_t seq) const {
    return (head_word_ + (seq / 64 - base_ / 64)) % bits_.size();
  }
  void set_bit(std::uint64_t seq) { bits_[word_of(seq)] |= std::uint64_t{1} << (seq % 64); }
  void advance() {
    while (true) {
      auto& w = bits_[head_word_];
      if (!((w >> (base_ % 64)) & 1u)) return;
      ++base_;
      if (base_ % 64 == 0) {
        w = 0;
        head_word_ = (head_word_ + 1) % bits_.size();
      }
    }
  }
  void grow() {
    const std::size_t old = bits_.size();
    std::vector<std::uint64_t> bigger(old == 0 ? 4 : old * 2, 0);
    for (std::size_t k = 0; k < old; ++k) bigger[k] = bits_[(head_word_ + k) % old];
    bits_.swap(bigger);
    head_word_ = 0;
  }

  std::vector<std::uint64_t> bits_;
  std::size_t head_word_ = 0;  // ring word holding base_
  std::uint64_t base_ = 0;
};

}  // namespace hana::protocol
