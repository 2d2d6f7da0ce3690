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

}  // namespace
}  // namespace hana::engine
