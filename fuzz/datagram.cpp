// Fuzz target: arbitrary bytes from the network into decode_datagram + FrameReader.
// Must never crash or allocate unboundedly. Anything accepted must re-encode to the
// very same bytes (the encoding is canonical), which checks decoder and encoder agree.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <xxhash.h>

#include "protocol/codec.h"

using namespace hana::protocol;

namespace {

void check(const std::uint8_t* data, std::size_t size) {
  const DecodeResult r = decode_datagram({data, size});
  if (!r.datagram) return;

  static std::uint8_t out[kMaxDatagramBytes];
  DatagramWriter writer(out, sizeof out, r.datagram->header);
  if (!writer.ok()) std::abort();
  FrameReader reader(r.datagram->frames);
  Frame frame;
  while (reader.next(frame)) {
    if (!writer.append(frame)) std::abort();  // a decoded frame must be encodable again
  }
  if (reader.error()) return;  // a malformed frame: counted and dropped by callers
  const std::size_t n = writer.finish();
  if (reader.frames_read() == 0) return;  // header only: nothing to compare
  if (n != size || std::memcmp(out, data, size) != 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check(data, size);  // as received: mostly bad checksums
  // Again with the trailer fixed up, so mutations reach the frame parsers.
  static std::uint8_t fixed[kMaxDatagramBytes + 8];
  if (size < 12 || size > kMaxDatagramBytes) return 0;
  std::memcpy(fixed, data, size);
  const std::size_t trailer = (data[3] & kFlagShortChecksum) ? 4 : 8;
  const std::uint64_t sum = XXH3_64bits(fixed, size - trailer);
  for (std::size_t i = 0; i < trailer; ++i) fixed[size - trailer + i] = static_cast<std::uint8_t>(sum >> (8 * i));
  check(fixed, size);
  return 0;
}
