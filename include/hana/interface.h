// Network interfaces as users name them: "eth0", an index "3", or an address one of them
// has. These read the host's interface list (the calling thread's network namespace), so
// they live in the engine, not in the sans-IO Address.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "hana/address.h"
#include "hana/result.h"

namespace hana {

// The index of the interface named by `spec`: a name ("veth0"), a decimal index ("3"),
// or an IPv4/IPv6 address assigned to it ("10.0.0.1", "fe80::1"). InvalidArgument when
// no interface matches.
Result<std::uint32_t> interface_index(std::string_view spec);

// Address::parse, plus interface names as IPv6 scopes: "[fe80::1%eth0]:7000". nullopt on
// bad syntax or an unknown interface.
std::optional<Address> parse_address(std::string_view text);

}  // namespace hana
