// Fuzz target: display state bodies from the network. Never crash; anything accepted
// re-encodes to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "hana/display_types.h"

using namespace hana;

template <class T>
static void check(const std::uint8_t* data, std::size_t size, T& msg) {
  DisplayDecodeError err{};
  if (!decode_display_message({data, size}, msg, err)) return;
  static std::uint8_t out[kMaxDisplaySyncBytes];
  auto n = encode_display_message(msg, out);
  if (!n.ok() || *n != size || std::memcmp(out, data, size) != 0) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static DisplayGroupUpdate update;  // reused like a long-lived receiver would
  static DisplaySync sync;
  check(data, size, update);
  check(data, size, sync);
  return 0;
}
