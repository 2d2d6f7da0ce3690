// Test harness: two Connections joined by an in-memory wire with a fixed one-way delay,
// optional deterministic jitter (reordering) and a deterministic drop rule. Virtual
// time jumps to the next wake-up; every run is bounded in steps and virtual time.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "protocol/codec.h"
#include "protocol/connection.h"

namespace hana::protocol::test {

struct Ev {
  enum class Kind { Delivered, Failed, Received, Congestion, Closed } kind;
  MessageId id = 0;
  Lane lane = Lane::Normal;
  FailReason reason = FailReason::Closed;
  Delivery delivery = Delivery::ReliableOrdered;
  bool latest_value = false;
  bool mesh = false;
  std::uint64_t key = 0;
  std::uint64_t version = 0;
  std::vector<std::uint8_t> payload;
  CloseReason close_reason = CloseReason::Normal;
  bool by_peer = false;
};

inline std::vector<std::uint8_t> bytes_of(std::uint64_t tag, std::size_t size) {
  std::vector<std::uint8_t> v(size);
  for (std::size_t i = 0; i < size; ++i) v[i] = static_cast<std::uint8_t>((tag * 131 + i * 7) & 0xff);
  if (size >= 8)
    for (int i = 0; i < 8; ++i) v[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(tag >> (8 * i));
  return v;
}
inline std::uint64_t tag_of(const std::vector<std::uint8_t>& v) {
  std::uint64_t t = 0;
  for (int i = 0; i < 8 && static_cast<std::size_t>(i) < v.size(); ++i) t |= std::uint64_t{v[static_cast<std::size_t>(i)]} << (8 * i);
  return t;
}

struct Pair {
  explicit Pair(const Config& c = Config{}, TimeNs one_way_delay_ns = 20 * kNsPerUs)
      : cfg(c), delay_ns(one_way_delay_ns), a(c, {1, 2}, 0), b(c, {2, 1}, 0) {}

  Config cfg;
  TimeNs now = 0;
  TimeNs delay_ns;
  // Extra delay by datagram index (reordering); default none.
  std::function<TimeNs(bool a_to_b, std::uint64_t index)> jitter;
  // Drop rule by direction and datagram index (counts every datagram produced).
  std::function<bool(bool a_to_b, std::uint64_t index)> drop;
  Connection a;
  Connection b;
  std::uint64_t produced_ab = 0, produced_ba = 0, dropped = 0;
  // The wire's MTU (Ethernet's, as sim::LinkParams): a larger datagram (a path-MTU probe)
  // is refused at the sender like EMSGSIZE, before the drop rule counts it.
  std::size_t mtu_bytes = 1472;
  std::uint64_t too_large = 0;
  // Datagrams travel over a TCP stream (the TCP path): use_stream() sets both ends so.
  bool via_stream = false;
  void use_stream() {
    via_stream = true;
    a.set_stream_path(true);
    b.set_stream_path(true);
  }
  std::vector<Ev> ev_a, ev_b;

  struct InFlight {
    TimeNs arrive;
    bool to_b;
    std::uint64_t order;
    std::vector<std::uint8_t> bytes;
  };
  std::vector<InFlight> wire;
  std::uint64_t order = 0;

  void flush(Connection& c, bool a_to_b) {
    std::vector<std::uint8_t> buf(kMaxDatagramBytes);
    for (int guard = 0; guard < 100000; ++guard) {
      const std::size_t n = c.poll_transmit(buf, now);
      if (n == 0) return;
      if (n > mtu_bytes) {
        ++too_large;
        continue;
      }
      const std::uint64_t idx = a_to_b ? produced_ab++ : produced_ba++;
      if (drop && drop(a_to_b, idx)) {
        ++dropped;
        continue;
      }
      const TimeNs extra = jitter ? jitter(a_to_b, idx) : 0;
      wire.push_back(InFlight{now + delay_ns + extra, a_to_b, order++, std::vector<std::uint8_t>(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n))});
    }
    ADD_FAILURE() << "poll_transmit never ran dry";
  }

  static void drain(Connection& c, std::vector<Ev>& out) {
    for (int guard = 0; guard < 1000000; ++guard) {
      auto e = c.poll_event();
      if (!e) return;
      Ev ev{};
      if (auto* d = std::get_if<DeliveredEvent>(&*e)) {
        ev.kind = Ev::Kind::Delivered;
        ev.id = d->id;
        ev.lane = d->lane;
      } else if (auto* f = std::get_if<FailedEvent>(&*e)) {
        ev.kind = Ev::Kind::Failed;
        ev.id = f->id;
        ev.lane = f->lane;
        ev.reason = f->reason;
      } else if (auto* r = std::get_if<ReceivedEvent>(&*e)) {
        ev.kind = Ev::Kind::Received;
        ev.lane = r->lane;
        ev.delivery = r->delivery;
        ev.latest_value = r->latest_value;
        ev.mesh = r->mesh;
        ev.key = r->key;
        ev.version = r->version;
        ev.payload.assign(r->payload.begin(), r->payload.end());
      } else if (std::get_if<CongestionEvent>(&*e)) {
        ev.kind = Ev::Kind::Congestion;
      } else if (auto* cl = std::get_if<ClosedEvent>(&*e)) {
        ev.kind = Ev::Kind::Closed;
        ev.close_reason = cl->reason;
        ev.by_peer = cl->by_peer;
      }
      out.push_back(std::move(ev));
    }
  }

  // When set, b's events go here instead of into ev_b (a test that handles them itself).
  std::function<void(Connection&)> drain_b;

  void settle_io() {
    flush(a, true);
    flush(b, false);
    drain(a, ev_a);
    if (drain_b)
      drain_b(b);
    else
      drain(b, ev_b);
  }

  // Advances to the next wake-up. Returns false when nothing is left to happen.
  bool step() {
    settle_io();
    std::optional<TimeNs> next;
    for (const auto& w : wire)
      if (!next || w.arrive < *next) next = w.arrive;
    for (Connection* c : {&a, &b})
      if (auto t = c->next_timeout(); t && (!next || *t < *next)) next = *t;
    if (!next) return false;
    now = std::max(now, *next);
    // Deliver due datagrams in arrival order.
    std::sort(wire.begin(), wire.end(), [](const InFlight& x, const InFlight& y) {
      return x.arrive != y.arrive ? x.arrive < y.arrive : x.order < y.order;
    });
    std::size_t n = 0;
    while (n < wire.size() && wire[n].arrive <= now) ++n;
    std::vector<InFlight> due(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(n));
    wire.erase(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(n));
    for (auto& d : due) {
      Connection& c = d.to_b ? b : a;
      const auto r = decode_datagram(d.bytes);
      EXPECT_TRUE(r.datagram.has_value());
      if (r.datagram) c.on_datagram(*r.datagram, now, via_stream);
      flush(c, !d.to_b);
    }
    for (Connection* c : {&a, &b})
      if (auto t = c->next_timeout(); t && *t <= now) c->on_timeout(now);
    settle_io();
    return true;
  }

  // Steps until pred() holds; false if it never does within the bounds.
  template <class Pred>
  bool run_until(Pred pred, TimeNs max_time_ns = 10 * kNsPerSec, int max_steps = 2'000'000) {
    for (int i = 0; i < max_steps; ++i) {
      if (pred()) return true;
      if (now > max_time_ns) return false;
      if (!step()) return pred();
    }
    return pred();
  }

  // Runs for a span of virtual time (or until nothing is left to happen).
  void run_for(TimeNs span_ns) {
    const TimeNs end = now + span_ns;
    run_until([&] { return now >= end; }, end + 1);
  }

  std::size_t count(const std::vector<Ev>& evs, Ev::Kind k) const {
    return static_cast<std::size_t>(std::count_if(evs.begin(), evs.end(), [k](const Ev& e) { return e.kind == k; }));
  }
};

inline SendOptions opts(Lane lane = Lane::Normal, Delivery d = Delivery::ReliableOrdered) {
  SendOptions o;
  o.lane = lane;
  o.delivery = d;
  return o;
}

}  // namespace hana::protocol::test
