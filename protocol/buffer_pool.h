// Reusable byte buffers identified by index. A released buffer keeps its capacity, so
// once every size has been seen, acquiring never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hana::protocol {

class BufferPool {
 public:
  static constexpr std::uint32_t kNone = UINT32_MAX;
  // Largest capacity kept when a buffer is released (bigger ones are trimmed).
  static constexpr std::size_t kKeepCapacityBytes = 256 * 1024;

  std::uint32_t acquire(std::size_t size) {
    std::uint32_t idx;
    if (!free_.empty()) {
      idx = free_.back();
      free_.pop_back();
    } else {
      idx = static_cast<std::uint32_t>(buffers_.size());
      buffers_.emplace_back();
      free_.reserve(buffers_.size());
    }
    buffers_[idx].resize(size);
    return idx;
  }
  void release(std::uint32_t idx) {
    if (idx == kNone) return;
    auto& b = buffers_[idx];
    if (b.capacity() > kKeepCapacityBytes) {
      b.clear();
      b.shrink_to_fit();
    }
    free_.push_back(idx);
  }
  std::vector<std::uint8_t>& operator[](std::uint32_t idx) { return buffers_[idx]; }
  std::size_t in_use() const { return buffers_.size() - free_.size(); }

 private:
  std::vector<std::vector<std::uint8_t>> buffers_;
  std::vector<std::uint32_t> free_;
};

}  // namespace hana::protocol
