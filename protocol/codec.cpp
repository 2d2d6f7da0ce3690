// Datagram and frame codec. docs/wire-format.md is the reference for every byte here.
#include "protocol/codec.h"

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack: the streamed checksum of a gathered datagram
#include <xxhash.h>

#include <algorithm>
#include <cstring>

namespace hana::protocol {
#if defined(HANA_XXH3_AVX2)
std::uint64_t xxh3_64_avx2(const void* data, std::size_t size);  // checksum_avx2.cpp
std::uint64_t xxh3_64_avx2_pieces(const void* const* data, const std::size_t* sizes, std::size_t count);
#endif
namespace {

constexpr std::size_t kFixedHeaderBytes = 8;  // magic(2) version(1) flags(1) connection_id(4)
constexpr std::size_t kConnectionlessHeaderBytes = 4;  // magic(2) version(1) flags(1)

// Bytes of header before the frames; a connectionless header has no varint.
std::size_t header_bytes(const Header& h) {
  return (h.flags & kFlagConnectionless) ? kConnectionlessHeaderBytes
                                         : kFixedHeaderBytes + varint_size(h.packet_number);
}
// The smallest header a datagram with these flags can have.
std::size_t min_header_bytes(std::uint8_t flags) {
  return (flags & kFlagConnectionless) ? kConnectionlessHeaderBytes : kFixedHeaderBytes + 1;
}

std::size_t trailer_bytes(std::uint8_t flags) { return (flags & kFlagShortChecksum) ? 4 : 8; }

// XXH3's long-input loop is vectorised for the ISA libxxhash was built for (SSE2 on
// Debian's x86-64); checksum_avx2.cpp has the same hash built for AVX2, used on CPUs that
// have it. Same bytes on the wire. Below a few hundred bytes XXH3 has no vector loop:
// 64 KiB datagrams (loopback, GRO batches) are where the checksum was 35 % of a bulk
// receiver's instructions (callgrind: 1.13M -> 0.33M Ir/MB with AVX2).
constexpr std::size_t kVectorFromBytes = 1024;
bool use_avx2();
std::uint64_t checksum(Bytes covered) {
#if defined(HANA_XXH3_AVX2)
  if (use_avx2() && covered.size() >= kVectorFromBytes) return xxh3_64_avx2(covered.data(), covered.size());
#endif
  return XXH3_64bits(covered.data(), covered.size());
}

bool use_avx2() {
#if defined(HANA_XXH3_AVX2)
  static const bool avx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return avx2;
#else
  return false;
#endif
}

// The same XXH3-64 over pieces in order (XXH3's streaming form gives the one-shot's
// value): a gathered datagram is hashed where its bytes lie, without joining them.
constexpr std::size_t kMaxPieces = 3;  // before, external, after
std::uint64_t checksum(const Bytes* pieces, std::size_t count, std::size_t total) {
#if defined(HANA_XXH3_AVX2)
  if (use_avx2() && total >= kVectorFromBytes && count <= kMaxPieces) {
    const void* data[kMaxPieces];
    std::size_t sizes[kMaxPieces];
    for (std::size_t i = 0; i < count; ++i) {
      data[i] = pieces[i].data();
      sizes[i] = pieces[i].size();
    }
    return xxh3_64_avx2_pieces(data, sizes, count);
  }
#endif
  (void)total;
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  for (std::size_t i = 0; i < count; ++i) XXH3_64bits_update(&state, pieces[i].data(), pieces[i].size());
  return XXH3_64bits_digest(&state);
}

std::uint8_t lane_delivery_byte(Lane lane, Delivery delivery) {
  return static_cast<std::uint8_t>(static_cast<std::uint8_t>(lane) | (static_cast<std::uint8_t>(delivery) << 4));
}

// Bounds-checked cursor over received bytes; the first error sticks.
class Cursor {
 public:
  explicit Cursor(Bytes in) : in_(in) {}
  bool failed() const { return failed_; }
  DecodeError error() const { return error_; }
  std::size_t offset() const { return pos_; }
  bool at_end() const { return pos_ >= in_.size(); }
  void fail(DecodeError e) {
    if (!failed_) error_ = e;
    failed_ = true;
  }

  std::uint8_t u8() {
    if (failed() || pos_ + 1 > in_.size()) return fail(DecodeError::Truncated), 0;
    return in_[pos_++];
  }
  std::uint32_t u32() {
    if (failed() || pos_ + 4 > in_.size()) return fail(DecodeError::Truncated), 0;
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | in_[pos_ + static_cast<std::size_t>(i)];
    pos_ += 4;
    return v;
  }
  std::uint64_t u64() {
    if (failed() || pos_ + 8 > in_.size()) return fail(DecodeError::Truncated), 0;
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | in_[pos_ + static_cast<std::size_t>(i)];
    pos_ += 8;
    return v;
  }
  std::uint64_t varint() {
    if (failed()) return 0;
    std::uint64_t v = 0;
    bool bad = false;
    const std::size_t n = read_varint(in_.subspan(pos_), v, &bad);
    if (n == 0) return fail(bad ? DecodeError::BadVarint : DecodeError::Truncated), 0;
    pos_ += n;
    return v;
  }
  Bytes bytes(std::uint64_t n) {
    if (failed() || n > in_.size() - pos_) return fail(DecodeError::Truncated), Bytes{};
    Bytes out = in_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return out;
  }
  std::uint8_t peek() const { return in_[pos_]; }

 private:
  Bytes in_;
  std::size_t pos_ = 0;
  bool failed_ = false;  // the first error sticks
  DecodeError error_ = DecodeError::Truncated;
};

// Unchecked writer: callers size the frame first with encoded_size().
class Out {
 public:
  explicit Out(std::uint8_t* p) : p_(p) {}
  void u8(std::uint8_t v) { *p_++ = v; }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) *p_++ = static_cast<std::uint8_t>(v >> (8 * i));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) *p_++ = static_cast<std::uint8_t>(v >> (8 * i));
  }
  void varint(std::uint64_t v) { p_ += write_varint({p_, 10}, v); }
  void bytes(Bytes b) {
    if (!b.empty()) std::memcpy(p_, b.data(), b.size());
    p_ += b.size();
  }
  void zeros(std::size_t n) {
    std::memset(p_, 0, n);
    p_ += n;
  }
  std::uint8_t* pos() const { return p_; }

 private:
  std::uint8_t* p_;
};

bool decode_lane_delivery(Cursor& c, Lane& lane, Delivery& delivery) {
  const std::uint8_t b = c.u8();
  if (c.failed()) return false;
  if ((b & 0x0f) >= kLaneCount) return c.fail(DecodeError::BadLane), false;
  if ((b >> 4) >= kDeliveryCount) return c.fail(DecodeError::BadDelivery), false;
  lane = static_cast<Lane>(b & 0x0f);
  delivery = static_cast<Delivery>(b >> 4);
  return true;
}

void decode_ack(Cursor& c, AckFrame& f) {
  f.ack_delay_us = c.varint();
  const std::uint64_t count = c.varint();
  if (c.failed()) return;
  if (count == 0 || count > kMaxAckRanges) return c.fail(DecodeError::RangeOverflow);
  f.range_count = static_cast<std::uint8_t>(count);
  const std::uint64_t largest = c.varint();
  const std::uint64_t first_len = c.varint();
  if (c.failed()) return;
  if (first_len > largest) return c.fail(DecodeError::RangeOverflow);
  f.ranges[0] = {largest - first_len, largest};
  for (std::size_t i = 1; i < count; ++i) {
    const std::uint64_t gap = c.varint();
    const std::uint64_t len = c.varint();
    if (c.failed()) return;
    // The next range's largest is prev.smallest - gap - 2 (at least one packet missing between).
    const std::uint64_t prev_smallest = f.ranges[i - 1].smallest;
    if (prev_smallest < 2 || gap > prev_smallest - 2) return c.fail(DecodeError::RangeOverflow);
    const std::uint64_t next_largest = prev_smallest - gap - 2;
    if (len > next_largest) return c.fail(DecodeError::RangeOverflow);
    f.ranges[i] = {next_largest - len, next_largest};
  }
}

void decode_data(Cursor& c, DataFrame& f) {
  const std::uint8_t flags = c.u8();
  if (c.failed()) return;
  if (flags & ~kKnownDataFlags) return c.fail(DecodeError::UnknownDataFlags);
  if (!decode_lane_delivery(c, f.lane, f.delivery)) return;
  f.sequence = c.varint();
  f.fragmented = (flags & kDataFragment) != 0;
  if (f.fragmented) {
    f.total_length = c.varint();
    f.fragment_offset = c.varint();
  }
  f.mesh = (flags & kDataMesh) != 0;
  f.latest_value = (flags & kDataLatestValue) != 0;
  if (f.latest_value) {
    f.key = c.varint();
    f.version = c.varint();
  }
  const std::uint64_t len = c.varint();
  f.payload = c.bytes(len);
  if (c.failed()) return;
  if (f.fragmented) {
    if (f.total_length == 0 || f.total_length > kMaxMessageBytesHardCap || f.fragment_offset > f.total_length ||
        len > f.total_length - f.fragment_offset)
      return c.fail(DecodeError::BadFragment);
  }
}

void decode_close(Cursor& c, CloseFrame& f) {
  const std::uint8_t reason = c.u8();
  const std::uint64_t len = c.varint();
  if (c.failed()) return;
  if (reason > kMaxCloseReason) return c.fail(DecodeError::BadEnum);
  if (len > kMaxCloseReasonBytes) return c.fail(DecodeError::TooLong);
  f.reason = static_cast<CloseReason>(reason);
  f.text = c.bytes(len);
}

void decode_handshake(Cursor& c, HandshakeFrame& f) {
  const std::uint8_t kind = c.u8();
  if (c.failed()) return;
  if (kind == 0 || kind > kMaxHandshakeKind) return c.fail(DecodeError::BadEnum);
  f.kind = static_cast<HandshakeKind>(kind);
  f.node_id = c.u64();
  f.incarnation = c.varint();
  f.connection_id = c.u32();
  const std::uint8_t cookie_len = c.u8();
  if (c.failed()) return;
  if (cookie_len > kMaxCookieBytes) return c.fail(DecodeError::TooLong);
  f.cookie = c.bytes(cookie_len);
}

Bytes decode_body(Cursor& c) {
  const std::uint64_t len = c.varint();
  return c.bytes(len);
}

// ---- encode side ----

std::size_t data_header_size(const DataFrame& f, std::size_t payload_bytes) {
  std::size_t n = 1 + 1 + 1 + varint_size(f.sequence);
  if (f.fragmented) n += varint_size(f.total_length) + varint_size(f.fragment_offset);
  if (f.latest_value) n += varint_size(f.key) + varint_size(f.version);
  return n + varint_size(payload_bytes);
}

std::size_t ack_size(const AckFrame& f) {
  std::size_t n = 1 + varint_size(f.ack_delay_us) + varint_size(f.range_count);
  if (f.range_count == 0) return n;
  n += varint_size(f.ranges[0].largest) + varint_size(f.ranges[0].largest - f.ranges[0].smallest);
  for (std::size_t i = 1; i < f.range_count; ++i) {
    n += varint_size(f.ranges[i - 1].smallest - f.ranges[i].largest - 2);
    n += varint_size(f.ranges[i].largest - f.ranges[i].smallest);
  }
  return n;
}

// An AckFrame the decoder would accept: 1..32 ranges, descending, separated by a gap.
bool ack_is_encodable(const AckFrame& f) {
  if (f.range_count == 0 || f.range_count > kMaxAckRanges) return false;
  for (std::size_t i = 0; i < f.range_count; ++i) {
    if (f.ranges[i].smallest > f.ranges[i].largest) return false;
    if (i > 0 && f.ranges[i].largest + 2 > f.ranges[i - 1].smallest) return false;
  }
  return true;
}

bool is_encodable(const Frame& frame) {
  return std::visit(
      [](const auto& f) -> bool {
        using F = std::decay_t<decltype(f)>;
        if constexpr (std::is_same_v<F, PaddingFrame>) return f.length >= 1;
        else if constexpr (std::is_same_v<F, AckFrame>) return ack_is_encodable(f);
        else if constexpr (std::is_same_v<F, DataFrame>) {
          if (static_cast<std::size_t>(f.lane) >= kLaneCount) return false;
          if (static_cast<std::size_t>(f.delivery) >= kDeliveryCount) return false;
          if (!f.fragmented) return true;
          return f.total_length > 0 && f.total_length <= kMaxMessageBytesHardCap &&
                 f.fragment_offset <= f.total_length && f.payload.size() <= f.total_length - f.fragment_offset;
        } else if constexpr (std::is_same_v<F, CloseFrame>)
          return static_cast<std::uint8_t>(f.reason) <= kMaxCloseReason && f.text.size() <= kMaxCloseReasonBytes;
        else if constexpr (std::is_same_v<F, HandshakeFrame>) {
          const auto kind = static_cast<std::uint8_t>(f.kind);
          return kind >= 1 && kind <= kMaxHandshakeKind && f.cookie.size() <= kMaxCookieBytes;
        } else if constexpr (std::is_same_v<F, SkipFrame>)
          return static_cast<std::size_t>(f.lane) < kLaneCount &&
                 static_cast<std::size_t>(f.delivery) < kDeliveryCount;
        else return true;
      },
      frame);
}

// A DATA frame up to its payload (which follows it on the wire). Inlined into both
// callers: as a call it cost every datagram ~20 instructions (callgrind).
[[gnu::always_inline]] inline void encode_data_header(Out& o, const DataFrame& f) {
  o.u8(static_cast<std::uint8_t>(FrameType::Data));
  o.u8(static_cast<std::uint8_t>((f.fragmented ? kDataFragment : 0) | (f.latest_value ? kDataLatestValue : 0) |
                                 (f.mesh ? kDataMesh : 0)));
  o.u8(lane_delivery_byte(f.lane, f.delivery));
  o.varint(f.sequence);
  if (f.fragmented) {
    o.varint(f.total_length);
    o.varint(f.fragment_offset);
  }
  if (f.latest_value) {
    o.varint(f.key);
    o.varint(f.version);
  }
  o.varint(f.payload.size());
}

void encode_frame(Out& o, const Frame& frame) {
  std::visit(
      [&o](const auto& f) {
        using F = std::decay_t<decltype(f)>;
        if constexpr (std::is_same_v<F, PaddingFrame>) {
          o.zeros(f.length);
        } else if constexpr (std::is_same_v<F, PingFrame>) {
          o.u8(static_cast<std::uint8_t>(FrameType::Ping));
        } else if constexpr (std::is_same_v<F, AckFrame>) {
          o.u8(static_cast<std::uint8_t>(FrameType::Ack));
          o.varint(f.ack_delay_us);
          o.varint(f.range_count);
          o.varint(f.ranges[0].largest);
          o.varint(f.ranges[0].largest - f.ranges[0].smallest);
          for (std::size_t i = 1; i < f.range_count; ++i) {
            o.varint(f.ranges[i - 1].smallest - f.ranges[i].largest - 2);
            o.varint(f.ranges[i].largest - f.ranges[i].smallest);
          }
        } else if constexpr (std::is_same_v<F, DataFrame>) {
          encode_data_header(o, f);
          o.bytes(f.payload);
        } else if constexpr (std::is_same_v<F, CloseFrame>) {
          o.u8(static_cast<std::uint8_t>(FrameType::Close));
          o.u8(static_cast<std::uint8_t>(f.reason));
          o.varint(f.text.size());
          o.bytes(f.text);
        } else if constexpr (std::is_same_v<F, HandshakeFrame>) {
          o.u8(static_cast<std::uint8_t>(FrameType::Handshake));
          o.u8(static_cast<std::uint8_t>(f.kind));
          o.u64(f.node_id);
          o.varint(f.incarnation);
          o.u32(f.connection_id);
          o.u8(static_cast<std::uint8_t>(f.cookie.size()));
          o.bytes(f.cookie);
        } else if constexpr (std::is_same_v<F, BeaconFrame> || std::is_same_v<F, GossipFrame>) {
          o.u8(static_cast<std::uint8_t>(std::is_same_v<F, BeaconFrame> ? FrameType::Beacon : FrameType::Gossip));
          o.varint(f.body.size());
          o.bytes(f.body);
        } else if constexpr (std::is_same_v<F, SkipFrame>) {
          o.u8(static_cast<std::uint8_t>(FrameType::Skip));
          o.u8(lane_delivery_byte(f.lane, f.delivery));
          o.varint(f.sequence);
        }
      },
      frame);
}

}  // namespace

bool DataFrame::operator==(const DataFrame& o) const {
  return lane == o.lane && delivery == o.delivery && sequence == o.sequence && fragmented == o.fragmented &&
         (!fragmented || (total_length == o.total_length && fragment_offset == o.fragment_offset)) &&
         latest_value == o.latest_value && mesh == o.mesh && (!latest_value || (key == o.key && version == o.version)) &&
         std::equal(payload.begin(), payload.end(), o.payload.begin(), o.payload.end());
}
bool CloseFrame::operator==(const CloseFrame& o) const {
  return reason == o.reason && std::equal(text.begin(), text.end(), o.text.begin(), o.text.end());
}
bool HandshakeFrame::operator==(const HandshakeFrame& o) const {
  return kind == o.kind && node_id == o.node_id && incarnation == o.incarnation && connection_id == o.connection_id &&
         std::equal(cookie.begin(), cookie.end(), o.cookie.begin(), o.cookie.end());
}
bool BeaconFrame::operator==(const BeaconFrame& o) const {
  return std::equal(body.begin(), body.end(), o.body.begin(), o.body.end());
}
bool GossipFrame::operator==(const GossipFrame& o) const {
  return std::equal(body.begin(), body.end(), o.body.begin(), o.body.end());
}

// ---- decode ----

std::size_t read_header(Bytes d, Header& h, DecodeError& error) {
  if (d.size() < kConnectionlessHeaderBytes) return error = DecodeError::Truncated, 0;
  if (d[0] != kMagic0 || d[1] != kMagic1) return error = DecodeError::BadMagic, 0;
  if (d[2] != kWireVersion) return error = DecodeError::UnknownVersion, 0;
  if (d.size() < min_header_bytes(d[3])) return error = DecodeError::Truncated, 0;
  Cursor c(d);
  c.bytes(4);  // magic, version, flags: checked above / by the caller
  h.version = d[2];
  h.flags = d[3];
  if (h.flags & kFlagConnectionless) {
    h.connection_id = kConnectionlessId;
    h.packet_number = 0;
    return c.offset();
  }
  h.connection_id = c.u32();
  h.packet_number = c.varint();
  if (c.failed()) return error = c.error(), 0;
  return c.offset();
}

DecodeResult decode_datagram(Bytes d) {
  DecodeResult r;
  if (d.size() < kConnectionlessHeaderBytes) return r.error = DecodeError::Truncated, r;
  if (d[0] != kMagic0 || d[1] != kMagic1) return r.error = DecodeError::BadMagic, r;
  if (d[2] != kWireVersion) return r.error = DecodeError::UnknownVersion, r;
  const std::uint8_t flags = d[3];
  if (flags & ~kKnownHeaderFlags) return r.error = DecodeError::UnknownHeaderFlags, r;
  const std::size_t trailer = trailer_bytes(flags);
  if (d.size() < min_header_bytes(flags) + trailer) return r.error = DecodeError::Truncated, r;

  const Bytes covered = d.first(d.size() - trailer);
  const std::uint64_t sum = checksum(covered);
  std::uint64_t wire_sum = 0;
  for (std::size_t i = 0; i < trailer; ++i) wire_sum |= std::uint64_t{d[covered.size() + i]} << (8 * i);
  const std::uint64_t expected = trailer == 8 ? sum : (sum & 0xffff'ffffull);
  if (wire_sum != expected) return r.error = DecodeError::BadChecksum, r;

  Header h;
  const std::size_t head = read_header(covered, h, r.error);
  if (head == 0) return r;
  r.datagram = DatagramView{h, covered.subspan(head)};
  return r;
}

bool FrameReader::next(Frame& out) {
  if (error_ || rest_.empty()) return false;
  if (count_ >= kMaxFramesPerDatagram) return error_ = DecodeError::TooManyFrames, false;
  Cursor c(rest_);
  const std::uint8_t type = c.u8();
  switch (static_cast<FrameType>(type)) {
    case FrameType::Padding: {
      std::uint32_t n = 1;
      while (!c.at_end() && c.peek() == 0) {
        c.u8();
        ++n;
      }
      out = PaddingFrame{n};
      break;
    }
    case FrameType::Ping: out = PingFrame{}; break;
    case FrameType::Ack: decode_ack(c, out.emplace<AckFrame>()); break;
    case FrameType::Data: decode_data(c, out.emplace<DataFrame>()); break;
    case FrameType::Close: decode_close(c, out.emplace<CloseFrame>()); break;
    case FrameType::Handshake: decode_handshake(c, out.emplace<HandshakeFrame>()); break;
    case FrameType::Beacon: out.emplace<BeaconFrame>().body = decode_body(c); break;
    case FrameType::Gossip: out.emplace<GossipFrame>().body = decode_body(c); break;
    case FrameType::Skip: {
      auto& f = out.emplace<SkipFrame>();
      if (decode_lane_delivery(c, f.lane, f.delivery)) f.sequence = c.varint();
      break;
    }
    default: return error_ = DecodeError::UnknownFrame, false;
  }
  if (c.failed()) return error_ = c.error(), false;
  rest_ = rest_.subspan(c.offset());
  ++count_;
  return true;
}

// ---- encode ----

std::size_t encoded_size(const Frame& frame) {
  return std::visit(
      [](const auto& f) -> std::size_t {
        using F = std::decay_t<decltype(f)>;
        if constexpr (std::is_same_v<F, PaddingFrame>) return f.length;
        else if constexpr (std::is_same_v<F, PingFrame>) return 1;
        else if constexpr (std::is_same_v<F, AckFrame>) return ack_size(f);
        else if constexpr (std::is_same_v<F, DataFrame>) return data_header_size(f, f.payload.size()) + f.payload.size();
        else if constexpr (std::is_same_v<F, CloseFrame>) return 2 + varint_size(f.text.size()) + f.text.size();
        else if constexpr (std::is_same_v<F, HandshakeFrame>)
          return 2 + 8 + varint_size(f.incarnation) + 4 + 1 + f.cookie.size();
        else if constexpr (std::is_same_v<F, BeaconFrame> || std::is_same_v<F, GossipFrame>)
          return 1 + varint_size(f.body.size()) + f.body.size();
        else return 2 + varint_size(f.sequence);  // SkipFrame
      },
      frame);
}

std::size_t data_frame_overhead(const DataFrame& f, std::size_t payload_bytes) {
  return data_header_size(f, payload_bytes);
}

std::size_t datagram_overhead(const Header& h) { return header_bytes(h) + trailer_bytes(h.flags); }

DatagramWriter::DatagramWriter(MutableBytes buffer, std::size_t max_bytes, const Header& header)
    : buf_(buffer), trailer_(trailer_bytes(header.flags)) {
  const std::size_t cap = std::min({buffer.size(), max_bytes, kMaxDatagramBytes});
  const std::size_t head = header_bytes(header);
  if ((header.flags & ~kKnownHeaderFlags) || cap < head + trailer_ + 1) return;
  const bool connectionless = (header.flags & kFlagConnectionless) != 0;
  if (connectionless && (header.connection_id != kConnectionlessId || header.packet_number != 0)) return;
  Out o(buf_.data());
  o.u8(kMagic0);
  o.u8(kMagic1);
  o.u8(kWireVersion);
  o.u8(header.flags);
  if (!connectionless) {
    o.u32(header.connection_id);
    o.varint(header.packet_number);
  }
  pos_ = head;
  limit_ = cap - trailer_;
  ok_ = true;
}

std::size_t DatagramWriter::remaining() const { return ok_ ? limit_ - pos_ : 0; }

bool DatagramWriter::append(const Frame& frame) {
  if (!ok_ || frames_ >= kMaxFramesPerDatagram || !is_encodable(frame)) return false;
  const std::size_t n = encoded_size(frame);
  if (n > limit_ - pos_) return false;
  Out o(buf_.data() + pos_);
  encode_frame(o, frame);
  pos_ += n;
  ++frames_;
  return true;
}

bool DatagramWriter::append_by_reference(const DataFrame& frame) {
  if (!external_.empty() || frame.payload.empty()) return append(frame);
  if (!ok_ || frames_ >= kMaxFramesPerDatagram || !is_encodable(frame)) return false;
  const std::size_t n = encoded_size(frame);
  if (n > limit_ - pos_) return false;
  Out o(buf_.data() + pos_);
  encode_data_header(o, frame);
  pos_ += n - frame.payload.size();
  split_ = pos_;
  external_ = frame.payload;
  limit_ -= frame.payload.size();  // the budget is the wire's, wherever the bytes lie
  ++frames_;
  return true;
}

std::size_t flatten(MutableBytes buffer, std::size_t size, const Gathered& g) {
  if (g.external.empty()) return size;
  std::uint8_t* at = buffer.data() + g.split;
  std::memmove(at + g.external.size(), at, size - g.split);
  std::memcpy(at, g.external.data(), g.external.size());
  return size + g.external.size();
}

std::size_t DatagramWriter::finish() {
  if (!ok_ || frames_ == 0) return 0;
  std::uint64_t sum = 0;
  if (external_.empty()) {
    sum = checksum({buf_.data(), pos_});
  } else {
    const Bytes pieces[] = {{buf_.data(), split_}, external_, {buf_.data() + split_, pos_ - split_}};
    sum = checksum(pieces, 3, pos_ + external_.size());
  }
  Out o(buf_.data() + pos_);
  for (std::size_t i = 0; i < trailer_; ++i) o.u8(static_cast<std::uint8_t>(sum >> (8 * i)));
  const std::size_t size = pos_ + trailer_;
  ok_ = false;  // sealed
  return size;
}

}  // namespace hana::protocol
