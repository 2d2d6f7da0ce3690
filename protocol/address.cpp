#include "hana/address.h"

#include <arpa/inet.h>  // inet_pton/inet_ntop: pure text conversion, no I/O

#include <charconv>

namespace hana {

std::optional<Address> Address::parse(std::string_view text) {
  Address addr;
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
    addr.family = 6;
    if (auto pct = host.find('%'); pct != std::string::npos) {
      const std::string_view scope = std::string_view(host).substr(pct + 1);
      auto [end, ec] = std::from_chars(scope.data(), scope.data() + scope.size(), addr.scope_id);
      if (scope.empty() || ec != std::errc{} || end != scope.data() + scope.size() || addr.scope_id == 0)
        return std::nullopt;
      host.resize(pct);
      if (inet_pton(AF_INET6, host.c_str(), addr.ip.data()) != 1 || !addr.needs_scope()) return std::nullopt;
    } else if (inet_pton(AF_INET6, host.c_str(), addr.ip.data()) != 1) {
      return std::nullopt;
    }
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    addr.family = 4;
    if (inet_pton(AF_INET, host.c_str(), addr.ip.data()) != 1) return std::nullopt;
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535) return std::nullopt;
  addr.port = static_cast<std::uint16_t>(port);
  return addr;
}

std::string Address::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 6) {
    inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
    const std::string scope = scope_id ? "%" + std::to_string(scope_id) : std::string();
    return "[" + std::string(buf) + scope + "]:" + std::to_string(port);
  }
  inet_ntop(AF_INET, ip.data(), buf, sizeof buf);
  return std::string(buf) + ":" + std::to_string(port);
}

}  // namespace hana
