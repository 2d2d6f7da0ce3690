// The TCP path's framing (issue 17): hana datagrams, unchanged (sealed ones too), carried
// length-prefixed over one byte stream per peer pair. docs/wire-format.md, *TCP framing*,
// is the reference. Sans-IO: the engine reads into space(), commits what arrived with the
// time, and takes whole datagrams from next(); it never sees a partial one.
//
//   stream := hello frame*
//   hello  := 'h' 'n' 't' version(1) listen_port(u16 BE)    each direction, once, first
//   frame  := length(u16 BE, 1..max_frame_bytes) datagram(length bytes)
//
// The hello names the sender's UDP listen port, so the receiver can key the stream by
// the address its peer is known by (the stream's source port is an ephemeral one).
// A stream cannot resynchronise after a bad length, so every error is final: the engine
// counts it and closes the stream. Memory is bounded by construction: one buffer of
// buffer_bytes() per stream, never more than one incomplete frame held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "hana/types.h"
#include "protocol/frames.h"

namespace hana::protocol {

inline constexpr std::uint8_t kStreamMagic0 = 'h';
inline constexpr std::uint8_t kStreamMagic1 = 'n';
inline constexpr std::uint8_t kStreamMagic2 = 't';
inline constexpr std::uint8_t kStreamVersion = 1;
inline constexpr std::size_t kStreamHelloBytes = 6;
inline constexpr std::size_t kStreamFrameHeaderBytes = 2;
// The largest frame the u16 length can carry; max_frame_bytes is capped to it.
inline constexpr std::size_t kMaxStreamFrameBytes = 65'535;

enum class StreamError : std::uint8_t {
  None,
  BadHello,        // the stream did not start with a hana hello of a version we speak
  EmptyFrame,      // a zero length: never sent, so junk
  OversizedFrame,  // a length above max_frame_bytes: junk, or a peer with a larger max_datagram_bytes
};

// Writes the hello into `out` (at least kStreamHelloBytes); returns its size.
std::size_t write_stream_hello(std::uint16_t listen_port, MutableBytes out);
// Writes the length prefix of a `datagram_bytes`-long frame (1..kMaxStreamFrameBytes) into
// `out` (at least kStreamFrameHeaderBytes); returns its size.
std::size_t write_stream_frame_header(std::size_t datagram_bytes, MutableBytes out);

class StreamDeframer {
 public:
  // `max_frame_bytes`: the largest datagram accepted (the max_datagram_bytes knob),
  // capped to kMaxStreamFrameBytes.
  explicit StreamDeframer(std::size_t max_frame_bytes);

  // Where the next read goes; may move held bytes (invalidating what next() returned).
  // Never empty: the buffer always has room for the rest of one frame. Empty after an error.
  MutableBytes space();
  // `n` bytes (at most space().size()) were read into space() at `now`.
  void commit(std::size_t n, TimeNs now);
  // The next whole datagram, valid until the next space(); nullopt when more bytes are
  // needed or the stream is in error. Call until nullopt after each commit().
  std::optional<Bytes> next();

  StreamError error() const { return error_; }
  bool hello_done() const { return peer_port_.has_value(); }
  // The sender's UDP listen port, once its hello has been read.
  std::optional<std::uint16_t> peer_port() const { return peer_port_; }
  // When the first byte of the incomplete hello or frame held now arrived (0 = nothing
  // held): a stream that holds one for too long is a slowloris, and the engine drops it.
  TimeNs partial_since() const { return partial_since_; }
  std::size_t held_bytes() const { return end_ - begin_; }
  std::size_t buffer_bytes() const { return capacity_; }
  std::uint64_t frames() const { return frames_; }

 private:
  std::size_t max_frame_;
  std::size_t capacity_;
  std::unique_ptr<std::uint8_t[]> buffer_;
  std::size_t begin_ = 0;  // first unparsed byte
  std::size_t end_ = 0;    // one past the last byte read
  TimeNs partial_since_ = 0;
  TimeNs last_commit_ = 0;
  std::optional<std::uint16_t> peer_port_;
  StreamError error_ = StreamError::None;
  std::uint64_t frames_ = 0;
};

}  // namespace hana::protocol
