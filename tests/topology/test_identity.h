// The identity of a mesh built by hand in a test (no simulator cluster): node `id` at
// 10.0.0.<last_octet>:7000.
#pragma once

#include <cstdint>
#include <string>

#include "topology/mesh.h"

namespace hana::topology::test {

inline Identity identity_at(NodeId id, std::uint8_t last_octet) {
  Identity me;
  me.id = id;
  me.name = "n" + std::to_string(id);
  me.listen = Address::ipv4(10, 0, 0, last_octet, 7000);
  return me;
}

}  // namespace hana::topology::test
