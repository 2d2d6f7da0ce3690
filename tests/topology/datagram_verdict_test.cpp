// Mesh::on_datagram is the one decode of a received datagram: its verdict tells the
// engine what to count, and the mesh counts the same rejects itself.
#include <gtest/gtest.h>

#include <vector>

#include "topology/mesh.h"
#include "test_identity.h"

namespace hana::topology {
namespace {

using test::identity_at;

// A real datagram: the Hello that a seed makes `from` send.
std::vector<std::uint8_t> hello(Mesh& from, const Address& to) {
  EXPECT_TRUE(from.add_seed(to, 0).ok());
  std::vector<std::uint8_t> buf(2048);
  auto t = from.poll_transmit(buf, 0);
  EXPECT_TRUE(t.has_value());
  buf.resize(t ? t->size : 0);
  return buf;
}

TEST(DatagramVerdict, AcceptedBadChecksumMalformed) {
  const Config config;
  Mesh a(config, identity_at(1, 1), 1, 0);
  Mesh b(config, identity_at(2, 2), 2, 0);
  const auto dg = hello(a, Address::ipv4(10, 0, 0, 2, 7000));
  ASSERT_GT(dg.size(), 8u);
  const Address from = Address::ipv4(10, 0, 0, 1, 7000);

  EXPECT_EQ(b.on_datagram(from, dg, 1), DatagramVerdict::Accepted);
  EXPECT_EQ(b.counters().bad_datagrams, 0u);

  auto corrupt = dg;
  corrupt[corrupt.size() / 2] ^= 0x40;
  EXPECT_EQ(b.on_datagram(from, corrupt, 2), DatagramVerdict::BadChecksum);

  const std::vector<std::uint8_t> garbage(dg.size(), 0xa5);
  EXPECT_EQ(b.on_datagram(from, garbage, 3), DatagramVerdict::Malformed);
  EXPECT_EQ(b.on_datagram(from, protocol::Bytes(dg.data(), 3), 4), DatagramVerdict::Malformed);

  EXPECT_EQ(b.counters().datagrams_in, 4u);
  EXPECT_EQ(b.counters().bad_datagrams, 3u);
  // Each reject is counted under its reason; here every reject is the codec's, so the
  // reasons add up to the total.
  const auto& by = b.counters().bad_datagrams_by_error;
  EXPECT_EQ(by[static_cast<std::size_t>(DecodeError::BadChecksum)], 1u);
  EXPECT_EQ(by[static_cast<std::size_t>(DecodeError::BadMagic)] + by[static_cast<std::size_t>(DecodeError::Truncated)],
            2u);
  std::uint64_t sum = 0;
  for (std::uint64_t n : by) sum += n;
  EXPECT_EQ(sum, b.counters().bad_datagrams);
}

}  // namespace
}  // namespace hana::topology
