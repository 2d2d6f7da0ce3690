#include "protocol/sim/connection_endpoint.h"

#include <algorithm>

#include "protocol/codec.h"

namespace hana::sim {

ConnectionEndpoint::ConnectionEndpoint(Address self, Config config) : self_(self), config_(config) {}

protocol::Connection& ConnectionEndpoint::connect(const Address& peer, protocol::ConnectionIds ids, TimeNs now) {
  if (auto it = index_.find(peer); it != index_.end()) {
    // Reconnect: a fresh connection replaces the old one (e.g. after a simulated restart).
    connections_[it->second] = std::make_unique<protocol::Connection>(config_, ids, now);
    return *connections_[it->second];
  }
  index_.emplace(peer, peers_.size());
  peers_.push_back(peer);
  connections_.push_back(std::make_unique<protocol::Connection>(config_, ids, now));
  return *connections_.back();
}

protocol::Connection* ConnectionEndpoint::connection(const Address& peer) {
  auto it = index_.find(peer);
  return it == index_.end() ? nullptr : connections_[it->second].get();
}

const protocol::Connection* ConnectionEndpoint::connection(const Address& peer) const {
  auto it = index_.find(peer);
  return it == index_.end() ? nullptr : connections_[it->second].get();
}

void ConnectionEndpoint::drain(std::size_t index, TimeNs now) {
  protocol::Connection& c = *connections_[index];
  while (auto event = c.poll_event()) {
    if (sink_) sink_(peers_[index], *event, now);
  }
}

void ConnectionEndpoint::drain_events(TimeNs now) {
  for (std::size_t i = 0; i < connections_.size(); ++i) drain(i, now);
}

void ConnectionEndpoint::on_datagram(const Address& from, ByteView bytes, TimeNs now) {
  auto it = index_.find(from);
  if (it == index_.end()) {
    ++counters_.unknown_peer;
    return;
  }
  const protocol::DecodeResult decoded = protocol::decode_datagram(bytes);
  if (!decoded.datagram) {
    ++counters_.undecodable;
    return;
  }
  protocol::Connection& c = *connections_[it->second];
  if (decoded.datagram->header.connection_id != c.ids().local) {
    ++counters_.wrong_conn_id;
    return;
  }
  c.on_datagram(*decoded.datagram, now);
  drain(it->second, now);
}

void ConnectionEndpoint::on_timeout(TimeNs now) {
  for (std::size_t i = 0; i < connections_.size(); ++i) {
    protocol::Connection& c = *connections_[i];
    if (auto t = c.next_timeout(); t && *t <= now) {
      c.on_timeout(now);
      drain(i, now);
    }
  }
}

std::optional<TimeNs> ConnectionEndpoint::next_timeout() const {
  std::optional<TimeNs> earliest;
  for (const auto& c : connections_) {
    if (auto t = c->next_timeout()) earliest = earliest ? std::min(*earliest, *t) : *t;
  }
  return earliest;
}

std::optional<Transmit> ConnectionEndpoint::poll_transmit(std::span<std::uint8_t> buffer, TimeNs now) {
  const std::size_t n = connections_.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (transmit_cursor_ + k) % n;
    const std::size_t size = connections_[i]->poll_transmit(buffer, now);
    drain(i, now);
    if (size > 0) {
      transmit_cursor_ = (i + 1) % n;
      return Transmit{peers_[i], size};
    }
  }
  return std::nullopt;
}

void connect_pair(ConnectionEndpoint& a, ConnectionEndpoint& b, std::uint32_t id_a, std::uint32_t id_b, TimeNs now) {
  a.connect(b.address(), protocol::ConnectionIds{id_a, id_b}, now);
  b.connect(a.address(), protocol::ConnectionIds{id_b, id_a}, now);
}

}  // namespace hana::sim
