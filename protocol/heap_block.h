// Heap blocks that remember their capacity (in a header before the bytes). The protocol's
// buffer pools and the engine's large-message blocks use this one layout, so a reassembled
// message's storage can change hands between them instead of being copied: the engine
// takes the block a completed message sits in and puts one of its spare blocks in its
// place (Connection::take_received_payload).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

namespace hana::protocol::heap_block {

inline constexpr std::size_t kHeaderBytes = alignof(std::max_align_t);

inline std::uint8_t* create(std::size_t capacity) {
  auto* raw = static_cast<std::uint8_t*>(::operator new(capacity + kHeaderBytes));
  std::memcpy(raw, &capacity, sizeof capacity);
  return raw + kHeaderBytes;
}
inline std::size_t capacity(const std::uint8_t* block) {
  if (block == nullptr) return 0;
  std::size_t c = 0;
  std::memcpy(&c, block - kHeaderBytes, sizeof c);
  return c;
}
inline void destroy(std::uint8_t* block) {
  if (block != nullptr) ::operator delete(block - kHeaderBytes);
}

}  // namespace hana::protocol::heap_block
