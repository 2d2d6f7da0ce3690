#include "protocol/sim/network.h"

#include <xxhash.h>

#include <algorithm>

namespace hana::sim {
namespace {

std::uint64_t address_seed(const Address& a) {
  // Built from the address bytes only, so a link's stream does not depend on the
  // order endpoints were registered in.
  std::uint64_t h = mix64(a.family) ^ mix64(std::uint64_t{a.port} + 0x100);
  for (std::size_t i = 0; i < a.ip.size(); i += 8) {
    std::uint64_t word = 0;
    for (std::size_t j = 0; j < 8; ++j) word |= std::uint64_t{a.ip[i + j]} << (8 * j);
    h = mix64(h ^ word);
  }
  return h;
}

// Nanoseconds the serializer needs for `bytes` at `bits_per_sec` (rounded up).
TimeNs serialization_ns(std::size_t bytes, std::uint64_t bits_per_sec) {
  const unsigned __int128 bits_ns = static_cast<unsigned __int128>(bytes) * 8u * kNsPerSec;
  return static_cast<TimeNs>((bits_ns + bits_per_sec - 1) / bits_per_sec);
}

// Bytes still waiting in a serializer that is busy until `busy_until`.
std::uint64_t backlog_bytes(TimeNs busy_until, TimeNs now, std::uint64_t bits_per_sec) {
  if (busy_until <= now) return 0;
  const unsigned __int128 bits = static_cast<unsigned __int128>(busy_until - now) * bits_per_sec;
  return static_cast<std::uint64_t>(bits / (8u * kNsPerSec));
}

void add_counters(NetworkCounters& a, const NetworkCounters& b) {
  a.sent += b.sent;
  a.sent_bytes += b.sent_bytes;
  a.delivered += b.delivered;
  a.delivered_bytes += b.delivered_bytes;
  a.lost += b.lost;
  a.duplicated += b.duplicated;
  a.reordered += b.reordered;
  a.queue_dropped += b.queue_dropped;
  a.partition_dropped += b.partition_dropped;
  a.unroutable += b.unroutable;
  a.too_large += b.too_large;
}

}  // namespace

std::string_view to_string(TapEvent e) {
  switch (e) {
    case TapEvent::Sent: return "sent";
    case TapEvent::Lost: return "lost";
    case TapEvent::Duplicated: return "duplicated";
    case TapEvent::Reordered: return "reordered";
    case TapEvent::QueueDropped: return "queue-dropped";
    case TapEvent::PartitionDropped: return "partition-dropped";
    case TapEvent::Unroutable: return "unroutable";
    case TapEvent::TooLarge: return "too-large";
    case TapEvent::Delivered: return "delivered";
  }
  return "?";
}

Network::Network(std::uint64_t seed, LinkParams defaults) : seed_(seed), defaults_(defaults) {}

void Network::add_endpoint(const Address& address) {
  if (index_.count(address)) return;
  index_.emplace(address, static_cast<std::uint32_t>(endpoints_.size()));
  endpoints_.push_back(address);
  partition_group_.push_back(0);
}

bool Network::has_endpoint(const Address& address) const { return index_.count(address) != 0; }

void Network::add_group(const Address& group) {
  if (!is_group(group)) groups_.push_back(group);
}

bool Network::is_group(const Address& address) const {
  return std::find(groups_.begin(), groups_.end(), address) != groups_.end();
}

void Network::set_default_link(const LinkParams& params) { defaults_ = params; }

void Network::set_link(const Address& from, const Address& to, const LinkParams& params) {
  add_endpoint(from);
  add_endpoint(to);
  Link& l = link_state(*index_of(from), *index_of(to));
  l.params = params;
  l.explicit_params = true;
}

LinkParams Network::link(const Address& from, const Address& to) const {
  auto f = index_of(from);
  auto t = index_of(to);
  if (f && t) {
    if (const Link* l = find_link(*f, *t); l && l->explicit_params) return l->params;
  }
  return defaults_;
}

void Network::partition(const std::vector<std::vector<Address>>& groups) {
  std::fill(partition_group_.begin(), partition_group_.end(), 0u);
  std::uint32_t group = 1;
  for (const auto& set : groups) {
    for (const auto& a : set) {
      add_endpoint(a);
      partition_group_[*index_of(a)] = group;
    }
    ++group;
  }
}

void Network::set_partition_group(const Address& endpoint, std::uint32_t group) {
  add_endpoint(endpoint);
  partition_group_[*index_of(endpoint)] = group;
}

void Network::heal() { std::fill(partition_group_.begin(), partition_group_.end(), 0u); }

void Network::block(const Address& from, const Address& to, bool blocked) {
  add_endpoint(from);
  add_endpoint(to);
  link_state(*index_of(from), *index_of(to)).blocked = blocked;
}

bool Network::can_reach(const Address& from, const Address& to) const {
  auto f = index_of(from);
  auto t = index_of(to);
  return f && t && reachable(*f, *t);
}

std::optional<std::uint32_t> Network::index_of(const Address& address) const {
  auto it = index_.find(address);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

Network::Link& Network::link_state(std::uint32_t from, std::uint32_t to) {
  auto [it, inserted] = links_.try_emplace(link_key(from, to));
  if (inserted) {
    const std::uint64_t link_seed =
        mix64(seed_ ^ mix64(address_seed(endpoints_[from]) ^ (address_seed(endpoints_[to]) * 3)));
    it->second.prng.reseed(link_seed);
  }
  return it->second;
}

const Network::Link* Network::find_link(std::uint32_t from, std::uint32_t to) const {
  auto it = links_.find(link_key(from, to));
  return it == links_.end() ? nullptr : &it->second;
}

bool Network::reachable(std::uint32_t from, std::uint32_t to) const {
  if (partition_group_[from] != partition_group_[to]) return false;
  const Link* l = find_link(from, to);
  return !(l && l->blocked);
}

std::size_t Network::send(const Address& from, const Address& to, ByteView bytes, TimeNs now) {
  now = std::max(now, last_now_);  // time never goes backwards inside the network
  last_now_ = now;
  add_endpoint(from);  // a sender is implicitly an endpoint (it can be answered)
  const std::uint32_t f = *index_of(from);
  if (auto t = index_of(to)) return send_one(f, *t, 0, bytes, now);
  auto g = std::find(groups_.begin(), groups_.end(), to);
  if (g == groups_.end()) {
    ++unroutable_;
    if (tap_) tap_(TapRecord{TapEvent::Unroutable, now, from, to, bytes.size()});
    return 0;
  }
  const auto group_tag = static_cast<std::uint32_t>(g - groups_.begin()) + 1;
  std::size_t copies = 0;
  // Fan out in registration order: deterministic, unlike hash-map order.
  for (std::uint32_t t = 0; t < endpoints_.size(); ++t) {
    if (t != f) copies += send_one(f, t, group_tag, bytes, now);
  }
  return copies;
}

// One Gilbert-Elliott step; true when this datagram falls in a burst. From the long-run
// loss L and mean burst B: leave the bad state with r = 1/B, enter it with p such that
// p / (p + r) = L, i.e. p = L / (B (1 - L)).
bool Network::burst_step(Link& link, const LinkParams& p) {
  const double mean = std::max(1.0, p.burst_mean);
  const double loss = std::min(p.burst_loss, 0.99);
  const double enter = loss / (mean * (1.0 - loss));
  link.burst_bad = link.burst_bad ? !link.prng.chance(1.0 / mean) : link.prng.chance(std::min(enter, 1.0));
  return link.burst_bad;
}

std::size_t Network::send_one(std::uint32_t from, std::uint32_t to, std::uint32_t dest_group, ByteView bytes,
                              TimeNs now) {
  Link& link = link_state(from, to);
  const LinkParams& p = link.explicit_params ? link.params : defaults_;
  NetworkCounters& lc = link.counters;
  // Before any draw: refused by the sender's interface, it never was on the link.
  if (bytes.size() > p.mtu_bytes) {
    ++lc.too_large;
    tap(TapEvent::TooLarge, now, from, to, bytes.size());
    return 0;
  }
  ++lc.sent;
  lc.sent_bytes += bytes.size();
  // Always draw the same number of values, so a link's stream position depends only on
  // how many datagrams it carried, not on which parameters are set.
  const bool lose = link.prng.chance(p.loss);
  const bool dup = link.prng.chance(p.duplicate);
  const bool reorder = link.prng.chance(p.reorder);
  const TimeNs jitter1 = link.prng.up_to(p.jitter_ns);
  const TimeNs jitter2 = link.prng.up_to(p.jitter_ns);
  // Burst loss draws only when enabled, so runs without it keep their streams.
  const bool burst_lose = p.burst_loss > 0 && burst_step(link, p);

  if (!reachable(from, to)) {
    ++lc.partition_dropped;
    tap(TapEvent::PartitionDropped, now, from, to, bytes.size());
    return 0;
  }
  TimeNs departure = now;
  if (p.bandwidth_bits_per_sec > 0) {
    if (backlog_bytes(link.busy_until, now, p.bandwidth_bits_per_sec) + bytes.size() > p.queue_limit_bytes) {
      ++lc.queue_dropped;
      tap(TapEvent::QueueDropped, now, from, to, bytes.size());
      return 0;
    }
    departure = std::max(now, link.busy_until) + serialization_ns(bytes.size(), p.bandwidth_bits_per_sec);
    link.busy_until = departure;
  }
  tap(TapEvent::Sent, now, from, to, bytes.size());
  if (lose || burst_lose) {  // lost on the wire: it still used the bottleneck
    ++lc.lost;
    tap(TapEvent::Lost, now, from, to, bytes.size());
    return 0;
  }
  auto push = [&](TimeNs arrival) {
    queue_.push_back(InFlight{arrival, next_order_++, from, to, dest_group, now, take_buffer(bytes)});
    std::push_heap(queue_.begin(), queue_.end(), Later{});
  };
  TimeNs arrival = departure + p.delay_ns + jitter1;
  if (reorder) {
    ++lc.reordered;
    tap(TapEvent::Reordered, now, from, to, bytes.size());
    arrival += p.reorder_delay_ns;
  }
  push(arrival);
  if (dup) {
    ++lc.duplicated;
    tap(TapEvent::Duplicated, now, from, to, bytes.size());
    push(departure + p.delay_ns + jitter2);
    return 2;
  }
  return 1;
}

std::vector<std::uint8_t> Network::take_buffer(ByteView bytes) {
  std::vector<std::uint8_t> buf;
  if (!pool_.empty()) {
    buf = std::move(pool_.back());
    pool_.pop_back();
  }
  buf.assign(bytes.begin(), bytes.end());
  return buf;
}

void Network::recycle(std::vector<std::uint8_t>&& buffer) {
  constexpr std::size_t kMaxPooled = 4096;
  if (pool_.size() < kMaxPooled) {
    buffer.clear();
    pool_.push_back(std::move(buffer));
  }
}

std::optional<TimeNs> Network::next_delivery_time() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.front().arrival;
}

std::optional<Datagram> Network::poll_delivery(TimeNs now) {
  while (!queue_.empty() && queue_.front().arrival <= now) {
    std::pop_heap(queue_.begin(), queue_.end(), Later{});
    InFlight item = std::move(queue_.back());
    queue_.pop_back();
    Link& link = link_state(item.from, item.to);
    if (!reachable(item.from, item.to)) {
      ++link.counters.partition_dropped;
      tap(TapEvent::PartitionDropped, item.arrival, item.from, item.to, item.bytes.size());
      recycle(std::move(item.bytes));
      continue;
    }
    ++link.counters.delivered;
    tap(TapEvent::Delivered, item.arrival, item.from, item.to, item.bytes.size());
    link.counters.delivered_bytes += item.bytes.size();
    std::uint64_t h = trace_hash_ ^ mix64(item.arrival);
    h = mix64(h ^ (std::uint64_t{item.from} << 32 | item.to));
    h = mix64(h ^ XXH3_64bits(item.bytes.data(), item.bytes.size()));
    trace_hash_ = h;
    Datagram d;
    d.from = endpoints_[item.from];
    d.to = endpoints_[item.to];
    d.dest = item.dest_group ? groups_[item.dest_group - 1] : d.to;
    d.sent_at = item.sent_at;
    d.arrival = item.arrival;
    d.bytes = std::move(item.bytes);
    return d;
  }
  return std::nullopt;
}

NetworkCounters Network::counters() const {
  NetworkCounters total;
  for (const auto& [key, link] : links_) add_counters(total, link.counters);  // a sum: order-free
  total.unroutable += unroutable_;
  return total;
}

NetworkCounters Network::link_counters(const Address& from, const Address& to) const {
  auto f = index_of(from);
  auto t = index_of(to);
  if (!f || !t) return {};
  const Link* l = find_link(*f, *t);
  return l ? l->counters : NetworkCounters{};
}

}  // namespace hana::sim
