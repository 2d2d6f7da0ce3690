// SendBatch grouping: equal-size datagrams to one destination share a GSO send, except
// one committed `alone` (a high_redundancy copy must not share its original's fate).
#include "engine/send_batch.h"

#include <gtest/gtest.h>

#include <vector>

namespace hana::engine {
namespace {

std::vector<std::uint32_t> groups_after(bool alone_second) {
  SendBatch b(8, 1500);
  const Address to = Address::ipv4(127, 0, 0, 1, 9000);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(b.acquire().empty());
    b.commit(to, 100, /*gso=*/!(alone_second && i == 1));
  }
  std::vector<std::uint32_t> ready, counts;
  b.take_ready(ready);
  for (std::uint32_t g : ready) counts.push_back(b.group(g).count);
  return counts;
}

TEST(SendBatch, EqualDatagramsToOnePeerShareOneGsoSend) {
  EXPECT_EQ(groups_after(false), (std::vector<std::uint32_t>{3}));
}

TEST(SendBatch, ADatagramSentAloneIsNeverInAGroupWithItsNeighbours) {
  EXPECT_EQ(groups_after(true), (std::vector<std::uint32_t>{1, 1, 1}));
}

// A GSO send carries up to 64 datagrams (the kernel's UDP_MAX_SEGMENTS) and 65 000 bytes:
// at 16 a MTU-1500 path's batches, and the receiver's GRO reads, held 23 KB.
TEST(SendBatch, AGsoSendCarriesUpTo64SegmentsWithinItsByteBound) {
  const Address to = Address::ipv4(127, 0, 0, 1, 9000);
  const auto counts_for = [&](std::size_t size, int datagrams) {
    SendBatch b(256, 1500);
    for (int i = 0; i < datagrams; ++i) {
      EXPECT_FALSE(b.acquire().empty());
      b.commit(to, size, /*gso=*/true);
    }
    std::vector<std::uint32_t> ready, counts;
    b.take_ready(ready);
    for (std::uint32_t g : ready) counts.push_back(b.group(g).count);
    return counts;
  };
  EXPECT_EQ(counts_for(1000, 65), (std::vector<std::uint32_t>{64, 1}));
  EXPECT_EQ(counts_for(1472, 50), (std::vector<std::uint32_t>{44, 6})) << "44 x 1472 is the most below 65 000 bytes";
}

// A gathered datagram is up to three iovecs (slot head, payload, slot tail) and counts
// its whole wire size towards GSO grouping; its pin comes back when the group is released.
TEST(SendBatch, AGatheredDatagramIsThreeIovecsAndItsPinComesBackOnRelease) {
  SendBatch b(8, 1500);
  const Address to = Address::ipv4(127, 0, 0, 1, 9000);
  const std::vector<std::uint8_t> payload(1000, 1);
  for (std::uint32_t i = 0; i < 2; ++i) {
    ASSERT_FALSE(b.acquire().empty());
    b.commit(to, 40, /*gso=*/true, protocol::Gathered{payload, 32, 7 + i});
  }
  ASSERT_FALSE(b.acquire().empty());
  b.commit(to, 1040, /*gso=*/true);  // a plain datagram of the same wire size joins them
  std::vector<std::uint32_t> ready;
  b.take_ready(ready);
  ASSERT_EQ(ready.size(), 1u);
  const SendGroup& g = b.group(ready[0]);
  EXPECT_EQ(g.count, 3u);
  EXPECT_EQ(g.iov_count, 7u);
  EXPECT_EQ(g.bytes, 3 * 1040u);
  EXPECT_EQ(g.iov[1].iov_base, payload.data());
  EXPECT_EQ(g.iov[1].iov_len, payload.size());
  std::vector<std::uint32_t> pins;
  b.take_unpinned(pins);
  EXPECT_TRUE(pins.empty()) << "pins are held until the send is released";
  b.release(ready[0]);
  b.take_unpinned(pins);
  EXPECT_EQ(pins, (std::vector<std::uint32_t>{7, 8}));
}

// A gathered datagram the batch cannot take (no slot, or larger than one) still hands its
// pin back: nothing else would release the payload.
TEST(SendBatch, ARefusedGatheredDatagramHandsItsPinBack) {
  SendBatch b(1, 100);
  const Address to = Address::ipv4(127, 0, 0, 1, 9000);
  const std::vector<std::uint8_t> payload(500, 1);
  b.commit(to, 200, true, protocol::Gathered{payload, 10, 3});  // larger than a slot
  ASSERT_FALSE(b.acquire().empty());
  b.commit(to, 40, true, protocol::Gathered{payload, 10, 4});
  b.commit(to, 40, true, protocol::Gathered{payload, 10, 5});  // no slot left
  std::vector<std::uint32_t> pins;
  b.take_unpinned(pins);
  EXPECT_EQ(pins, (std::vector<std::uint32_t>{3, 5}));
}

}  // namespace
}  // namespace hana::engine
