// Helpers shared by the codec tests: build datagrams, decode the single frame.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "protocol/codec.h"

namespace hana::protocol::test {

using ByteVec = std::vector<std::uint8_t>;

inline Header test_header() {
  Header h;
  h.connection_id = 0x11223344;
  h.packet_number = 300;
  return h;
}

// Wraps raw frame bytes into a datagram with a valid header and checksum.
ByteVec wrap_frames(const ByteVec& frame_bytes, Header h = test_header());

// Appends a valid checksum trailer to raw header+frame bytes (8 bytes unless short).
ByteVec seal(ByteVec raw, bool short_checksum = false);

// Encodes one frame (alone in a datagram) and returns just the frame's bytes.
ByteVec encode_frame_bytes(const Frame& frame);

// Decodes a datagram holding exactly one frame; fails the test otherwise.
// The frame views `datagram`: keep it alive while using the result.
std::optional<Frame> decode_single(const ByteVec& datagram);

// Decode error of the first frame of a well-formed datagram wrapping `frame_bytes`.
std::optional<DecodeError> frame_error(const ByteVec& frame_bytes);

}  // namespace hana::protocol::test
