// hana/interface.h: interface names, indexes and addresses -> index.
#include "hana/interface.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <string>

namespace hana {
namespace {

// The interface that has `addr` (family 4 or 6) assigned; 0 if none.
std::uint32_t index_of_address(const Address& addr) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return 0;
  std::uint32_t found = 0;
  for (const ifaddrs* i = list; i && found == 0; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    if (addr.family == 4 && i->ifa_addr->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      if (std::memcmp(&in->sin_addr, addr.ip.data(), 4) == 0) found = ::if_nametoindex(i->ifa_name);
    } else if (addr.family == 6 && i->ifa_addr->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      if (std::memcmp(&in6->sin6_addr, addr.ip.data(), 16) == 0) found = ::if_nametoindex(i->ifa_name);
    }
  }
  ::freeifaddrs(list);
  return found;
}

}  // namespace

Result<std::uint32_t> interface_index(std::string_view spec) {
  if (spec.empty()) return Error{Errc::InvalidArgument, "interface: empty name"};
  std::uint32_t index = 0;
  auto [end, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), index);
  if (ec == std::errc{} && end == spec.data() + spec.size()) {
    char name[IF_NAMESIZE] = {};
    if (index == 0 || ::if_indextoname(index, name) == nullptr)
      return Error{Errc::InvalidArgument, "interface: no network interface has that index"};
    return index;
  }
  const std::string text(spec);
  Address addr;
  if (::inet_pton(AF_INET, text.c_str(), addr.ip.data()) == 1) {
    addr.family = 4;
  } else if (::inet_pton(AF_INET6, text.c_str(), addr.ip.data()) == 1) {
    addr.family = 6;
  } else {
    if (text.size() >= IF_NAMESIZE || (index = ::if_nametoindex(text.c_str())) == 0)
      return Error{Errc::InvalidArgument, "interface: no network interface has that name"};
    return index;
  }
  if ((index = index_of_address(addr)) == 0)
    return Error{Errc::InvalidArgument, "interface: no network interface has that address"};
  return index;
}

std::optional<Address> parse_address(std::string_view text) {
  if (auto a = Address::parse(text)) return a;
  // "[host%name]:port": swap the name for its index and parse again.
  const auto pct = text.find('%'), close = text.find(']');
  if (text.empty() || text.front() != '[' || pct == std::string_view::npos || close == std::string_view::npos ||
      pct > close)
    return std::nullopt;
  auto index = interface_index(text.substr(pct + 1, close - pct - 1));
  if (!index) return std::nullopt;
  std::string numeric(text.substr(0, pct + 1));
  numeric += std::to_string(*index);
  numeric += text.substr(close);
  return Address::parse(numeric);
}

}  // namespace hana
