// Path-MTU discovery on real sockets: over loopback (MTU 65536) a large message makes the
// sender's connection probe and move to 64 KiB datagrams, and the message arrives whole.
// The socket refuses what its interface cannot carry (don't-fragment), so this also shows
// the probe travelled as one datagram, not as IP fragments. Both backends.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "node_harness.h"

namespace hana::test {
namespace {

class PathMtuTest : public ::testing::TestWithParam<IoBackend> {};

TEST_P(PathMtuTest, LoopbackCarriesLargeDatagramsOnceAMessageNeedsThem) {
  auto a = start_node(GetParam());
  auto b = start_node(GetParam());
  ASSERT_TRUE(a && b);
  const auto ids = connect_pair(*a, *b);
  ASSERT_NE(ids.first, 0u);
  const auto datagram_bytes = [&] {
    for (const auto& p : a->stats().peers)
      if (p.peer == ids.first) return p.connection.datagram_bytes;
    return std::uint64_t{0};
  };
  EXPECT_EQ(datagram_bytes(), 1452u) << "the base size until a message needs more";
  std::vector<std::uint8_t> big(300'000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
  // Messages until the probe is answered (it goes with the first one), each confirmed.
  int received = 0, sent = 0;
  bool same = true;
  const TimeNs until = engine::monotonic_now_ns() + 20 * kNsPerSec;
  while (datagram_bytes() < 60'000 && sent < 50 && engine::monotonic_now_ns() < until) {
    ASSERT_TRUE(a->send(ids.first, Lane::Bulk, big).ok());
    ++sent;
    pump_until(*b, [&](Event& e) {
      if (e.kind != EventKind::Received) return;
      ++received;
      same = same && e.payload.bytes().size() == big.size() &&
             std::equal(big.begin(), big.end(), e.payload.bytes().begin());
    }, [&] { return received == sent; }, 10 * kNsPerSec);
    ASSERT_EQ(received, sent);
  }
  EXPECT_GT(datagram_bytes(), 60'000u) << "loopback's 64 KiB was not found";
  EXPECT_TRUE(same) << "a message arrived altered";
}

INSTANTIATE_TEST_SUITE_P(Backends, PathMtuTest, ::testing::Values(IoBackend::Uring, IoBackend::Epoll),
                         [](const auto& info) { return info.param == IoBackend::Uring ? "uring" : "epoll"; });

}  // namespace
}  // namespace hana::test
