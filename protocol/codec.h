// Encode and decode of datagrams and frames. Bounds-checked; decode never allocates
// (frames are views into the datagram) and reports a typed error for every malformed case.
#pragma once

#include <cstddef>
#include <bit>
#include <cstdint>
#include <optional>
#include <string_view>

#include "protocol/frames.h"

namespace hana::protocol {

// The codec's verdicts are public (hana/types.h): operators see them counted per kind.
using ::hana::DecodeError;
using ::hana::kDecodeErrorCount;

// ---- decode --------------------------------------------------------------

struct DatagramView {
  Header header;
  Bytes frames;  // the frame area: between header and checksum trailer
};

struct DecodeResult {
  std::optional<DatagramView> datagram;
  DecodeError error = DecodeError::Truncated;  // valid when !datagram
};

// Checks magic, version, flags and the XXH3 trailer; does not look at frames. A sealed
// datagram (protocol/seal.h) is `unknown-header-flags` here: only a Sealer opens it.
DecodeResult decode_datagram(Bytes datagram);

// The header at the start of a datagram (magic, version, flags, connection id, packet
// number), without checking the flags or anything after it. Returns its size in bytes,
// 0 if the datagram is truncated or is not a hana datagram (`error` says which).
std::size_t read_header(Bytes datagram, Header& out, DecodeError& error);

// Walks the frames of a datagram one at a time.
class FrameReader {
 public:
  explicit FrameReader(Bytes frames) : rest_(frames) {}
  // Returns false at the end or on error (then error() says which).
  bool next(Frame& out);
  std::optional<DecodeError> error() const { return error_; }
  std::size_t frames_read() const { return count_; }

 private:
  Bytes rest_;
  std::optional<DecodeError> error_;
  std::size_t count_ = 0;
};

// ---- encode --------------------------------------------------------------

// A datagram written in two places (a scatter-gather send, docs/connection.md "Bulk's CPU
// per byte"): on the wire it is buffer[0, split) | external | buffer[split, size), where
// `size` is what the writer left in the caller's buffer. `external` is a message's
// payload left where it lies instead of copied; `pin` is the reference (in the pool the
// payload lives in) that keeps it there until the datagram has been sent. Empty
// `external`: the datagram is buffer[0, size), as from a plain writer.
inline constexpr std::uint32_t kNoPin = ~0u;
struct Gathered {
  Bytes external;
  std::size_t split = 0;
  std::uint32_t pin = kNoPin;
  bool empty() const { return external.empty(); }
};
// Copies `g.external` into the buffer at its place: the datagram becomes
// buffer[0, returned size). The buffer must hold size + g.external.size() bytes (what a
// writer that took the external bytes budgeted for). The pin stays the caller's.
std::size_t flatten(MutableBytes buffer, std::size_t size, const Gathered& g);

// Builds one datagram in a caller-owned buffer. Every append reports whether it
// fit; a frame that does not fit leaves the buffer as it was.
class DatagramWriter {
 public:
  // `max_bytes` caps the datagram (the max_datagram_bytes knob), including trailer.
  DatagramWriter(MutableBytes buffer, std::size_t max_bytes, const Header& header);
  bool ok() const { return ok_; }                  // false if the header did not fit
  std::size_t remaining() const;                   // bytes left for frames
  std::size_t frame_count() const { return frames_; }
  bool append(const Frame& frame);
  // As append, but the DATA frame's payload is not copied: it stays where it lies and
  // the datagram is gathered from pieces (see Gathered). Later frames still go after it
  // on the wire. One payload per datagram is left out; a second one is copied.
  bool append_by_reference(const DataFrame& frame);
  bool has_external() const { return !external_.empty(); }
  // Seals with the checksum (over the pieces in wire order: the same bytes as a plain
  // writer's); returns the bytes written into the buffer (0 if !ok()), the whole datagram
  // unless a payload was appended by reference (then gathered() says where it goes).
  std::size_t finish();
  Gathered gathered() const { return Gathered{external_, split_, kNoPin}; }

 private:
  MutableBytes buf_;
  std::size_t limit_ = 0;   // end of the frame area (max minus trailer)
  std::size_t pos_ = 0;
  std::size_t frames_ = 0;
  std::size_t trailer_ = 8;
  bool ok_ = false;
  Bytes external_;          // a payload appended by reference, on the wire at split_
  std::size_t split_ = 0;
};

// Size a frame will take on the wire.
std::size_t encoded_size(const Frame& frame);
// Bytes a DATA frame takes besides its payload, for sizing fragments.
std::size_t data_frame_overhead(const DataFrame& frame_without_payload, std::size_t payload_bytes);
// Header + trailer bytes of a datagram with this header.
std::size_t datagram_overhead(const Header& header);

// ---- varints (LEB128, little-endian base 128), exposed for topology bodies ----
// Inline: every datagram reads and writes about ten (header, DATA and ACK fields), and
// as calls with a byte loop they were 10-15 % of the protocol's instructions per 64 B
// message and per received MTU-size datagram (callgrind). varint.cpp has the rest.
inline std::size_t varint_size(std::uint64_t v) {
  return (static_cast<std::size_t>(std::bit_width(v | 1)) + 6) / 7;  // 7 bits per byte
}
// Returns bytes written, 0 if `out` is too small. (Out of line: inlined, GCC 12 sees
// through it into callers' vector inserts and warns -Warray-bounds falsely.)
std::size_t write_varint(MutableBytes out, std::uint64_t v);
std::size_t read_varint_long(Bytes in, std::uint64_t& v, bool* bad);
// Returns bytes read, 0 on truncation or bad encoding (`bad` tells which).
inline std::size_t read_varint(Bytes in, std::uint64_t& v, bool* bad = nullptr) {
  if (!in.empty() && in[0] < 0x80) {  // one byte: the common case (lanes, small lengths)
    if (bad) *bad = false;
    v = in[0];
    return 1;
  }
  return read_varint_long(in, v, bad);
}

}  // namespace hana::protocol
