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

  static Address ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
    Address addr;
    addr.family = 4;
    addr.port = port;
    addr.ip = {a, b, c, d};
    return addr;
  }
  // "1.2.3.4:5", "[::1]:5". Returns nullopt on anything else.
  static std::optional<Address> parse(std::string_view text);
  std::string to_string() const;
  bool operator==(const Address&) const = default;
};

struct AddressHash {
  std::size_t operator()(const Address& a) const noexcept {
    std::uint64_t h = 1469598103934665603ull ^ a.family ^ (std::uint64_t{a.port} << 8);
    for (auto b : a.ip) h = (h ^ b) * 1099511628211ull;
    return static_cast<std::size_t>(h);
  }
};

}  // namespace hana
