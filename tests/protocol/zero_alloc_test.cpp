// Proves the steady state allocates nothing: a counting global operator new (this TU
// replaces it for the whole hana_protocol_tests binary; counting is off unless a test
// turns it on) around send + poll_transmit + on_datagram + poll_event of 64 B messages.
#include <gtest/gtest.h>

#include <vector>

#include "protocol/codec.h"
#include "protocol/connection.h"

#include "../support/counting_new.h"  // this TU replaces operator new for the binary

namespace hana::protocol {
namespace {

// Two connections exchanging 64 B messages through preallocated buffers.
struct Loop {
  Connection a{Config{}, {1, 2}, 0};
  Connection b{Config{}, {2, 1}, 0};
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(kMaxDatagramBytes);
  std::vector<std::uint8_t> msg = std::vector<std::uint8_t>(64, 0xab);
  TimeNs now = 0;
  std::uint64_t received = 0, delivered = 0;

  void pump(Connection& from, Connection& to) {
    for (int i = 0; i < 64; ++i) {
      const std::size_t n = from.poll_transmit(buf, now);
      if (n == 0) return;
      auto r = decode_datagram(Bytes(buf.data(), n));
      if (r.datagram) to.on_datagram(*r.datagram, now);
    }
  }
  void drain(Connection& c) {
    for (int i = 0; i < 256; ++i) {
      auto e = c.poll_event();
      if (!e) return;
      if (auto* rv = std::get_if<protocol::ReceivedEvent>(&*e)) received += rv->payload.size() == 64;
      if (std::holds_alternative<protocol::DeliveredEvent>(*e)) ++delivered;
    }
  }
  void round(Lane lane, Delivery d) {
    SendOptions o;
    o.lane = lane;
    o.delivery = d;
    ASSERT_TRUE(a.send(msg, o, now).ok());
    pump(a, b);
    now += 10 * kNsPerUs;
    for (Connection* c : {&a, &b})
      if (auto t = c->next_timeout(); t && *t <= now) c->on_timeout(now);
    pump(b, a);
    pump(a, b);
    drain(a);
    drain(b);
  }
};

TEST(ZeroAllocation, SteadyStateMessageExchangeAllocatesNothing) {
#ifdef HANA_SANITIZED
  GTEST_SKIP() << "operator new belongs to the sanitizer runtime here";
#endif
  Loop loop;
  constexpr Lane kLanes[] = {Lane::Control, Lane::High, Lane::Normal, Lane::Bulk};
  constexpr Delivery kModes[] = {Delivery::ReliableOrdered, Delivery::ReliableUnordered,
                                 Delivery::UnreliableSequenced, Delivery::Unreliable};
  for (int i = 0; i < 5000; ++i) loop.round(kLanes[i % 4], kModes[(i / 4) % 4]);  // warm-up
  const std::uint64_t received_before = loop.received;
  // The counter itself works (guards against the replacement not being linked in).
  g_allocations = 0;
  g_counting = true;
  auto* probe = new std::vector<int>(100);
  g_counting = false;
  delete probe;
  ASSERT_EQ(g_allocations.load(), 2u);
  g_allocations = 0;
  g_counting = true;
  for (int i = 0; i < 20000; ++i) loop.round(kLanes[i % 4], kModes[(i / 4) % 4]);
  g_counting = false;
  EXPECT_EQ(g_allocations.load(), 0u);
  EXPECT_EQ(loop.received - received_before, 20000u);
  EXPECT_GT(loop.delivered, 10000u);
}

}  // namespace
}  // namespace hana::protocol
