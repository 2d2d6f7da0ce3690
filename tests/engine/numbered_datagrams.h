// Test datagrams numbered by their first 4 bytes, so a receiver can check order and loss:
// shared by the UDP and TCP backend tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "protocol/codec.h"

namespace hana::engine {

// Fills the first `size` bytes of `buf` (which must hold them) with datagram number `seq`.
inline void write_numbered(protocol::MutableBytes buf, std::uint32_t seq, std::size_t size) {
  std::memset(buf.data(), 0xab, size);
  std::memcpy(buf.data(), &seq, sizeof seq);
}

inline std::uint32_t seq_of(const std::vector<std::uint8_t>& d) {
  std::uint32_t s = 0;
  std::memcpy(&s, d.data(), sizeof s);
  return s;
}

}  // namespace hana::engine
