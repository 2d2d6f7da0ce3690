// LEB128 varints: 7 bits per byte, least significant group first, high bit = more.
// Only the shortest encoding is accepted so that decode -> encode is byte-identical.
#include "protocol/codec.h"

namespace hana::protocol {

std::size_t write_varint(MutableBytes out, std::uint64_t v) {
  const std::size_t n = varint_size(v);
  if (out.size() < n) return 0;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    out[i] = static_cast<std::uint8_t>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out[n - 1] = static_cast<std::uint8_t>(v);
  return n;
}

// Two bytes and more (read_varint in codec.h takes one-byte values inline).
std::size_t read_varint_long(Bytes in, std::uint64_t& v, bool* bad) {
  if (bad) *bad = false;
  std::uint64_t result = 0;
  for (std::size_t i = 0; i < 10; ++i) {
    if (i >= in.size()) return 0;  // truncated
    const std::uint8_t byte = in[i];
    const std::uint64_t group = byte & 0x7f;
    // The 10th byte may only carry the top bit of a 64-bit value.
    if (i == 9 && (byte & 0xfe) != 0) break;
    result |= group << (7 * i);
    if ((byte & 0x80) == 0) {
      // Reject overlong forms (a trailing zero group), except the value 0 itself.
      if (i > 0 && byte == 0) break;
      v = result;
      return i + 1;
    }
  }
  if (bad) *bad = true;
  return 0;
}

}  // namespace hana::protocol
