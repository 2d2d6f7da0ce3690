// sim::ConnectionEndpoint: one simulated node holding protocol::Connection objects (one
// per peer address), shaped as a SansIoEndpoint so sim::Driver can run it.
//
// Incoming datagrams are decoded (decode_datagram) and routed by source address; a
// datagram whose connection id is not ours, or that does not decode, is counted and
// dropped — as the engine would. Connection events are handed to a callback right
// away, while a ReceivedEvent's payload view is still valid.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "hana/address.h"
#include "hana/config.h"
#include "protocol/connection.h"
#include "protocol/sim/driver.h"

namespace hana::sim {

struct EndpointCounters {
  std::uint64_t undecodable = 0;    // decode_datagram failed
  std::uint64_t unknown_peer = 0;   // no connection for the source address
  std::uint64_t wrong_conn_id = 0;  // header connection id is not the local id of that connection
};

class ConnectionEndpoint {
 public:
  // peer, event, time of the call that produced it.
  using EventSink = std::function<void(const Address& peer, const protocol::ConnectionEvent& event, TimeNs now)>;

  ConnectionEndpoint(Address self, Config config);

  const Address& address() const { return self_; }
  // Called for every event of every connection; may be left unset (events are dropped).
  void set_event_sink(EventSink sink) { sink_ = std::move(sink); }

  // Creates the connection to `peer`. `ids.local` is what the peer puts in its
  // datagrams to us, `ids.remote` what we put in ours (see connect_pair()).
  protocol::Connection& connect(const Address& peer, protocol::ConnectionIds ids, TimeNs now);
  protocol::Connection* connection(const Address& peer);
  const protocol::Connection* connection(const Address& peer) const;
  std::span<const Address> peers() const { return peers_; }
  const EndpointCounters& counters() const { return counters_; }

  // Drains the events of every connection into the sink (the endpoint does it after
  // each of its own calls; call it after Connection::send/close made from outside).
  void drain_events(TimeNs now);

  // ---- SansIoEndpoint ----
  void on_datagram(const Address& from, ByteView bytes, TimeNs now);
  void on_timeout(TimeNs now);
  std::optional<TimeNs> next_timeout() const;
  std::optional<Transmit> poll_transmit(std::span<std::uint8_t> buffer, TimeNs now);

 private:
  void drain(std::size_t index, TimeNs now);

  Address self_;
  Config config_;
  EventSink sink_;
  std::vector<Address> peers_;                                   // creation order
  std::vector<std::unique_ptr<protocol::Connection>> connections_;  // parallel to peers_
  std::unordered_map<Address, std::size_t, AddressHash> index_;
  std::size_t transmit_cursor_ = 0;  // round-robin start for fairness between peers
  EndpointCounters counters_;
};

static_assert(SansIoEndpoint<ConnectionEndpoint>);

// Connects two endpoints to each other with matching connection ids.
void connect_pair(ConnectionEndpoint& a, ConnectionEndpoint& b, std::uint32_t id_a, std::uint32_t id_b, TimeNs now);

}  // namespace hana::sim
