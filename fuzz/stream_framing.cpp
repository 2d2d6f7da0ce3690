// Fuzz target: arbitrary bytes from a TCP stream into protocol::StreamDeframer. Must never
// crash, hold more than one buffer, or return a datagram outside 1..max_frame_bytes; and a
// stream must give the same datagrams and the same verdict however the reads split it.
// Input: max_frame_bytes (2 bytes), a read size (1 byte), then the stream.
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <cstring>

#include <xxhash.h>

#include "protocol/stream_framing.h"

using namespace hana::protocol;

namespace {

struct Outcome {
  std::uint64_t frames = 0;
  std::uint64_t digest = 0;  // of every datagram, in order
  StreamError error = StreamError::None;
  std::size_t held = 0;
};

Outcome run(std::size_t max_frame, const std::uint8_t* data, std::size_t size, std::size_t chunk) {
  StreamDeframer d(max_frame);
  Outcome o;
  std::size_t pos = 0;
  hana::TimeNs now = 1;
  while (pos < size) {
    MutableBytes space = d.space();
    if (space.empty()) break;
    if (space.size() > d.buffer_bytes()) std::abort();
    const std::size_t n = std::min({chunk, space.size(), size - pos});
    std::memcpy(space.data(), data + pos, n);
    d.commit(n, now++);
    pos += n;
    while (auto datagram = d.next()) {
      if (datagram->empty() || datagram->size() > max_frame) std::abort();
      o.digest = XXH3_64bits_withSeed(datagram->data(), datagram->size(), o.digest);
      ++o.frames;
    }
    if (d.held_bytes() > d.buffer_bytes()) std::abort();
    if (d.held_bytes() != 0 && d.partial_since() == 0) std::abort();
  }
  o.error = d.error();
  o.held = d.held_bytes();
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::size_t max_frame = 1 + ((data[0] << 8) | data[1]);  // 1..65536: capped inside
  const std::size_t chunk = 1 + data[2];
  const std::size_t capped = std::min<std::size_t>(max_frame, kMaxStreamFrameBytes);
  const Outcome whole = run(capped, data + 3, size - 3, size);
  const Outcome split = run(capped, data + 3, size - 3, chunk);
  if (whole.frames != split.frames || whole.digest != split.digest || whole.error != split.error) std::abort();
  return 0;
}
