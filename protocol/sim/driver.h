// hana::sim::Driver: runs sans-IO endpoints over a sim::Network in virtual time.
//
// An endpoint is anything with the poll-style shape of topology::Mesh:
//   void on_datagram(const Address& from, ByteView bytes, TimeNs now);
//   void on_timeout(TimeNs now);
//   std::optional<TimeNs> next_timeout() const;
//   std::optional<T> poll_transmit(std::span<std::uint8_t> buffer, TimeNs now);  // T has .to and .size
// (protocol::Connection is wrapped by sim::ConnectionEndpoint for this.)
//
// step() jumps the clock to the next wake-up (earliest datagram arrival or endpoint
// timeout), hands every due datagram to its endpoint, fires due timeouts, and after each
// of those drains the endpoint's transmits into the network. drive_until() repeats that
// until a predicate holds and reports failure when the run never settles (went idle,
// passed the time limit, used up the step budget, or stopped advancing the clock).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hana/address.h"
#include "hana/types.h"
#include "protocol/sim/network.h"

namespace hana::sim {

// What poll_transmit of a simulator-side endpoint returns (Mesh has its own equivalent).
struct Transmit {
  Address to;
  std::size_t size = 0;
};

template <class E>
concept SansIoEndpoint = requires(E& e, const E& ce, const Address& a, ByteView bytes, TimeNs t,
                                  std::span<std::uint8_t> buf) {
  e.on_datagram(a, bytes, t);
  e.on_timeout(t);
  { ce.next_timeout() } -> std::convertible_to<std::optional<TimeNs>>;
  { e.poll_transmit(buf, t)->to } -> std::convertible_to<Address>;
  { e.poll_transmit(buf, t)->size } -> std::convertible_to<std::size_t>;
};

enum class DriveStatus : std::uint8_t {
  Satisfied,  // the predicate held
  Idle,       // nothing left to happen and the predicate is still false
  TimeLimit,  // the next wake-up lies beyond the time limit
  StepLimit,  // step budget used up
  Stalled,    // many steps without the clock moving (an endpoint keeps asking for `now`)
  Runaway,    // an endpoint produced more datagrams in one instant than any protocol should
};

constexpr std::string_view to_string(DriveStatus s) {
  switch (s) {
    case DriveStatus::Satisfied: return "satisfied";
    case DriveStatus::Idle: return "idle";
    case DriveStatus::TimeLimit: return "time-limit";
    case DriveStatus::StepLimit: return "step-limit";
    case DriveStatus::Stalled: return "stalled";
    case DriveStatus::Runaway: return "runaway";
  }
  return "?";
}

// What one step() did.
enum class StepResult : std::uint8_t { Progress, Idle, Stalled, Runaway };

constexpr DriveStatus to_drive_status(StepResult r) {
  switch (r) {
    case StepResult::Progress: return DriveStatus::Satisfied;
    case StepResult::Idle: return DriveStatus::Idle;
    case StepResult::Stalled: return DriveStatus::Stalled;
    case StepResult::Runaway: return DriveStatus::Runaway;
  }
  return DriveStatus::Runaway;
}

struct DriveOutcome {
  DriveStatus status = DriveStatus::Idle;
  TimeNs now = 0;
  std::uint64_t steps = 0;
  bool ok() const { return status == DriveStatus::Satisfied; }
};

struct DriverCounters {
  std::uint64_t steps = 0;
  std::uint64_t datagrams_in = 0;       // handed to endpoints
  std::uint64_t datagrams_out = 0;      // taken from endpoints
  std::uint64_t timeouts = 0;           // on_timeout calls
  std::uint64_t dropped_down = 0;       // arrived at an endpoint that is down (crashed)
  std::uint64_t dropped_unknown = 0;    // arrived at an address with no endpoint attached
};

template <SansIoEndpoint E>
class Driver {
 public:
  // Limits that turn a protocol bug into a failed drive instead of a hung test.
  static constexpr std::size_t kMaxTransmitsPerFlush = 1 << 16;
  static constexpr std::uint64_t kMaxStepsWithoutTimeAdvance = 100'000;

  explicit Driver(Network& network, TimeNs start = 0) : net_(network), now_(start), buffer_(65'536) {}

  // Auto-flush (the default): every step first polls every endpoint for transmits and
  // re-reads its deadline, so calls the caller makes into endpoints between steps
  // (send(), close(), ...) are picked up by themselves; a step costs O(endpoints).
  // Off: a step costs O(log endpoints + work done), which is what a 100-node run
  // wants, and the caller must call touch(address) (or flush()) after calling into an
  // endpoint itself. Deadlines only change when an endpoint is called (sans-IO), so
  // the driver keeps them in a heap and re-reads one only after calling that endpoint.
  void set_auto_flush(bool on) { auto_flush_ = on; }

  // Attaches an endpoint (not owned; it must outlive its attachment) at `address`.
  // Attaching again at the same address replaces the endpoint (a restarted node).
  void add(const Address& address, E& endpoint) {
    net_.add_endpoint(address);
    std::size_t i;
    if (auto it = index_.find(address); it != index_.end()) {
      i = it->second;
      slots_[i] = Slot{address, &endpoint, true, kNone};
    } else {
      i = slots_.size();
      index_.emplace(address, i);
      slots_.push_back(Slot{address, &endpoint, true, kNone});
    }
    after_call(i);
  }
  // A down endpoint is frozen: it receives nothing (arrivals are dropped), its timers
  // do not fire and it is not polled. Models a crash or a paused process.
  void set_up(const Address& address, bool up) {
    auto it = index_.find(address);
    if (it == index_.end()) return;
    Slot& s = slots_[it->second];
    s.up = up;
    s.deadline = kNone;  // re-read (and re-armed) below when it comes back
    if (up) after_call(it->second);
  }
  bool is_up(const Address& address) const {
    auto it = index_.find(address);
    return it != index_.end() && slots_[it->second].up;
  }

  Network& network() { return net_; }
  TimeNs now() const { return now_; }
  const DriverCounters& counters() const { return counters_; }

  // Earliest of the next arrival and every live endpoint's timeout (never before now).
  std::optional<TimeNs> next_wakeup() const {
    std::optional<TimeNs> wake = net_.next_delivery_time();
    while (!heap_.empty() && !valid(heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), Later{});
      heap_.pop_back();
    }
    if (!heap_.empty()) wake = wake ? std::min(*wake, heap_.front().at) : heap_.front().at;
    if (wake && *wake < now_) wake = now_;
    return wake;
  }

  // Drains the transmits of one endpoint and re-reads its deadline. Call after calling
  // into that endpoint from outside (needed when auto-flush is off). False on runaway.
  bool touch(const Address& address) {
    auto it = index_.find(address);
    return it == index_.end() || after_call(it->second);
  }
  // touch() for every endpoint.
  bool flush() {
    bool ok = true;
    for (std::size_t i = 0; i < slots_.size(); ++i) ok = after_call(i) && ok;
    return ok;
  }

  // One instant of the simulation: jump to the next wake-up, hand out every datagram
  // due, then fire every due timeout once (in attachment order).
  StepResult step() {
    if (auto_flush_ && !flush()) return StepResult::Runaway;
    auto wake = next_wakeup();
    if (!wake) return StepResult::Idle;
    if (*wake == now_) {
      if (++steps_at_same_time_ > kMaxStepsWithoutTimeAdvance) return StepResult::Stalled;
    } else {
      steps_at_same_time_ = 0;
    }
    now_ = *wake;
    ++counters_.steps;
    bool ok = true;
    while (auto d = net_.poll_delivery(now_)) {
      auto it = index_.find(d->to);
      if (it == index_.end()) {
        ++counters_.dropped_unknown;
      } else if (!slots_[it->second].up) {
        ++counters_.dropped_down;
      } else {
        ++counters_.datagrams_in;
        slots_[it->second].endpoint->on_datagram(d->from, ByteView(d->bytes), now_);
        ok = after_call(it->second) && ok;
      }
      net_.recycle(std::move(d->bytes));
    }
    // Collect first, then fire: an endpoint that re-arms at `now` fires again in the
    // next step (where the stall detector sees it), not in an endless loop here.
    due_.clear();
    while (!heap_.empty() && heap_.front().at <= now_) {
      std::pop_heap(heap_.begin(), heap_.end(), Later{});
      const Wake w = heap_.back();
      heap_.pop_back();
      if (valid(w)) due_.push_back(w.slot);
    }
    std::sort(due_.begin(), due_.end());
    due_.erase(std::unique(due_.begin(), due_.end()), due_.end());
    for (std::size_t i : due_) {
      Slot& s = slots_[i];
      s.deadline = kNone;
      ++counters_.timeouts;
      s.endpoint->on_timeout(now_);
      ok = after_call(i) && ok;
    }
    return ok ? StepResult::Progress : StepResult::Runaway;
  }

  // Steps until `done()` holds (checked before every step; drain endpoint events in it).
  // Fails when the run goes idle, the next wake-up is later than `deadline` (absolute
  // virtual time), `max_steps` are used, or the clock stops advancing.
  template <class Pred>
  DriveOutcome drive_until(Pred&& done, TimeNs deadline, std::uint64_t max_steps) {
    std::uint64_t steps = 0;
    while (true) {
      if (done()) return {DriveStatus::Satisfied, now_, steps};
      if (steps >= max_steps) return {DriveStatus::StepLimit, now_, steps};
      if (auto_flush_ && !flush()) return {DriveStatus::Runaway, now_, steps};
      auto wake = next_wakeup();
      if (!wake) return {DriveStatus::Idle, now_, steps};
      if (*wake > deadline) return {DriveStatus::TimeLimit, now_, steps};
      StepResult s = step();
      ++steps;
      if (s != StepResult::Progress) return {to_drive_status(s), now_, steps};
    }
  }

  // Runs everything due up to `until`, then sets the clock to `until` (if it is later).
  // `on_step` is called after every step (drain events there); it may be a no-op.
  template <class OnStep>
  DriveOutcome run_until(TimeNs until, std::uint64_t max_steps, OnStep&& on_step) {
    std::uint64_t steps = 0;
    while (true) {
      if (auto_flush_ && !flush()) return {DriveStatus::Runaway, now_, steps};
      auto wake = next_wakeup();
      if (!wake || *wake > until) break;
      if (steps >= max_steps) return {DriveStatus::StepLimit, now_, steps};
      StepResult s = step();
      ++steps;
      on_step();
      if (s != StepResult::Progress) return {to_drive_status(s), now_, steps};
    }
    now_ = std::max(now_, until);
    return {DriveStatus::Satisfied, now_, steps};
  }
  DriveOutcome run_until(TimeNs until, std::uint64_t max_steps) {
    return run_until(until, max_steps, [] {});
  }

 private:
  static constexpr TimeNs kNone = ~TimeNs{0};
  struct Slot {
    Address address;
    E* endpoint;
    bool up;
    TimeNs deadline;  // last value read from next_timeout(), kNone if none
  };
  struct Wake {
    TimeNs at;
    std::size_t slot;
  };
  struct Later {  // min-heap on (time, attachment order)
    bool operator()(const Wake& a, const Wake& b) const { return a.at != b.at ? a.at > b.at : a.slot > b.slot; }
  };
  // A heap entry is stale once the slot's deadline moved or the slot went down.
  bool valid(const Wake& w) const { return slots_[w.slot].up && slots_[w.slot].deadline == w.at; }

  // After any call into endpoint i: send what it has, re-read its deadline.
  bool after_call(std::size_t i) {
    Slot& s = slots_[i];
    if (!s.up) return true;
    bool ok = false;
    for (std::size_t n = 0; n < kMaxTransmitsPerFlush; ++n) {
      auto t = s.endpoint->poll_transmit(std::span<std::uint8_t>(buffer_), now_);
      if (!t) {
        ok = true;
        break;
      }
      if (t->size > buffer_.size()) break;  // an endpoint claiming more than it was given
      ++counters_.datagrams_out;
      net_.send(s.address, t->to, ByteView(buffer_.data(), t->size), now_);
    }
    const auto t = s.endpoint->next_timeout();
    const TimeNs d = t ? *t : kNone;
    if (d != s.deadline) {
      s.deadline = d;
      if (d != kNone) {
        heap_.push_back(Wake{d, i});
        std::push_heap(heap_.begin(), heap_.end(), Later{});
      }
    }
    return ok;
  }

  Network& net_;
  TimeNs now_;
  std::vector<std::uint8_t> buffer_;
  std::vector<Slot> slots_;  // attachment order = the order timeouts fire in
  std::unordered_map<Address, std::size_t, AddressHash> index_;
  mutable std::vector<Wake> heap_;  // lazily cleaned (stale entries dropped at the top)
  std::vector<std::size_t> due_;
  DriverCounters counters_;
  std::uint64_t steps_at_same_time_ = 0;
  bool auto_flush_ = true;
};

}  // namespace hana::sim
