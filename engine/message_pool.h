// Fixed pool of message buffers shared by application threads (send) and the loop
// (received messages). The free list is a lock-free Treiber stack of slot indices with
// an ABA tag: bounded, allocation-free, and every access is an atomic (TSan-clean).
// A ring of our own instead of a moodycamel queue because the free list needs a hard
// bound and pops from many threads; moodycamel's per-producer sub-queues can miss items.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "protocol/heap_block.h"

namespace hana::engine {

class IndexStack {
 public:
  static constexpr std::uint32_t kEmpty = ~0u;

  explicit IndexStack(std::uint32_t capacity) : next_(new std::atomic<std::uint32_t>[capacity]) {}

  void push(std::uint32_t index) {
    std::uint64_t head = head_.load(std::memory_order_relaxed);
    for (;;) {
      next_[index].store(static_cast<std::uint32_t>(head), std::memory_order_relaxed);
      const std::uint64_t tagged = ((head >> 32) + 1) << 32 | index;
      if (head_.compare_exchange_weak(head, tagged, std::memory_order_release, std::memory_order_relaxed)) return;
    }
  }

  std::uint32_t pop() {
    std::uint64_t head = head_.load(std::memory_order_acquire);
    for (;;) {
      const auto index = static_cast<std::uint32_t>(head);
      if (index == kEmpty) return kEmpty;
      const std::uint32_t next = next_[index].load(std::memory_order_relaxed);
      const std::uint64_t tagged = ((head >> 32) + 1) << 32 | next;
      if (head_.compare_exchange_weak(head, tagged, std::memory_order_acquire, std::memory_order_acquire))
        return index;
    }
  }

 private:
  std::unique_ptr<std::atomic<std::uint32_t>[]> next_;
  std::atomic<std::uint64_t> head_{kEmpty};
};

// Heap blocks for messages larger than a slot. A few released blocks are kept for reuse
// (lock-free: a Payload is released on any application thread), so a stream of large
// messages does not allocate, fault in and free a fresh block per message.
class LargeBlocks {
 public:
  static constexpr std::size_t kKept = 4;
  LargeBlocks() = default;
  LargeBlocks(const LargeBlocks&) = delete;
  LargeBlocks& operator=(const LargeBlocks&) = delete;
  ~LargeBlocks() {
    for (auto& s : kept_) destroy(s.exchange(nullptr));
  }
  std::uint8_t* take(std::size_t size) {
    for (auto& s : kept_) {
      std::uint8_t* b = s.exchange(nullptr, std::memory_order_acquire);
      if (b == nullptr) continue;
      if (capacity_of(b) >= size) return b;
      destroy(b);  // too small for this message: make room for a bigger one
    }
    return create(size);
  }
  // Any kept block, whatever its size, or nullptr: never allocates. It goes to the
  // protocol in exchange for a received message's block (MessagePool::adopt).
  std::uint8_t* spare() {
    for (auto& s : kept_)
      if (std::uint8_t* b = s.exchange(nullptr, std::memory_order_acquire)) return b;
    return nullptr;
  }
  void give(std::uint8_t* b) {
    for (auto& s : kept_) {
      std::uint8_t* expected = nullptr;
      if (s.compare_exchange_strong(expected, b, std::memory_order_release, std::memory_order_relaxed)) return;
    }
    destroy(b);
  }

 private:
  // The protocol's buffers use the same layout, so blocks can change hands.
  static std::uint8_t* create(std::size_t size) { return protocol::heap_block::create(size); }
  static std::size_t capacity_of(const std::uint8_t* b) { return protocol::heap_block::capacity(b); }
  static void destroy(std::uint8_t* b) { protocol::heap_block::destroy(b); }
  std::array<std::atomic<std::uint8_t*>, kKept> kept_{};
};

// A message's bytes: a pooled slot, or (larger than a slot) a heap block.
struct MessageRef {
  std::uint32_t slot = IndexStack::kEmpty;
  std::uint32_t size = 0;
  std::uint8_t* heap = nullptr;  // owned when non-null
};

class MessagePool {
 public:
  MessagePool(std::uint32_t slots, std::uint32_t slot_bytes)
      : slot_bytes_(slot_bytes), memory_(new std::uint8_t[std::size_t{slots} * slot_bytes]), free_(slots) {
    for (std::uint32_t i = slots; i-- > 0;) free_.push(i);
  }

  std::uint32_t slot_bytes() const { return slot_bytes_; }

  // Copies `size` bytes in. Returns false when the pool is exhausted (small messages);
  // large messages are heap-copied and `large` is set.
  bool store(const std::uint8_t* data, std::size_t size, MessageRef& out, bool& large) {
    large = size > slot_bytes_;
    out.size = static_cast<std::uint32_t>(size);
    if (large) {
      out.heap = large_.take(size);
      out.slot = IndexStack::kEmpty;
      std::memcpy(out.heap, data, size);
      return true;
    }
    out.heap = nullptr;
    out.slot = free_.pop();
    if (out.slot == IndexStack::kEmpty) return false;
    if (size) std::memcpy(slot_data(out.slot), data, size);
    return true;
  }

  // Always succeeds: a pooled slot when one is free and big enough, else a heap copy.
  // For received messages, which must never be lost once acknowledged.
  bool store_or_heap(const std::uint8_t* data, std::size_t size, MessageRef& out) {
    bool large = false;
    if (store(data, size, out, large)) return large;
    out.heap = large_.take(size ? size : 1);
    out.size = static_cast<std::uint32_t>(size);
    if (size) std::memcpy(out.heap, data, size);
    return true;
  }

  // A received message too big for a slot, without a copy: `take(replacement)` hands over
  // the protocol block it sits in (Mesh::take_received_payload) in exchange for one of
  // our spare blocks. False (nothing taken, `out` untouched) when it had none to give.
  template <class Take>
  bool adopt(std::size_t size, MessageRef& out, Take&& take) {
    std::uint8_t* spare = large_.spare();
    std::uint8_t* block = take(spare);
    if (block == nullptr) {
      if (spare != nullptr) large_.give(spare);
      return false;
    }
    out.heap = block;
    out.slot = IndexStack::kEmpty;
    out.size = static_cast<std::uint32_t>(size);
    return true;
  }

  const std::uint8_t* data(const MessageRef& ref) const { return ref.heap ? ref.heap : slot_data(ref.slot); }

  void release(MessageRef& ref) {
    if (ref.heap) {
      large_.give(ref.heap);
      ref.heap = nullptr;
    } else if (ref.slot != IndexStack::kEmpty) {
      free_.push(ref.slot);
    }
    ref.slot = IndexStack::kEmpty;
    ref.size = 0;
  }

 private:
  std::uint8_t* slot_data(std::uint32_t slot) const { return memory_.get() + std::size_t{slot} * slot_bytes_; }

  std::uint32_t slot_bytes_;
  std::unique_ptr<std::uint8_t[]> memory_;
  IndexStack free_;
  LargeBlocks large_;
};

}  // namespace hana::engine
