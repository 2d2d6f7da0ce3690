// Connection::take_received_payload: the engine takes the block a received message sits
// in instead of copying it, and gives the connection a spare block in its place.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "pair.h"
#include "protocol/heap_block.h"

namespace hana::protocol::test {
namespace {

// Drains b's events taking every Received payload, as the engine does: the spare handed
// in is the block taken from the message before (blocks circulate, none is allocated by
// the test). Returns the payloads read from the taken blocks.
struct Taker {
  std::uint8_t* spare = nullptr;
  std::size_t taken = 0;
  std::size_t recycled = 0;  // takes that returned a block this taker gave earlier
  std::vector<const std::uint8_t*> given;
  std::vector<std::vector<std::uint8_t>> payloads;
  ~Taker() { heap_block::destroy(spare); }

  void drain(Connection& c) {
    for (int guard = 0; guard < 100000; ++guard) {
      auto e = c.poll_event();
      if (!e) return;
      auto* r = std::get_if<ReceivedEvent>(&*e);
      if (r == nullptr) {
        EXPECT_EQ(c.take_received_payload(nullptr), nullptr) << "only a Received event has a payload to take";
        continue;
      }
      const std::size_t size = r->payload.size();
      if (spare != nullptr) given.push_back(spare);
      std::uint8_t* block = c.take_received_payload(spare);
      spare = nullptr;
      ASSERT_NE(block, nullptr);
      EXPECT_GE(heap_block::capacity(block), size);
      for (const std::uint8_t* g : given) recycled += g == block ? 1 : 0;
      ++taken;
      payloads.emplace_back(block, block + size);
      EXPECT_EQ(c.take_received_payload(nullptr), nullptr) << "a second take finds nothing";
      spare = block;  // the next message gets it back
    }
  }
};

TEST(PayloadHandover, TakenBlocksHoldTheMessagesAndCirculate) {
  Pair p;
  Taker t;
  std::vector<std::vector<std::uint8_t>> sent;
  for (std::uint64_t i = 0; i < 12; ++i) {
    // Fragmented (reassembled) and single-datagram messages alike.
    sent.push_back(bytes_of(i, i % 3 == 0 ? 200 : 40'000 + 1000 * i));
    ASSERT_TRUE(p.a.send(sent.back(), opts(Lane::Bulk), p.now).ok());
  }
  p.drain_b = [&](Connection& c) { t.drain(c); };
  ASSERT_TRUE(p.run_until([&] { return t.taken == sent.size(); }));
  ASSERT_EQ(t.taken, sent.size());
  ASSERT_EQ(t.payloads.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(t.payloads[i], sent[i]) << "message " << i;
  EXPECT_GT(t.recycled, 0u) << "a block handed to the connection came back holding a later message";
  EXPECT_TRUE(p.run_until([&] { return p.count(p.ev_a, Ev::Kind::Delivered) == sent.size(); }));
}

}  // namespace
}  // namespace hana::protocol::test
