// TCP sockets of the TCP path (issue 17): the listener at the UDP socket's own address and
// port, and outbound streams to peers. Both TCP_NODELAY: a datagram is a latency unit.
#pragma once

#include "hana/address.h"
#include "hana/result.h"

namespace hana::engine {

// An owned listening TCP socket (blocking mode: io_uring accepts on it as is; the epoll
// backend switches it to non-blocking itself).
class TcpListener {
 public:
  TcpListener() = default;
  ~TcpListener();
  TcpListener(TcpListener&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  TcpListener& operator=(TcpListener&& other) noexcept;
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // Listens at `bind` (the UDP socket's bound address, port included) with SO_REUSEADDR,
  // so a restarted node is not kept off its port by TIME_WAIT.
  static Result<TcpListener> open(const Address& bind);
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// A new TCP socket for a stream to a peer of `local`'s family, bound to `local`'s IP (port
// 0) unless that is the wildcard, so the peer sees it come from the address it knows us
// by. -1 on failure.
int open_tcp_stream_socket(const Address& local, bool nonblocking);
// TCP_NODELAY and close-on-exec hygiene for accepted and dialed streams.
void tune_tcp_stream(int fd);
// The stream's remote address (family 0 when unknown).
Address tcp_peer_address(int fd);

}  // namespace hana::engine
