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

}  // namespace
}  // namespace hana::engine
