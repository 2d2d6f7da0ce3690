// hana::sim::Network: a deterministic datagram network in virtual time (sans-IO).
//
// Endpoints are named by hana::Address. send() puts a datagram on the directed link
// (from, to); the link decides, with its own seeded PRNG stream, whether it is lost,
// duplicated, reordered, how long it is delayed, and (with a bandwidth limit) when it
// leaves the sender's bounded transmit queue. poll_delivery(now) hands out datagrams
// whose arrival time has come, in (arrival time, send order) order.
//
// Determinism: the same seed and the same sequence of calls give a bit-identical run
// (trace_hash() summarises every delivery). Each directed link has its own PRNG stream
// derived from (seed, from, to), so traffic on one link does not shift the random
// decisions of another.
//
// Group addresses (multicast group / subnet broadcast): a datagram sent to one fans out
// to every registered endpoint except the sender, each copy through its own link.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <functional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hana/address.h"
#include "hana/types.h"
#include "protocol/sim/prng.h"

namespace hana::sim {

using ByteView = std::span<const std::uint8_t>;

// Behaviour of one directed link. All probabilities are per datagram, in [0, 1].
struct LinkParams {
  double loss = 0.0;       // dropped on the wire
  double duplicate = 0.0;  // delivered twice (the copy gets its own jitter)
  double reorder = 0.0;    // held back by reorder_delay_ns, so later datagrams overtake it
  // Gilbert-Elliott burst loss, on top of `loss`: the link alternates between a good
  // state (no burst loss) and a bad one that loses every datagram. burst_loss is the
  // long-run fraction lost that way, burst_mean the mean run of consecutive losses in
  // datagrams (bad -> good with probability 1 / burst_mean per datagram). 0 = off.
  double burst_loss = 0.0;
  double burst_mean = 1.0;
  TimeNs delay_ns = 25 * kNsPerUs;          // one-way propagation delay (LAN-sized default)
  TimeNs jitter_ns = 0;                     // extra uniform delay in [0, jitter_ns]; may reorder too
  TimeNs reorder_delay_ns = 300 * kNsPerUs; // extra delay of a reordered datagram
  // Bottleneck: 0 = unlimited. Otherwise each datagram occupies the link for
  // size * 8 / rate seconds (serialization) and waits behind earlier ones.
  std::uint64_t bandwidth_bits_per_sec = 0;
  // Bytes the link may hold (the datagram being serialized included); a datagram that
  // would exceed it is tail-dropped. Only meaningful with a bandwidth limit.
  std::uint64_t queue_limit_bytes = 256 * 1024;
  // Largest datagram (UDP payload) the link carries: Ethernet's 1500-byte MTU less IPv4
  // and UDP headers. A larger one is refused at the sender, as a socket with
  // don't-fragment refuses it (EMSGSIZE): path-MTU probes find this size.
  std::size_t mtu_bytes = 1472;
};

// Counters of the whole network or of one directed link.
struct NetworkCounters {
  std::uint64_t sent = 0;               // datagrams accepted by send() (a group send counts each copy)
  std::uint64_t sent_bytes = 0;
  std::uint64_t delivered = 0;          // handed out by poll_delivery (duplicates included)
  std::uint64_t delivered_bytes = 0;
  std::uint64_t lost = 0;               // random loss
  std::uint64_t duplicated = 0;         // extra copies created
  std::uint64_t reordered = 0;          // datagrams held back by the reorder rule
  std::uint64_t queue_dropped = 0;      // tail drops at a full bandwidth queue
  std::uint64_t partition_dropped = 0;  // blocked by a partition (at send or while in flight)
  std::uint64_t unroutable = 0;         // destination is not a registered endpoint or group
  std::uint64_t too_large = 0;          // larger than the link's mtu_bytes: refused at the sender
};

// What happened to a datagram, for an optional observer (tracing a failing seed).
enum class TapEvent : std::uint8_t {
  Sent,              // accepted onto a link (once per copy of a group send)
  Lost,              // random loss
  Duplicated,        // an extra copy was scheduled
  Reordered,         // held back by the reorder rule
  QueueDropped,      // tail drop at a full bandwidth queue
  PartitionDropped,  // cut by a partition or block (at send or at arrival)
  Unroutable,        // no such endpoint or group
  Delivered,         // handed out by poll_delivery
  TooLarge,         // larger than the link's MTU: refused at the sender
};
std::string_view to_string(TapEvent e);

struct TapRecord {
  TapEvent event;
  TimeNs at;  // virtual time of the event (arrival time for Delivered)
  Address from;
  Address to;
  std::size_t bytes;
};

struct Datagram {
  Address from;
  Address to;    // the receiving endpoint (for a group send: the member, not the group)
  Address dest;  // the address the sender used (the group address for fan-out)
  TimeNs sent_at = 0;
  TimeNs arrival = 0;
  std::vector<std::uint8_t> bytes;
};

class Network {
 public:
  explicit Network(std::uint64_t seed, LinkParams defaults = {});

  // Registers an endpoint (idempotent). Sends to unknown addresses are unroutable.
  void add_endpoint(const Address& address);
  bool has_endpoint(const Address& address) const;
  std::span<const Address> endpoints() const { return endpoints_; }

  // A group address fans out to every endpoint except the sender.
  void add_group(const Address& group);
  bool is_group(const Address& address) const;

  // Parameters of links not configured explicitly. Applies to existing default links too.
  void set_default_link(const LinkParams& params);
  const LinkParams& default_link() const { return defaults_; }
  // Parameters of the directed link from -> to (call twice for both directions).
  void set_link(const Address& from, const Address& to, const LinkParams& params);
  void set_link_both(const Address& a, const Address& b, const LinkParams& params) {
    set_link(a, b, params);
    set_link(b, a, params);
  }
  LinkParams link(const Address& from, const Address& to) const;

  // Partitions. Every endpoint belongs to one partition group (0 by default); datagrams
  // only pass between endpoints of the same group. partition() puts each listed set in
  // its own group (1, 2, ...) and every unlisted endpoint in group 0. heal() joins all.
  // Datagrams already in flight across a new partition are dropped at arrival time.
  void partition(const std::vector<std::vector<Address>>& groups);
  void set_partition_group(const Address& endpoint, std::uint32_t group);
  void heal();
  // One-way blocks, for asymmetric failures: from -> to is cut while blocked.
  void block(const Address& from, const Address& to, bool blocked = true);
  bool can_reach(const Address& from, const Address& to) const;

  // Puts a datagram on the network at virtual time `now` (must not go backwards).
  // Returns the number of copies scheduled (0: lost, dropped or unroutable).
  std::size_t send(const Address& from, const Address& to, ByteView bytes, TimeNs now);

  // Arrival time of the earliest datagram in flight.
  std::optional<TimeNs> next_delivery_time() const;
  // The next datagram with arrival <= now, or nullopt. Datagrams blocked by a
  // partition that appeared while they were in flight are dropped here, not returned.
  std::optional<Datagram> poll_delivery(TimeNs now);
  // Gives a delivered buffer back for reuse (optional; saves allocations in long runs).
  void recycle(std::vector<std::uint8_t>&& buffer);

  // Observer of every datagram event (unset = none). For debugging and traces only:
  // it must not call back into the network.
  void set_tap(std::function<void(const TapRecord&)> tap) { tap_ = std::move(tap); }

  std::size_t in_flight() const { return queue_.size(); }
  // Totals over every link (plus unroutable sends).
  NetworkCounters counters() const;
  NetworkCounters link_counters(const Address& from, const Address& to) const;
  // Running hash over every delivery (time, from, to, bytes): equal hashes = equal runs.
  std::uint64_t trace_hash() const { return trace_hash_; }
  std::uint64_t seed() const { return seed_; }

 private:
  struct Link {
    LinkParams params;
    bool explicit_params = false;
    bool blocked = false;
    bool burst_bad = false;  // Gilbert-Elliott state
    Prng prng;
    TimeNs busy_until = 0;  // when the serializer finishes the last queued datagram
    NetworkCounters counters;
  };
  struct InFlight {
    TimeNs arrival;
    std::uint64_t order;  // send order: ties at equal arrival keep FIFO
    std::uint32_t from;
    std::uint32_t to;
    std::uint32_t dest_group;  // index+1 into groups_ when sent to a group, else 0
    TimeNs sent_at;
    std::vector<std::uint8_t> bytes;
  };
  // Heap order for std::push_heap/pop_heap: the earliest (arrival, order) on top.
  struct Later {
    bool operator()(const InFlight& a, const InFlight& b) const {
      return a.arrival != b.arrival ? a.arrival > b.arrival : a.order > b.order;
    }
  };

  std::optional<std::uint32_t> index_of(const Address& address) const;
  Link& link_state(std::uint32_t from, std::uint32_t to);
  const Link* find_link(std::uint32_t from, std::uint32_t to) const;
  bool reachable(std::uint32_t from, std::uint32_t to) const;
  static bool burst_step(Link& link, const LinkParams& p);
  std::size_t send_one(std::uint32_t from, std::uint32_t to, std::uint32_t dest_group, ByteView bytes,
                       TimeNs now);
  std::vector<std::uint8_t> take_buffer(ByteView bytes);
  static std::uint64_t link_key(std::uint32_t from, std::uint32_t to) {
    return (std::uint64_t{from} << 32) | to;
  }

  std::uint64_t seed_;
  LinkParams defaults_;
  std::vector<Address> endpoints_;
  std::vector<std::uint32_t> partition_group_;  // per endpoint
  std::unordered_map<Address, std::uint32_t, AddressHash> index_;
  std::vector<Address> groups_;
  std::unordered_map<std::uint64_t, Link> links_;  // lookup only: never iterated for behaviour
  std::vector<InFlight> queue_;  // a heap ordered by Later (vector so we can move out)
  std::vector<std::vector<std::uint8_t>> pool_;
  std::uint64_t next_order_ = 0;
  TimeNs last_now_ = 0;
  void tap(TapEvent e, TimeNs at, std::uint32_t from, std::uint32_t to, std::size_t bytes) const {
    if (tap_) tap_(TapRecord{e, at, endpoints_[from], endpoints_[to], bytes});
  }

  std::uint64_t unroutable_ = 0;
  std::function<void(const TapRecord&)> tap_;
  std::uint64_t trace_hash_ = 0;
};

}  // namespace hana::sim
