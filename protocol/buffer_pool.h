// Reusable byte buffers identified by index. A released buffer keeps its capacity (up to
// a budget of kept bytes), so once every size has been seen, acquiring never allocates.
// New bytes are left uninitialised: every byte of a buffer is written (a fragment, a
// memcpy) before it is read, and zero-filling each 1 MiB message, plus the page faults
// of a fresh allocation, took over a quarter of a receiver's CPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "protocol/heap_block.h"

namespace hana::protocol {

// One pooled buffer: a heap_block and the bytes in use. Growing keeps the bytes; new
// bytes are left uninitialised. Move-only; `exchange` swaps the storage for another block
// (ownership of both passes), which is how a received message leaves without a copy.
class PooledBuffer {
 public:
  PooledBuffer() = default;
  PooledBuffer(PooledBuffer&& o) noexcept : block_(o.block_), size_(o.size_) {
    o.block_ = nullptr;
    o.size_ = 0;
  }
  PooledBuffer& operator=(PooledBuffer&& o) noexcept {
    if (this != &o) {
      heap_block::destroy(block_);
      block_ = o.block_;
      size_ = o.size_;
      o.block_ = nullptr;
      o.size_ = 0;
    }
    return *this;
  }
  PooledBuffer(const PooledBuffer&) = delete;
  PooledBuffer& operator=(const PooledBuffer&) = delete;
  ~PooledBuffer() { heap_block::destroy(block_); }

  std::uint8_t* data() { return block_; }
  const std::uint8_t* data() const { return block_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::size_t capacity() const { return heap_block::capacity(block_); }
  std::uint8_t& operator[](std::size_t i) { return block_[i]; }
  const std::uint8_t& operator[](std::size_t i) const { return block_[i]; }
  std::uint8_t* begin() { return block_; }
  std::uint8_t* end() { return block_ + size_; }
  const std::uint8_t* begin() const { return block_; }
  const std::uint8_t* end() const { return block_ + size_; }

  void resize(std::size_t n) {
    if (n > capacity()) {
      std::uint8_t* grown = heap_block::create(n);
      if (size_ != 0) std::memcpy(grown, block_, size_);
      heap_block::destroy(block_);
      block_ = grown;
    }
    size_ = n;
  }
  void clear() { size_ = 0; }
  void shrink_to_fit() {
    if (size_ != 0) return;  // only ever trimmed when empty
    heap_block::destroy(block_);
    block_ = nullptr;
  }
  // Hands the block out and takes `replacement` (a heap_block or nullptr) instead; empty after.
  std::uint8_t* exchange(std::uint8_t* replacement) {
    std::uint8_t* out = block_;
    block_ = replacement;
    size_ = 0;
    return out;
  }

 private:
  std::uint8_t* block_ = nullptr;
  std::size_t size_ = 0;
};

class BufferPool {
 public:
  using Buffer = PooledBuffer;
  static constexpr std::uint32_t kNone = UINT32_MAX;
  // Capacity released buffers may keep in total (a few of the largest messages); past it
  // a released buffer bigger than kKeepCapacityBytes is trimmed.
  static constexpr std::size_t kKeepCapacityBytes = 256 * 1024;
  static constexpr std::size_t kKeepFreeBytes = 4 * 1024 * 1024;

  std::uint32_t acquire(std::size_t size) {
    std::uint32_t idx;
    if (!free_.empty()) {
      // The smallest-index free buffer is as good as any: take the last one.
      idx = free_.back();
      free_.pop_back();
      kept_bytes_ -= buffers_[idx].capacity();
    } else {
      idx = static_cast<std::uint32_t>(buffers_.size());
      buffers_.emplace_back();
      free_.reserve(buffers_.size());
    }
    buffers_[idx].resize(size);
    return idx;
  }
  // The storage of buffer `idx` (in use) leaves; `replacement` takes its place, so the
  // index stays valid and is released as usual. The caller owns the returned heap_block.
  std::uint8_t* exchange(std::uint32_t idx, std::uint8_t* replacement) { return buffers_[idx].exchange(replacement); }
  void release(std::uint32_t idx) {
    if (idx == kNone) return;
    auto& b = buffers_[idx];
    if (b.capacity() > kKeepCapacityBytes && kept_bytes_ + b.capacity() > kKeepFreeBytes) {
      b.clear();
      b.shrink_to_fit();
    }
    b.clear();
    kept_bytes_ += b.capacity();
    free_.push_back(idx);
  }
  Buffer& operator[](std::uint32_t idx) { return buffers_[idx]; }
  std::size_t in_use() const { return buffers_.size() - free_.size(); }
  std::size_t kept_bytes() const { return kept_bytes_; }

 private:
  std::vector<Buffer> buffers_;
  std::vector<std::uint32_t> free_;
  std::size_t kept_bytes_ = 0;  // capacity held by free buffers
};

}  // namespace hana::protocol
