#include "topology/cookie.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

namespace hana::topology {

Cookie CookieJar::compute(const Address& from, std::uint64_t bucket) const {
  std::array<std::uint8_t, 1 + 2 + 16 + 8> input{};
  input[0] = from.family;
  input[1] = static_cast<std::uint8_t>(from.port);
  input[2] = static_cast<std::uint8_t>(from.port >> 8);
  std::memcpy(input.data() + 3, from.ip.data(), 16);
  for (int i = 0; i < 8; ++i) input[19 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(bucket >> (8 * i));
  const XXH128_hash_t h = XXH3_128bits_withSeed(input.data(), input.size(), secret_);
  Cookie out{};
  for (int i = 0; i < 8; ++i) {
    out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(h.low64 >> (8 * i));
    out[8 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(h.high64 >> (8 * i));
  }
  return out;
}

bool CookieJar::verify(const Address& from, protocol::Bytes cookie, TimeNs now) const {
  if (cookie.size() != kCookieBytes) return false;
  const std::uint64_t bucket = now / lifetime_ns_;
  for (std::uint64_t b : {bucket, bucket - 1}) {
    if (bucket == 0 && b != 0) continue;
    const Cookie expect = compute(from, b);
    // Constant-time compare: the cookie is a secret-derived token.
    std::uint8_t diff = 0;
    for (std::size_t i = 0; i < kCookieBytes; ++i) diff |= static_cast<std::uint8_t>(expect[i] ^ cookie[i]);
    if (diff == 0) return true;
  }
  return false;
}

std::size_t SourceLimiter::slot(const Address& from) const {
  Address host = from;
  host.port = 0;  // every port of a host shares its bucket
  return AddressHash{}(host) % kBuckets;
}

bool RateLimiter::allow(TimeNs now) {
  const std::uint64_t cap = rate_ * 1000;
  if (!started_) {
    started_ = true;
    tokens_milli_ = cap;
    last_ns_ = now;
  }
  if (now > last_ns_) {
    // milli-tokens earned; the clock only advances by the time actually converted, so
    // frequent calls do not lose the fractional remainder.
    const unsigned __int128 add = static_cast<unsigned __int128>(now - last_ns_) * rate_ / 1'000'000;
    if (add > 0) {
      tokens_milli_ = static_cast<std::uint64_t>(std::min<unsigned __int128>(cap, tokens_milli_ + add));
      last_ns_ += static_cast<TimeNs>(add * 1'000'000 / rate_);
      if (tokens_milli_ == cap) last_ns_ = now;
    }
  }
  if (tokens_milli_ >= 1000) {
    tokens_milli_ -= 1000;
    return true;
  }
  ++denied_;
  return false;
}

}  // namespace hana::topology
