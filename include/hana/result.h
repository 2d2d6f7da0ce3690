// Errors as values: a small expected-like Result<T> (C++20 has no std::expected).
#pragma once

#include <cassert>
#include <cstdint>
#include <string_view>
#include <utility>
#include <variant>

namespace hana {

enum class Errc : std::uint8_t {
  InvalidArgument,   // bad value from the API (the message says which)
  QueueFull,         // back-pressure: a bounded queue is full, try later
  MessageTooLarge,   // larger than the max_message_bytes knob
  NotConnected,      // no live connection to that peer
  UnknownPeer,
  Closed,            // the connection or node is closing/closed
  BufferTooSmall,    // caller's output buffer cannot hold the result
  Unavailable,       // a resource (socket, io_uring, ...) could not be had
  Internal,
};

constexpr std::string_view to_string(Errc e) {
  switch (e) {
    case Errc::InvalidArgument: return "invalid-argument";
    case Errc::QueueFull: return "queue-full";
    case Errc::MessageTooLarge: return "message-too-large";
    case Errc::NotConnected: return "not-connected";
    case Errc::UnknownPeer: return "unknown-peer";
    case Errc::Closed: return "closed";
    case Errc::BufferTooSmall: return "buffer-too-small";
    case Errc::Unavailable: return "unavailable";
    case Errc::Internal: return "internal";
  }
  return "?";
}

// `message` must point at static storage (a literal): errors never allocate.
struct Error {
  Errc code;
  const char* message = "";
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(error) {}         // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { assert(ok()); return std::get<0>(v_); }
  const T& value() const { assert(ok()); return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : ok_(false), error_(error) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return error_; }

 private:
  bool ok_ = true;
  Error error_{Errc::Internal, ""};
};

}  // namespace hana
