// Tests of the generic sans-IO driver with small toy endpoints.
#include "protocol/sim/driver.h"

#include "topology/mesh.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <set>
#include <vector>

namespace hana::sim {
namespace {

const Address kA = Address::ipv4(10, 0, 0, 1, 7000);
const Address kB = Address::ipv4(10, 0, 0, 2, 7000);

// Stop-and-wait: the sender sends message k until it sees ack k; the receiver acks
// whatever it gets. Enough protocol to exercise every driver path.
class ToyEndpoint {
 public:
  ToyEndpoint(Address peer, std::uint32_t to_send, std::optional<TimeNs> rto_ns)
      : peer_(peer), to_send_(to_send), rto_ns_(rto_ns) {}

  void start(TimeNs now) {
    if (to_send_ > 0) transmit_current(now);
  }
  void on_datagram(const Address& from, ByteView bytes, TimeNs now) {
    if (bytes.size() != 5) return;
    const std::uint32_t n = bytes[1] | bytes[2] << 8 | bytes[3] << 16 | std::uint32_t{bytes[4]} << 24;
    if (bytes[0] == 'D') {  // data: remember and ack
      received.insert(n);
      ++data_copies;
      outbox_.push_back(frame('A', n, from));
    } else if (bytes[0] == 'A' && n == next_ && next_ < to_send_) {
      ++next_;
      timer_.reset();
      if (next_ < to_send_) transmit_current(now);
    }
  }
  void on_timeout(TimeNs now) {
    timer_.reset();
    if (next_ < to_send_) {
      ++retransmits;
      transmit_current(now);
    }
  }
  std::optional<TimeNs> next_timeout() const { return timer_; }
  std::optional<Transmit> poll_transmit(std::span<std::uint8_t> buf, TimeNs) {
    if (outbox_.empty()) return std::nullopt;
    auto [bytes, to] = outbox_.front();
    outbox_.pop_front();
    std::copy(bytes.begin(), bytes.end(), buf.begin());
    return Transmit{to, bytes.size()};
  }
  bool done() const { return next_ >= to_send_; }

  std::set<std::uint32_t> received;
  std::uint64_t data_copies = 0;
  std::uint64_t retransmits = 0;

 private:
  using Frame = std::pair<std::vector<std::uint8_t>, Address>;
  static Frame frame(char kind, std::uint32_t n, Address to) {
    return {{static_cast<std::uint8_t>(kind), static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8),
             static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 24)},
            to};
  }
  void transmit_current(TimeNs now) {
    outbox_.push_back(frame('D', next_, peer_));
    if (rto_ns_) timer_ = now + *rto_ns_;
  }

  Address peer_;
  std::uint32_t to_send_;
  std::optional<TimeNs> rto_ns_;
  std::uint32_t next_ = 0;
  std::optional<TimeNs> timer_;
  std::deque<Frame> outbox_;
};

static_assert(SansIoEndpoint<ToyEndpoint>);
// topology::Mesh is driven by Driver<topology::Mesh> directly (the 100-node scenarios).
static_assert(SansIoEndpoint<topology::Mesh>);

struct RunResult {
  DriveOutcome outcome;
  std::uint64_t trace_hash;
  std::size_t received;
};

RunResult run_toy(std::uint64_t seed, double loss) {
  LinkParams lp;
  lp.loss = loss;
  lp.duplicate = 0.02;
  lp.reorder = 0.05;
  lp.jitter_ns = 10 * kNsPerUs;
  Network net(seed, lp);
  Driver<ToyEndpoint> driver(net);
  ToyEndpoint sender(kB, 200, 500 * kNsPerUs);
  ToyEndpoint receiver(kA, 0, std::nullopt);
  driver.add(kA, sender);
  driver.add(kB, receiver);
  sender.start(driver.now());
  auto outcome = driver.drive_until([&] { return sender.done(); }, 10 * kNsPerSec, 1'000'000);
  return {outcome, net.trace_hash(), receiver.received.size()};
}

TEST(SimDriver, DrivesStopAndWaitToCompletionUnderLoss) {
  for (double loss : {0.0, 0.1, 0.3}) {
    const auto r = run_toy(7, loss);
    EXPECT_TRUE(r.outcome.ok()) << to_string(r.outcome.status) << " loss " << loss;
    EXPECT_EQ(r.received, 200u);
    EXPECT_GT(r.outcome.now, 0u);
  }
}

// Many stop-and-wait pairs; with auto-flush off the caller touches what it called into.
RunResult run_many(bool auto_flush, std::size_t pairs) {
  LinkParams lp;
  lp.loss = 0.1;
  lp.reorder = 0.05;
  lp.jitter_ns = 10 * kNsPerUs;
  Network net(31, lp);
  Driver<ToyEndpoint> driver(net);
  driver.set_auto_flush(auto_flush);
  std::vector<std::unique_ptr<ToyEndpoint>> eps;
  auto addr = [](std::size_t i) {
    return Address::ipv4(10, 1, static_cast<std::uint8_t>(i / 200), static_cast<std::uint8_t>(i % 200 + 1), 7000);
  };
  for (std::size_t p = 0; p < pairs; ++p) {
    eps.push_back(std::make_unique<ToyEndpoint>(addr(2 * p + 1), 50, 300 * kNsPerUs + p * kNsPerUs));
    eps.push_back(std::make_unique<ToyEndpoint>(addr(2 * p), 0, std::nullopt));
    driver.add(addr(2 * p), *eps[2 * p]);
    driver.add(addr(2 * p + 1), *eps[2 * p + 1]);
  }
  for (std::size_t p = 0; p < pairs; ++p) {
    eps[2 * p]->start(driver.now());
    EXPECT_TRUE(driver.touch(addr(2 * p)));
  }
  std::size_t received = 0;
  auto outcome = driver.drive_until(
      [&] {
        for (std::size_t p = 0; p < pairs; ++p)
          if (!eps[2 * p]->done()) return false;
        return true;
      },
      10 * kNsPerSec, 10'000'000);
  for (std::size_t p = 0; p < pairs; ++p) received += eps[2 * p + 1]->received.size();
  return {outcome, net.trace_hash(), received};
}

TEST(SimDriver, AutoFlushOffGivesTheSameRun) {
  const auto on = run_many(true, 20);
  const auto off = run_many(false, 20);
  EXPECT_TRUE(on.outcome.ok()) << to_string(on.outcome.status);
  EXPECT_TRUE(off.outcome.ok()) << to_string(off.outcome.status);
  EXPECT_EQ(on.received, 20u * 50u);
  EXPECT_EQ(on.trace_hash, off.trace_hash);
  EXPECT_EQ(on.outcome.now, off.outcome.now);
  EXPECT_EQ(on.outcome.steps, off.outcome.steps);
}

TEST(SimDriver, HundredsOfEndpointsWithoutAutoFlush) {
  const auto r = run_many(false, 250);
  EXPECT_TRUE(r.outcome.ok()) << to_string(r.outcome.status);
  EXPECT_EQ(r.received, 250u * 50u);
}

TEST(SimDriver, SameSeedSameRun) {
  const auto a = run_toy(11, 0.2);
  const auto b = run_toy(11, 0.2);
  const auto c = run_toy(12, 0.2);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.outcome.now, b.outcome.now);
  EXPECT_EQ(a.outcome.steps, b.outcome.steps);
  EXPECT_NE(a.trace_hash, c.trace_hash);
}

TEST(SimDriver, ReportsIdleWhenTheRunCannotSettle) {
  LinkParams lp;
  lp.loss = 1.0;
  Network net(1, lp);
  Driver<ToyEndpoint> driver(net);
  ToyEndpoint sender(kB, 1, std::nullopt);  // never retransmits
  ToyEndpoint receiver(kA, 0, std::nullopt);
  driver.add(kA, sender);
  driver.add(kB, receiver);
  sender.start(0);
  const auto outcome = driver.drive_until([&] { return sender.done(); }, kNsPerSec, 1000);
  EXPECT_EQ(outcome.status, DriveStatus::Idle);
}

TEST(SimDriver, ReportsTimeLimitAndStepLimit) {
  LinkParams lp;
  lp.loss = 1.0;
  Network net(1, lp);
  Driver<ToyEndpoint> driver(net);
  ToyEndpoint sender(kB, 1, kNsPerMs);  // retransmits forever into a dead link
  ToyEndpoint receiver(kA, 0, std::nullopt);
  driver.add(kA, sender);
  driver.add(kB, receiver);
  sender.start(0);
  auto outcome = driver.drive_until([&] { return sender.done(); }, 50 * kNsPerMs, 1'000'000);
  EXPECT_EQ(outcome.status, DriveStatus::TimeLimit);
  EXPECT_LE(outcome.now, 50 * kNsPerMs);
  EXPECT_GE(sender.retransmits, 49u);
  outcome = driver.drive_until([&] { return sender.done(); }, kNsPerSec, 10);
  EXPECT_EQ(outcome.status, DriveStatus::StepLimit);
  EXPECT_EQ(outcome.steps, 10u);
}

// Asks to be woken at time 0 forever: a broken timer.
struct StuckEndpoint {
  void on_datagram(const Address&, ByteView, TimeNs) {}
  void on_timeout(TimeNs) { ++timeouts; }
  std::optional<TimeNs> next_timeout() const { return TimeNs{0}; }
  std::optional<Transmit> poll_transmit(std::span<std::uint8_t>, TimeNs) { return std::nullopt; }
  std::uint64_t timeouts = 0;
};

TEST(SimDriver, ReportsStalledClock) {
  Network net(1);
  Driver<StuckEndpoint> driver(net);
  StuckEndpoint e;
  driver.add(kA, e);
  const auto outcome = driver.drive_until([] { return false; }, kNsPerSec, 10'000'000);
  EXPECT_EQ(outcome.status, DriveStatus::Stalled);
  EXPECT_EQ(e.timeouts, Driver<StuckEndpoint>::kMaxStepsWithoutTimeAdvance);
}

// Never stops transmitting.
struct FloodEndpoint {
  void on_datagram(const Address&, ByteView, TimeNs) {}
  void on_timeout(TimeNs) {}
  std::optional<TimeNs> next_timeout() const { return std::nullopt; }
  std::optional<Transmit> poll_transmit(std::span<std::uint8_t>, TimeNs) { return Transmit{kB, 1}; }
};

TEST(SimDriver, ReportsRunawayTransmitter) {
  Network net(1);
  net.add_endpoint(kB);
  Driver<FloodEndpoint> driver(net);
  FloodEndpoint e;
  driver.add(kA, e);
  const auto outcome = driver.drive_until([] { return false; }, kNsPerSec, 100);
  EXPECT_EQ(outcome.status, DriveStatus::Runaway);
}

TEST(SimDriver, DownEndpointReceivesNothingAndRunUntilAdvancesTheClock) {
  Network net(1);
  Driver<ToyEndpoint> driver(net);
  ToyEndpoint sender(kB, 3, kNsPerMs);
  ToyEndpoint receiver(kA, 0, std::nullopt);
  driver.add(kA, sender);
  driver.add(kB, receiver);
  driver.set_up(kB, false);
  EXPECT_FALSE(driver.is_up(kB));
  sender.start(0);
  auto outcome = driver.run_until(10 * kNsPerMs + 1, 1000);
  EXPECT_TRUE(outcome.ok());
  EXPECT_EQ(driver.now(), 10 * kNsPerMs + 1);
  EXPECT_TRUE(receiver.received.empty());
  // Sent at 0, 1, ..., 10 ms; each arrives 25 us later, so the one sent at 10 ms is still in flight.
  EXPECT_EQ(driver.counters().dropped_down, 10u);
  driver.set_up(kB, true);
  outcome = driver.drive_until([&] { return sender.done(); }, kNsPerSec, 1000);
  EXPECT_TRUE(outcome.ok()) << to_string(outcome.status);
  EXPECT_EQ(receiver.received.size(), 3u);
}

}  // namespace
}  // namespace hana::sim
