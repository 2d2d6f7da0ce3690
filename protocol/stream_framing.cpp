#include "protocol/stream_framing.h"

#include <algorithm>
#include <cstring>

namespace hana::protocol {
namespace {

// Reads of a few frames at a time keep syscalls per datagram low; the floor keeps small
// max_frame_bytes streams from reading a handful of bytes per call.
constexpr std::size_t kMinBufferBytes = 16'384;
constexpr std::size_t kFramesPerBuffer = 4;

std::uint16_t read_u16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

}  // namespace

std::size_t write_stream_hello(std::uint16_t listen_port, MutableBytes out) {
  if (out.size() < kStreamHelloBytes) return 0;
  out[0] = kStreamMagic0;
  out[1] = kStreamMagic1;
  out[2] = kStreamMagic2;
  out[3] = kStreamVersion;
  out[4] = static_cast<std::uint8_t>(listen_port >> 8);
  out[5] = static_cast<std::uint8_t>(listen_port);
  return kStreamHelloBytes;
}

std::size_t write_stream_frame_header(std::size_t datagram_bytes, MutableBytes out) {
  if (out.size() < kStreamFrameHeaderBytes || datagram_bytes == 0 || datagram_bytes > kMaxStreamFrameBytes) return 0;
  out[0] = static_cast<std::uint8_t>(datagram_bytes >> 8);
  out[1] = static_cast<std::uint8_t>(datagram_bytes);
  return kStreamFrameHeaderBytes;
}

StreamDeframer::StreamDeframer(std::size_t max_frame_bytes)
    : max_frame_(std::clamp<std::size_t>(max_frame_bytes, 1, kMaxStreamFrameBytes)),
      capacity_(std::max(kMinBufferBytes, kFramesPerBuffer * (max_frame_ + kStreamFrameHeaderBytes))),
      buffer_(new std::uint8_t[capacity_]) {}

MutableBytes StreamDeframer::space() {
  if (error_ != StreamError::None) return {};
  if (begin_ == end_) {
    begin_ = end_ = 0;
  } else if (capacity_ - end_ < max_frame_ + kStreamFrameHeaderBytes) {
    // What is held is less than one frame (next() took every whole one), so after the
    // move the rest of that frame always fits.
    std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  return {buffer_.get() + end_, capacity_ - end_};
}

void StreamDeframer::commit(std::size_t n, TimeNs now) {
  n = std::min(n, capacity_ - end_);
  if (n == 0) return;
  if (begin_ == end_) partial_since_ = now;
  end_ += n;
  last_commit_ = now;
}

std::optional<Bytes> StreamDeframer::next() {
  if (error_ != StreamError::None) return std::nullopt;
  const std::uint8_t* p = buffer_.get() + begin_;
  if (!peer_port_) {
    if (end_ - begin_ < kStreamHelloBytes) return std::nullopt;
    if (p[0] != kStreamMagic0 || p[1] != kStreamMagic1 || p[2] != kStreamMagic2 || p[3] != kStreamVersion) {
      error_ = StreamError::BadHello;
      return std::nullopt;
    }
    peer_port_ = read_u16(p + 4);
    begin_ += kStreamHelloBytes;
    p += kStreamHelloBytes;
  }
  std::optional<Bytes> frame;
  if (end_ - begin_ >= kStreamFrameHeaderBytes) {
    const std::size_t len = read_u16(p);
    if (len == 0) {
      error_ = StreamError::EmptyFrame;
    } else if (len > max_frame_) {
      error_ = StreamError::OversizedFrame;
    } else if (end_ - begin_ >= kStreamFrameHeaderBytes + len) {
      frame = Bytes{p + kStreamFrameHeaderBytes, len};
      begin_ += kStreamFrameHeaderBytes + len;
      ++frames_;
    }
  }
  // Whatever is left began arriving at the latest with the last read.
  if (begin_ == end_) {
    partial_since_ = 0;
  } else if (frame) {
    partial_since_ = last_commit_;
  }
  return frame;
}

}  // namespace hana::protocol
