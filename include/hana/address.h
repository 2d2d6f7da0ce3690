// A UDP endpoint (IPv4 or IPv6 + port) as plain data, so sans-IO code can name
// peers without touching sockaddr.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace hana {

struct Address {
  std::uint8_t family = 4;               // 4 or 6
  std::uint16_t port = 0;                // host byte order
  std::array<std::uint8_t, 16> ip{};     // IPv4 uses the first 4 bytes, network order
  // IPv6 only: the interface index a link-local (fe80::/10, ff02::/16, ...) address is
  // valid on; 0 = none. Local to one host: never sent on the wire.
  std::uint32_t scope_id = 0;

  static Address ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
    Address addr;
    addr.family = 4;
    addr.port = port;
    addr.ip = {a, b, c, d};
    return addr;
  }
  // "1.2.3.4:5", "[::1]:5", "[fe80::1%3]:5" (numeric scope; interface names need the
  // system: hana::parse_address in hana/interface.h). Returns nullopt on anything else.
  static std::optional<Address> parse(std::string_view text);
  std::string to_string() const;  // "[fe80::1%3]:5" when a scope is set

  // IPv4 224.0.0.0/4 or IPv6 ff00::/8.
  bool is_multicast() const { return family == 6 ? ip[0] == 0xFF : (ip[0] & 0xF0) == 0xE0; }
  // IPv6 addresses that mean something only on one link and so need a scope_id:
  // link-local unicast fe80::/10 and interface/link-local multicast ff01::/16, ff02::/16
  // (any flags nibble).
  bool needs_scope() const {
    if (family != 6) return false;
    if (ip[0] == 0xFE && (ip[1] & 0xC0) == 0x80) return true;
    return ip[0] == 0xFF && ((ip[1] & 0x0F) == 1 || (ip[1] & 0x0F) == 2);
  }
  bool operator==(const Address&) const = default;
};

struct AddressHash {
  std::size_t operator()(const Address& a) const noexcept {
    std::uint64_t h = 1469598103934665603ull ^ a.family ^ (std::uint64_t{a.port} << 8) ^ (std::uint64_t{a.scope_id} << 24);
    for (auto b : a.ip) h = (h ^ b) * 1099511628211ull;
    return static_cast<std::size_t>(h);
  }
};

}  // namespace hana
