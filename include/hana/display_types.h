// The seed's display state messages (DisplayGroupUpdate, DisplaySync) and their compact,
// versioned, bounds-checked binary encoding (docs/wire-format.md, "Display state bodies").
// Pure data and pure functions: usable without a Node (tools, tests, fuzzers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hana/result.h"
#include "hana/types.h"

namespace hana {

struct Vector3 {
  float x = 0, y = 0, z = 0;
  bool operator==(const Vector3&) const = default;
};

struct Quaternion {
  float w = 1, x = 0, y = 0, z = 0;
  bool operator==(const Quaternion&) const = default;
};

// A display group moved or turned. Receivers apply it only if (version, author) is above
// the held one (DisplayStamp). hana::DisplayState fills `author` with the sending node's id
// and, for version 0, assigns the next version itself.
struct DisplayGroupUpdate {
  std::string group_id;        // <= kMaxDisplayIdBytes
  Vector3 position;
  Quaternion rotation;
  std::uint64_t timestamp_us = 0;  // sender's mesh time in µs (0: propagate stamps it); used for "update age"
  std::uint32_t version = 0;
  NodeId author = 0;  // the node that wrote this version (breaks version ties between authors)
  // Mesh time in µs at which receivers should present it (0: as soon as it arrives). The
  // transport does not hold the update back: every receiver is given it at once, deadline
  // included, so each can present it on the same frame (docs/api.md, "Frame-locked updates").
  std::uint64_t apply_at_us = 0;
  bool operator==(const DisplayGroupUpdate&) const = default;
};

struct Rect {
  std::int32_t x = 0, y = 0;
  std::uint32_t width = 0, height = 0;
  bool operator==(const Rect&) const = default;
};

struct WindowState {
  std::uint64_t id = 0;
  Rect rect;
  std::int32_t z_order = 0;
  bool visible = true;
  bool operator==(const WindowState&) const = default;
};

enum class DisplayStatus : std::uint8_t { Online = 0, Offline = 1, Degraded = 2, Standby = 3 };
inline constexpr std::uint8_t kMaxDisplayStatus = 3;

// The whole window layout of one display. Same ordering and version rules as a group update.
struct DisplaySync {
  std::string display_id;          // <= kMaxDisplayIdBytes
  std::vector<WindowState> windows;  // <= kMaxWindowsPerDisplay
  DisplayStatus status = DisplayStatus::Online;
  std::uint64_t timestamp_us = 0;  // as DisplayGroupUpdate::timestamp_us
  std::uint32_t version = 0;
  NodeId author = 0;
  std::uint64_t apply_at_us = 0;  // as DisplayGroupUpdate::apply_at_us
  bool operator==(const DisplaySync&) const = default;
};

// The total order of one id's states across authors, Lamport style: version first, the
// author's node id breaks ties. Two authors never tie, so every node keeps the same last writer.
struct DisplayStamp {
  std::uint32_t version = 0;
  NodeId author = 0;
  auto operator<=>(const DisplayStamp&) const = default;
};
inline DisplayStamp stamp_of(const DisplayGroupUpdate& u) { return {u.version, u.author}; }
inline DisplayStamp stamp_of(const DisplaySync& s) { return {s.version, s.author}; }

inline constexpr std::size_t kMaxDisplayIdBytes = 64;
inline constexpr std::size_t kMaxWindowsPerDisplay = 256;
// 3: apply_at_us after the author, and DisplaySync carries timestamp_us (2 had neither;
// 1 had no author). Older bodies are unknown-version.
inline constexpr std::uint8_t kDisplayEncodingVersion = 3;

enum class DisplayMessageType : std::uint8_t { GroupUpdate = 1, DisplaySync = 2 };

// Largest encodings, for sizing buffers.
inline constexpr std::size_t kMaxDisplayVarintBytes = 10;  // a u64 as a LEB128 varint
inline constexpr std::size_t kMaxGroupUpdateBytes = 2 + 1 + kMaxDisplayIdBytes + 12 + 16 + 8 + 4 + 8 + kMaxDisplayVarintBytes;
inline constexpr std::size_t kMaxWindowBytes = kMaxDisplayVarintBytes + 4 * 5 + 1;
inline constexpr std::size_t kMaxDisplaySyncBytes =
    2 + 1 + kMaxDisplayIdBytes + 1 + 8 + 4 + 8 + kMaxDisplayVarintBytes + 2 + kMaxWindowsPerDisplay * kMaxWindowBytes;

// Encode into `out`; errors: InvalidArgument (id too long, too many windows, non-finite
// coordinates) or BufferTooSmall. Returns the bytes written.
Result<std::size_t> encode_display_message(const DisplayGroupUpdate& update, std::span<std::uint8_t> out);
Result<std::size_t> encode_display_message(const DisplaySync& sync, std::span<std::uint8_t> out);

enum class DisplayDecodeError : std::uint8_t {
  Truncated, UnknownType, UnknownVersion, IdTooLong, TooManyWindows, BadStatus, BadFloat, BadFlags, TrailingBytes, Count
};
std::string_view to_string(DisplayDecodeError e);

// Type of an encoded display message, or nullopt-like false if unrecognisable.
bool peek_display_message_type(std::span<const std::uint8_t> in, DisplayMessageType& type);
// Decode; on failure returns false and sets `error`. Outputs are overwritten (their
// capacity is reused, so a long-lived output object stops allocating once warmed up).
bool decode_display_message(std::span<const std::uint8_t> in, DisplayGroupUpdate& out, DisplayDecodeError& error);
bool decode_display_message(std::span<const std::uint8_t> in, DisplaySync& out, DisplayDecodeError& error);

// Latest-value key of a group / display: a 64-bit hash of (type, id). Receivers still
// compare ids exactly; the key only drives sender-side coalescing.
std::uint64_t display_key(DisplayMessageType type, std::string_view id);

}  // namespace hana
