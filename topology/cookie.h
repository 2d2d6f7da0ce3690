// Stateless handshake cookie and the handshake rate limiter.
//
// A responder answers a Hello with a Retry carrying cookie = XXH3-128(secret,
// address, time bucket) and keeps no state; only a HelloCookie echoing a valid cookie
// from the same address creates a connection. A spoofed source never sees the cookie,
// so a flood of Hellos costs one hash and one small reply each, and the rate limiter
// caps even that.
#pragma once

#include <array>
#include <cstdint>

#include "hana/address.h"
#include "hana/types.h"
#include "protocol/frames.h"

namespace hana::topology {

inline constexpr std::size_t kCookieBytes = 16;
using Cookie = std::array<std::uint8_t, kCookieBytes>;

class CookieJar {
 public:
  CookieJar(std::uint64_t secret, TimeNs lifetime_ns) : secret_(secret), lifetime_ns_(lifetime_ns ? lifetime_ns : 1) {}
  void set_lifetime(TimeNs lifetime_ns) { lifetime_ns_ = lifetime_ns ? lifetime_ns : 1; }
  Cookie make(const Address& from, TimeNs now) const { return compute(from, now / lifetime_ns_); }
  // Accepts cookies of the current and the previous bucket.
  bool verify(const Address& from, protocol::Bytes cookie, TimeNs now) const;

 private:
  Cookie compute(const Address& from, std::uint64_t bucket) const;
  std::uint64_t secret_;
  TimeNs lifetime_ns_;
};

// Token bucket: `rate_per_sec` tokens per second, burst of one second's worth.
class RateLimiter {
 public:
  RateLimiter() = default;
  explicit RateLimiter(std::uint64_t rate_per_sec) { set_rate(rate_per_sec); }
  void set_rate(std::uint64_t rate_per_sec) {
    rate_ = rate_per_sec ? rate_per_sec : 1;
    if (tokens_milli_ > rate_ * 1000) tokens_milli_ = rate_ * 1000;
  }
  bool allow(TimeNs now);
  std::uint64_t denied() const { return denied_; }

 private:
  std::uint64_t rate_ = 1;
  std::uint64_t tokens_milli_ = ~0ull;  // starts full (clamped on first use)
  TimeNs last_ns_ = 0;
  bool started_ = false;
  std::uint64_t denied_ = 0;
};

// One token bucket per source host (IP address, any port), in a fixed table hashed by
// address: a flood from one host, from however many ports, drains its own bucket and not
// everyone's. Hosts that collide share a bucket; the table never grows.
class SourceLimiter {
 public:
  static constexpr std::size_t kBuckets = 256;
  explicit SourceLimiter(std::uint64_t rate_per_sec) { set_rate(rate_per_sec); }
  void set_rate(std::uint64_t rate_per_sec) {
    for (auto& b : buckets_) b.set_rate(rate_per_sec);
  }
  bool allow(const Address& from, TimeNs now) { return buckets_[slot(from)].allow(now); }

 private:
  std::size_t slot(const Address& from) const;
  std::array<RateLimiter, kBuckets> buckets_;
};

}  // namespace hana::topology
