// Test traffic for simulated connections: what to send (StreamSpec) and the payload
// format that lets the receiver identify every message without asking the sender.
//
// Payload: [0] magic 0xA5, [1] stream index, [2..9] message index (LE), [10..17] virtual
// send time (LE), then filler bytes that are a function of (index, offset), so a
// reassembly bug shows up as a corrupted message rather than passing silently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "hana/types.h"

namespace hana::sim {

struct StreamSpec {
  Lane lane = Lane::Normal;
  Delivery delivery = Delivery::ReliableOrdered;
  bool latest_value = false;
  std::uint32_t keys = 8;         // latest-value: message i updates key i % keys, version i + 1
  std::uint32_t min_bytes = 64;   // payload size, uniform in [min, max] (raised to the header size)
  std::uint32_t max_bytes = 256;
  double rate_per_sec = 1000;     // 0 = saturate: keep the lane queue full until `messages` are sent
  std::uint64_t messages = 1000;  // per flow (sender -> receiver pair)
};

inline constexpr std::size_t kPayloadHeaderBytes = 18;
inline constexpr std::uint8_t kPayloadMagic = 0xA5;

struct PayloadHeader {
  std::uint8_t stream = 0;
  std::uint64_t index = 0;
  TimeNs sent_at = 0;
};

// Fills `out` (size >= kPayloadHeaderBytes) with a message.
void write_payload(std::span<std::uint8_t> out, const PayloadHeader& header);
// Parses and verifies a payload; nullopt if the header or any filler byte is wrong.
std::optional<PayloadHeader> read_payload(std::span<const std::uint8_t> payload);

// The default mix of `hana-sim --lanes all`: every lane and every delivery mode,
// latest-value included, small control messages and fragmented bulk ones.
// `total_messages` and `total_rate_per_sec` are split by each stream's share.
std::vector<StreamSpec> default_mix(std::uint64_t total_messages, double total_rate_per_sec);

}  // namespace hana::sim
