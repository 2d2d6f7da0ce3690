// The fault injector over the epoll backend on loopback (the decorator does not care
// which backend it wraps): loss, duplication, delay with order kept, reordering,
// inbound faults and seeded determinism.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "engine/backend.h"
#include "engine/clock.h"
#include "engine/fault_injector.h"

namespace hana::engine {
namespace {

struct Collector final : ReceiveSink {
  std::vector<std::uint32_t> seqs;
  void on_datagram(const Address&, Bytes bytes, TimeNs) override {
    std::uint32_t s = 0;
    std::memcpy(&s, bytes.data(), sizeof s);
    seqs.push_back(s);
  }
};

struct Pair {
  UdpSocket sa, sb;
  Counters ca, cb;
  std::unique_ptr<FaultInjector> a;  // the faulty side
  std::unique_ptr<Backend> b;

  explicit Pair(const FaultParams& params, std::uint64_t seed = 42) {
    sa = std::move(*UdpSocket::open(SocketOptions{Address::ipv4(127, 0, 0, 1, 0), 1 << 20, 1 << 20, false}));
    sb = std::move(*UdpSocket::open(SocketOptions{Address::ipv4(127, 0, 0, 1, 0), 1 << 20, 1 << 20, false}));
    a = std::make_unique<FaultInjector>(std::move(*make_epoll_backend(sa, {}, ca)), seed, 256, 1452, ca);
    a->set_params(params);
    b = std::move(*make_epoll_backend(sb, {}, cb));
  }

  void send(std::uint32_t count) {
    Collector ignore;
    for (std::uint32_t i = 0; i < count; ++i) {
      MutableBytes buf = a->send_buffer();
      ASSERT_FALSE(buf.empty());
      std::memcpy(buf.data(), &i, sizeof i);
      a->commit_send(sb.local_address(), 64, false, {});
      a->flush();
    }
  }
  // Drives both sides until `n` datagrams arrived at b or a bounded number of turns passed.
  Collector drain(std::size_t n, int turns = 400) {
    Collector got;
    Collector ignore;
    for (int i = 0; i < turns && got.seqs.size() < n; ++i) {
      a->wait(0, ignore);
      b->wait(monotonic_now_ns() + kNsPerMs, got);
    }
    return got;
  }
};

TEST(FaultInjector, OffByDefaultPassesEverything) {
  Pair p(FaultParams{});
  p.send(50);
  auto got = p.drain(50);
  ASSERT_EQ(got.seqs.size(), 50u);
  EXPECT_EQ(p.ca.get(EngineCounter::fault_dropped), 0u);
}

TEST(FaultInjector, FullLossDropsEverythingAndCountsIt) {
  FaultParams f;
  f.loss_pct = 100;
  Pair p(f);
  p.send(50);
  auto got = p.drain(1, 20);
  EXPECT_TRUE(got.seqs.empty());
  EXPECT_EQ(p.ca.get(EngineCounter::fault_dropped), 50u);
}

TEST(FaultInjector, PartialLossIsSeededAndRepeatable) {
  FaultParams f;
  f.loss_pct = 30;
  std::vector<std::uint32_t> first, second;
  for (auto* out : {&first, &second}) {
    Pair p(f, 7);
    p.send(200);
    *out = p.drain(200, 50).seqs;
  }
  EXPECT_EQ(first, second);
  EXPECT_GT(first.size(), 100u);  // 30% of 200 lost: ~140 arrive
  EXPECT_LT(first.size(), 180u);
}

TEST(FaultInjector, DuplicationDeliversTwice) {
  FaultParams f;
  f.duplicate_pct = 100;
  Pair p(f);
  p.send(20);
  auto got = p.drain(40);
  ASSERT_EQ(got.seqs.size(), 40u);
  for (std::uint32_t i = 0; i < 20; ++i) {
    EXPECT_EQ(got.seqs[2 * i], i);
    EXPECT_EQ(got.seqs[2 * i + 1], i);
  }
}

TEST(FaultInjector, FixedDelayKeepsOrder) {
  FaultParams f;
  f.delay_ns = 2 * kNsPerMs;
  Pair p(f);
  const TimeNs start = monotonic_now_ns();
  p.send(30);
  auto got = p.drain(30);
  ASSERT_EQ(got.seqs.size(), 30u);
  EXPECT_GE(monotonic_now_ns() - start, 2 * kNsPerMs);  // cannot arrive before its delay
  for (std::uint32_t i = 0; i < 30; ++i) EXPECT_EQ(got.seqs[i], i);
  EXPECT_EQ(p.ca.get(EngineCounter::fault_delayed), 30u);
}

TEST(FaultInjector, ReorderLetsLaterDatagramsOvertake) {
  FaultParams f;
  f.reorder_pct = 50;
  f.reorder_hold_ns = 3 * kNsPerMs;
  Pair p(f);
  p.send(40);
  auto got = p.drain(40);
  ASSERT_EQ(got.seqs.size(), 40u);
  bool out_of_order = false;
  for (std::size_t i = 1; i < got.seqs.size(); ++i) out_of_order |= got.seqs[i] < got.seqs[i - 1];
  EXPECT_TRUE(out_of_order);
  auto sorted = got.seqs;
  std::sort(sorted.begin(), sorted.end());
  for (std::uint32_t i = 0; i < 40; ++i) EXPECT_EQ(sorted[i], i);  // nothing lost or invented
}

TEST(FaultInjector, InboundLossActsOnReceivedDatagrams) {
  // b is clean; a receives through the injector.
  FaultParams f;
  f.loss_pct = 100;
  f.outbound = false;
  f.inbound = true;
  Pair p(f);
  Collector ignore;
  for (std::uint32_t i = 0; i < 10; ++i) {
    MutableBytes buf = p.b->send_buffer();
    std::memcpy(buf.data(), &i, sizeof i);
    p.b->commit_send(p.sa.local_address(), 64, false, {});
  }
  p.b->flush();
  Collector got;
  for (int i = 0; i < 20; ++i) p.a->wait(monotonic_now_ns() + kNsPerMs, got);
  EXPECT_TRUE(got.seqs.empty());
  EXPECT_EQ(p.ca.get(EngineCounter::fault_dropped), 10u);
  EXPECT_EQ(p.ca.get(EngineCounter::datagrams_received), 10u);
}

}  // namespace
}  // namespace hana::engine
