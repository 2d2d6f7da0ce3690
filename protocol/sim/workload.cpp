#include "protocol/sim/workload.h"

namespace hana::sim {
namespace {

void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}
std::uint8_t filler(std::uint64_t index, std::size_t offset) {
  return static_cast<std::uint8_t>(index * 131 + offset * 7 + (offset >> 8));
}

}  // namespace

void write_payload(std::span<std::uint8_t> out, const PayloadHeader& header) {
  out[0] = kPayloadMagic;
  out[1] = header.stream;
  put_u64(&out[2], header.index);
  put_u64(&out[10], header.sent_at);
  for (std::size_t i = kPayloadHeaderBytes; i < out.size(); ++i) out[i] = filler(header.index, i);
}

std::optional<PayloadHeader> read_payload(std::span<const std::uint8_t> payload) {
  if (payload.size() < kPayloadHeaderBytes || payload[0] != kPayloadMagic) return std::nullopt;
  PayloadHeader h;
  h.stream = payload[1];
  h.index = get_u64(&payload[2]);
  h.sent_at = get_u64(&payload[10]);
  for (std::size_t i = kPayloadHeaderBytes; i < payload.size(); ++i) {
    if (payload[i] != filler(h.index, i)) return std::nullopt;
  }
  return h;
}

std::vector<StreamSpec> default_mix(std::uint64_t total_messages, double total_rate_per_sec) {
  struct Share {
    StreamSpec spec;
    double weight;
  };
  // Shares sum to 1. Bulk messages are several datagrams long (fragmentation), control
  // ones tiny; latest-value updates 16 keys on the Normal lane.
  const Share shares[] = {
      {{Lane::Control, Delivery::ReliableOrdered, false, 0, 32, 128, 0, 0}, 0.05},
      {{Lane::High, Delivery::ReliableOrdered, false, 0, 64, 512, 0, 0}, 0.20},
      {{Lane::High, Delivery::UnreliableSequenced, false, 0, 64, 256, 0, 0}, 0.10},
      {{Lane::Normal, Delivery::ReliableUnordered, false, 0, 64, 1400, 0, 0}, 0.20},
      {{Lane::Normal, Delivery::ReliableOrdered, true, 16, 64, 256, 0, 0}, 0.10},
      {{Lane::Normal, Delivery::Unreliable, false, 0, 64, 1000, 0, 0}, 0.10},
      {{Lane::Bulk, Delivery::ReliableOrdered, false, 0, 1024, 8192, 0, 0}, 0.25},
  };
  std::vector<StreamSpec> out;
  std::uint64_t assigned = 0;
  for (std::size_t i = 0; i < std::size(shares); ++i) {
    StreamSpec s = shares[i].spec;
    s.messages = i + 1 == std::size(shares) ? total_messages - assigned
                                             : static_cast<std::uint64_t>(total_messages * shares[i].weight);
    assigned += s.messages;
    s.rate_per_sec = total_rate_per_sec * shares[i].weight;
    out.push_back(s);
  }
  return out;
}

}  // namespace hana::sim
