// Encoding of DisplayGroupUpdate / DisplaySync (docs/wire-format.md, "Display state bodies").
#include <xxhash.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "hana/display_types.h"
#include "protocol/codec.h"

namespace hana {
namespace {

using protocol::read_varint;
using protocol::varint_size;
using protocol::write_varint;

class Writer {
 public:
  explicit Writer(std::span<std::uint8_t> out) : out_(out) {}
  bool ok() const { return ok_; }
  std::size_t size() const { return pos_; }
  void u8(std::uint8_t v) { raw(&v, 1); }
  void u32(std::uint32_t v) { little_endian(v); }
  void u64(std::uint64_t v) { little_endian(v); }
  void f32(float v) { u32(std::bit_cast<std::uint32_t>(v)); }
  void varint(std::uint64_t v) {
    std::uint8_t b[10];
    raw(b, write_varint(b, v));
  }
  void text(std::string_view s) {
    u8(static_cast<std::uint8_t>(s.size()));
    raw(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  }

 private:
  template <class T>
  void little_endian(T v) {
    std::uint8_t b[sizeof(T)];
    for (std::size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
    raw(b, sizeof(T));
  }
  void raw(const std::uint8_t* p, std::size_t n) {
    if (!ok_ || n > out_.size() - pos_) {
      ok_ = false;
      return;
    }
    if (n) std::memcpy(out_.data() + pos_, p, n);
    pos_ += n;
  }
  std::span<std::uint8_t> out_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
  bool failed() const { return failed_; }
  DisplayDecodeError error() const { return error_; }
  bool at_end() const { return pos_ == in_.size(); }
  void fail(DisplayDecodeError e) {
    if (!failed_) error_ = e;
    failed_ = true;
  }
  const std::uint8_t* take(std::size_t n) {
    if (failed_ || n > in_.size() - pos_) {
      fail(DisplayDecodeError::Truncated);
      return nullptr;
    }
    const std::uint8_t* p = in_.data() + pos_;
    pos_ += n;
    return p;
  }
  std::uint8_t u8() {
    const auto* p = take(1);
    return p ? *p : 0;
  }
  std::uint32_t u32() { return little_endian<std::uint32_t>(); }
  std::uint64_t u64() { return little_endian<std::uint64_t>(); }
  float f32() {
    const float v = std::bit_cast<float>(u32());
    if (!std::isfinite(v)) fail(DisplayDecodeError::BadFloat);
    return v;
  }
  std::uint64_t varint() {
    if (failed_) return 0;
    std::uint64_t v = 0;
    const std::size_t n = read_varint(in_.subspan(pos_), v);
    if (n == 0) return fail(DisplayDecodeError::Truncated), 0;
    pos_ += n;
    return v;
  }
  void text(std::string& out) {
    const std::uint8_t n = u8();
    if (n > kMaxDisplayIdBytes) return fail(DisplayDecodeError::IdTooLong);
    const auto* p = take(n);
    if (p) out.assign(reinterpret_cast<const char*>(p), n);
  }

 private:
  template <class T>
  T little_endian() {
    const auto* p = take(sizeof(T));
    T v = 0;
    if (p)
      for (std::size_t i = sizeof(T); i-- > 0;) v = static_cast<T>((v << 8) | p[i]);
    return v;
  }
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
  bool failed_ = false;
  DisplayDecodeError error_ = DisplayDecodeError::Truncated;
};

bool finite(const Vector3& v) { return std::isfinite(v.x) && std::isfinite(v.y) && std::isfinite(v.z); }
bool finite(const Quaternion& q) {
  return std::isfinite(q.w) && std::isfinite(q.x) && std::isfinite(q.y) && std::isfinite(q.z);
}

bool read_header(Reader& r, DisplayMessageType expected) {
  const std::uint8_t type = r.u8();
  const std::uint8_t version = r.u8();
  if (r.failed()) return false;
  if (type != static_cast<std::uint8_t>(expected)) return r.fail(DisplayDecodeError::UnknownType), false;
  if (version != kDisplayEncodingVersion) return r.fail(DisplayDecodeError::UnknownVersion), false;
  return true;
}

bool finish(Reader& r, DisplayDecodeError& error) {
  if (!r.failed() && !r.at_end()) r.fail(DisplayDecodeError::TrailingBytes);
  if (r.failed()) error = r.error();
  return !r.failed();
}

}  // namespace

std::string_view to_string(DisplayDecodeError e) {
  switch (e) {
    case DisplayDecodeError::Truncated: return "truncated";
    case DisplayDecodeError::UnknownType: return "unknown-type";
    case DisplayDecodeError::UnknownVersion: return "unknown-version";
    case DisplayDecodeError::IdTooLong: return "id-too-long";
    case DisplayDecodeError::TooManyWindows: return "too-many-windows";
    case DisplayDecodeError::BadStatus: return "bad-status";
    case DisplayDecodeError::BadFloat: return "bad-float";
    case DisplayDecodeError::BadFlags: return "bad-flags";
    case DisplayDecodeError::TrailingBytes: return "trailing-bytes";
    case DisplayDecodeError::Count: break;
  }
  return "?";
}

Result<std::size_t> encode_display_message(const DisplayGroupUpdate& u, std::span<std::uint8_t> out) {
  if (u.group_id.size() > kMaxDisplayIdBytes) return Error{Errc::InvalidArgument, "group_id longer than 64 bytes"};
  if (!finite(u.position) || !finite(u.rotation))
    return Error{Errc::InvalidArgument, "position/rotation must be finite"};
  Writer w(out);
  w.u8(static_cast<std::uint8_t>(DisplayMessageType::GroupUpdate));
  w.u8(kDisplayEncodingVersion);
  w.text(u.group_id);
  w.f32(u.position.x);
  w.f32(u.position.y);
  w.f32(u.position.z);
  w.f32(u.rotation.w);
  w.f32(u.rotation.x);
  w.f32(u.rotation.y);
  w.f32(u.rotation.z);
  w.u64(u.timestamp_us);
  w.u32(u.version);
  w.u64(u.author);
  w.varint(u.apply_at_us);
  if (!w.ok()) return Error{Errc::BufferTooSmall, "buffer too small for DisplayGroupUpdate"};
  return w.size();
}

Result<std::size_t> encode_display_message(const DisplaySync& s, std::span<std::uint8_t> out) {
  if (s.display_id.size() > kMaxDisplayIdBytes) return Error{Errc::InvalidArgument, "display_id longer than 64 bytes"};
  if (s.windows.size() > kMaxWindowsPerDisplay) return Error{Errc::InvalidArgument, "more than 256 windows"};
  if (static_cast<std::uint8_t>(s.status) > kMaxDisplayStatus) return Error{Errc::InvalidArgument, "bad status"};
  Writer w(out);
  w.u8(static_cast<std::uint8_t>(DisplayMessageType::DisplaySync));
  w.u8(kDisplayEncodingVersion);
  w.text(s.display_id);
  w.u8(static_cast<std::uint8_t>(s.status));
  w.u64(s.timestamp_us);
  w.u32(s.version);
  w.u64(s.author);
  w.varint(s.apply_at_us);
  w.varint(s.windows.size());
  for (const auto& win : s.windows) {
    w.varint(win.id);
    w.u32(static_cast<std::uint32_t>(win.rect.x));
    w.u32(static_cast<std::uint32_t>(win.rect.y));
    w.u32(win.rect.width);
    w.u32(win.rect.height);
    w.u32(static_cast<std::uint32_t>(win.z_order));
    w.u8(win.visible ? 1 : 0);
  }
  if (!w.ok()) return Error{Errc::BufferTooSmall, "buffer too small for DisplaySync"};
  return w.size();
}

bool peek_display_message_type(std::span<const std::uint8_t> in, DisplayMessageType& type) {
  if (in.size() < 2 || in[1] != kDisplayEncodingVersion) return false;
  if (in[0] != static_cast<std::uint8_t>(DisplayMessageType::GroupUpdate) &&
      in[0] != static_cast<std::uint8_t>(DisplayMessageType::DisplaySync))
    return false;
  type = static_cast<DisplayMessageType>(in[0]);
  return true;
}

bool decode_display_message(std::span<const std::uint8_t> in, DisplayGroupUpdate& u, DisplayDecodeError& error) {
  Reader r(in);
  if (read_header(r, DisplayMessageType::GroupUpdate)) {
    r.text(u.group_id);
    u.position = {r.f32(), r.f32(), r.f32()};
    u.rotation = {r.f32(), r.f32(), r.f32(), r.f32()};
    u.timestamp_us = r.u64();
    u.version = r.u32();
    u.author = r.u64();
    u.apply_at_us = r.varint();
  }
  return finish(r, error);
}

bool decode_display_message(std::span<const std::uint8_t> in, DisplaySync& s, DisplayDecodeError& error) {
  Reader r(in);
  if (read_header(r, DisplayMessageType::DisplaySync)) {
    r.text(s.display_id);
    const std::uint8_t status = r.u8();
    if (!r.failed() && status > kMaxDisplayStatus) r.fail(DisplayDecodeError::BadStatus);
    s.status = static_cast<DisplayStatus>(status);
    s.timestamp_us = r.u64();
    s.version = r.u32();
    s.author = r.u64();
    s.apply_at_us = r.varint();
    const std::uint64_t count = r.varint();
    if (!r.failed() && count > kMaxWindowsPerDisplay) r.fail(DisplayDecodeError::TooManyWindows);
    s.windows.clear();
    for (std::uint64_t i = 0; i < count && !r.failed(); ++i) {
      WindowState win;
      win.id = r.varint();
      win.rect.x = static_cast<std::int32_t>(r.u32());
      win.rect.y = static_cast<std::int32_t>(r.u32());
      win.rect.width = r.u32();
      win.rect.height = r.u32();
      win.z_order = static_cast<std::int32_t>(r.u32());
      const std::uint8_t flags = r.u8();
      if (!r.failed() && flags > 1) r.fail(DisplayDecodeError::BadFlags);
      win.visible = flags == 1;
      if (!r.failed()) s.windows.push_back(win);
    }
  }
  return finish(r, error);
}

std::uint64_t display_key(DisplayMessageType type, std::string_view id) {
  return XXH3_64bits_withSeed(id.data(), id.size(), static_cast<std::uint64_t>(type));
}

}  // namespace hana
