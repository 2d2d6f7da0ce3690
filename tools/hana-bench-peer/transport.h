// One interface over the three baselines (udp-raw, tcp, enet) so that every
// scenario (ping, stream, fanout, echo server) is written once.
//
// send() only queues; flush() transmits everything queued (TCP: one write per
// connection, UDP: sendmmsg, ENet: enet_host_flush), so batching is the same for
// all. poll() waits at most timeout_ns, hands each whole received message to the
// callback and returns how many it delivered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common.h"

namespace bench {

enum class Channel : std::uint8_t { kHigh = 0, kBulk = 1 };

struct Incoming {
  int peer;  // index into the connect() list (client) or server-assigned (server)
  Channel channel;
  const std::uint8_t* data;
  std::size_t len;
};

using OnMessage = std::function<void(const Incoming&)>;

struct TransportOptions {
  std::size_t mtu_bytes = 1472;              // udp-raw datagram size (payload + 8-byte fragment prefix)
  std::size_t bulk_queue_bytes = 256 * 1024; // queued-but-unsent bulk data before can_send_bulk() says no
  std::vector<std::string> hana_knobs;       // hana only: KEY=VALUE config knobs (hana::Config::set)
  bool hana_inline = false;                  // hana only: Threading::Inline (loop runs in poll())
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual const char* name() const = 0;
  // Server side: bind and start accepting. Returns "" or an error text.
  virtual std::string listen(const Endpoint& bind) = 0;
  // Client side: connect to every peer (index = position), waiting up to deadline_ns.
  virtual std::string connect(const std::vector<Endpoint>& peers, const Endpoint* bind,
                              std::int64_t deadline_ns) = 0;
  virtual void send(int peer, Channel channel, const std::uint8_t* data, std::size_t len) = 0;
  // The same message to peers 0..peers-1 (fanout). A library with a broadcast call uses
  // it (hana: one payload for all, one batched submission); the others send to each.
  virtual void send_to_all(std::size_t peers, Channel channel, const std::uint8_t* data, std::size_t len) {
    for (std::size_t p = 0; p < peers; ++p) send(static_cast<int>(p), channel, data, len);
  }
  virtual void flush() = 0;
  // False while too much bulk data waits locally (back-pressure for streams).
  virtual bool can_send_bulk(int peer) const = 0;
  virtual int poll(std::int64_t timeout_ns, const OnMessage& on_message) = 0;
};

std::unique_ptr<Transport> make_udp_transport(const TransportOptions& opts);
std::unique_ptr<Transport> make_tcp_transport(const TransportOptions& opts);
std::unique_ptr<Transport> make_enet_transport(const TransportOptions& opts);
// hana::Node; backend "uring", "epoll" or "auto".
std::unique_ptr<Transport> make_hana_transport(const TransportOptions& opts, const std::string& backend,
                                               bool busy_poll);

}  // namespace bench
