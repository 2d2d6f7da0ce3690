// The fragment bomb (issue 15): joined peers each open many partial 256 KiB messages with
// one-byte fragments. Each stays under its own reassembly_limit_bytes (32 MiB), so only a
// node-wide budget bounds the total; what a peer held goes back when its connection ends.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "pair.h"

namespace hana::protocol::test {
namespace {

// One datagram with one one-byte fragment of message `seq` (total 256 KiB).
void bomb_fragment(Connection& c, std::uint64_t pn, std::uint64_t seq, Delivery delivery) {
  static const std::uint8_t byte = 0x42;
  std::vector<std::uint8_t> buf(kMaxDatagramBytes);
  Header h;
  h.connection_id = c.ids().local;
  h.packet_number = pn;
  DatagramWriter w(buf, kMaxDatagramBytes, h);
  DataFrame d;
  d.lane = Lane::Bulk;
  d.delivery = delivery;
  d.sequence = seq;
  d.fragmented = true;
  d.total_length = 256 * 1024;
  d.fragment_offset = 0;
  d.payload = Bytes(&byte, 1);
  ASSERT_TRUE(w.append(d));
  const std::size_t n = w.finish();
  auto r = decode_datagram(Bytes(buf.data(), n));
  ASSERT_TRUE(r.datagram.has_value());
  c.on_datagram(*r.datagram, 0);
}

TEST(NodeReassemblyBudget, FragmentBombIsBoundedNodeWideAndReturned) {
  Config cfg;  // reassembly_limit_bytes 32 MiB, node_reassembly_limit_bytes 64 MiB
  ReassemblyBudget budget;
  budget.limit_bytes = cfg.node_reassembly_limit_bytes;
  std::vector<std::unique_ptr<Connection>> peers;
  for (std::uint32_t p = 0; p < 8; ++p) {
    peers.push_back(std::make_unique<Connection>(cfg, ConnectionIds{100 + p, 200 + p}, 0));
    peers.back()->set_reassembly_budget(&budget);
  }
  // 120 partial 256 KiB messages per peer (30 MiB: within its own 32 MiB). Unbounded,
  // the eight would hold 240 MiB.
  for (std::uint32_t p = 0; p < 8; ++p)
    for (std::uint64_t m = 0; m < 120; ++m)
      bomb_fragment(*peers[p], m, m, Delivery::ReliableUnordered);
  std::uint64_t held = 0;
  std::size_t closed = 0;
  for (const auto& c : peers) {
    EXPECT_LE(c->stats().reassembly_bytes, cfg.reassembly_limit_bytes);
    held += c->stats().reassembly_bytes;
    closed += c->stats().resource_limit_closes;
  }
  EXPECT_LE(held, cfg.node_reassembly_limit_bytes);
  EXPECT_EQ(budget.used_bytes, held);
  // A reliable partial the node has no room for cuts its peer off (its stream could not
  // go on without it), counted as a refusal; the peer's memory goes back at once.
  EXPECT_GT(budget.refused, 0u);
  EXPECT_EQ(closed, budget.refused);
  std::printf("fragment bomb: %llu MiB held by 8 peers (limit %llu MiB), %llu refused\n",
              static_cast<unsigned long long>(held >> 20), static_cast<unsigned long long>(budget.limit_bytes >> 20),
              static_cast<unsigned long long>(budget.refused));

  // A peer whose connection ends gives its share back; another peer can use it.
  const std::uint64_t first = peers[0]->stats().reassembly_bytes;
  ASSERT_GT(first, 0u);
  peers[0].reset();
  EXPECT_EQ(budget.used_bytes, held - first);
  std::size_t open = 1;
  while (open < peers.size() && peers[open]->stats().resource_limit_closes != 0) ++open;
  ASSERT_LT(open, peers.size());
  const std::uint64_t before = peers[open]->stats().reassembly_bytes;
  bomb_fragment(*peers[open], 1000, 1000, Delivery::ReliableUnordered);
  EXPECT_EQ(peers[open]->stats().reassembly_bytes, before + 256 * 1024);
  peers.clear();
  EXPECT_EQ(budget.used_bytes, 0u);
}

}  // namespace
}  // namespace hana::protocol::test
