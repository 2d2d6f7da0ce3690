// Reusable byte buffers identified by index. A released buffer keeps its capacity (up to
// a budget of kept bytes), so once every size has been seen, acquiring never allocates.
// New bytes are left uninitialised: every byte of a buffer is written (a fragment, a
// memcpy) before it is read, and zero-filling each 1 MiB message, plus the page faults
// of a fresh allocation, took over a quarter of a receiver's CPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace hana::protocol {

// std::allocator whose value-initialisation (resize) leaves bytes as they are.
template <class T>
struct UninitializedAllocator : std::allocator<T> {
  using value_type = T;
  UninitializedAllocator() = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

class BufferPool {
 public:
  using Buffer = std::vector<std::uint8_t, UninitializedAllocator<std::uint8_t>>;
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
