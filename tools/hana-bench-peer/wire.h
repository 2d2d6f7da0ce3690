// The benchmark's own message header, shared by every baseline transport.
// Every message starts with it; the payload after it is filler up to --size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace bench {

enum class Kind : std::uint32_t {
  kPing = 1,       // echoed back whole on the same channel
  kBulk = 2,       // stream data: counted by the server, confirmed by kAck
  kFanout = 3,     // answered by a header-only kFanoutAck
  kFanoutAck = 4,
  kAck = 5,        // cumulative stream confirmation: seq = highest completed, then AckBody
  kHello = 6,      // udp-raw only: proves the server is up before the measurement starts
};

struct Header {
  Kind kind;
  std::uint32_t aux;   // kAck: unused; others: 0
  std::uint64_t seq;
};
static_assert(sizeof(Header) == 16);

struct AckBody {
  std::uint64_t completed_msgs;
  std::uint64_t completed_bytes;
};

inline constexpr std::size_t kHeaderBytes = sizeof(Header);
inline constexpr std::size_t kAckBytes = sizeof(Header) + sizeof(AckBody);

inline bool read_header(const std::uint8_t* data, std::size_t len, Header* out) {
  if (len < kHeaderBytes) return false;
  std::memcpy(out, data, kHeaderBytes);
  return true;
}

inline void write_header(std::uint8_t* data, Kind kind, std::uint64_t seq) {
  Header h{kind, 0, seq};
  std::memcpy(data, &h, kHeaderBytes);
}

}  // namespace bench
