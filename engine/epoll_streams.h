// The epoll backend's half of the TCP path (engine/tcp_streams.h has the shared logic):
// the listener and every stream in one epoll set of their own, which the backend's sets
// watch as a single fd, so a UDP-only turn pays nothing and a TCP event wakes any waiter.
// Non-blocking accept4/recv/send; EPOLLOUT only while a stream has bytes the kernel
// would not take (or a connect is in progress). Loop thread only.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tcp_streams.h"
#include "hana/result.h"

namespace hana::engine {

class ReceiveSink;

class EpollStreams {
 public:
  EpollStreams(int listen_fd, const Address& local, const TcpOptions& options, Counters& counters);
  ~EpollStreams();
  EpollStreams(const EpollStreams&) = delete;
  EpollStreams& operator=(const EpollStreams&) = delete;

  Result<void> init();
  // The fd the backend's epoll sets watch (readable when any stream or the listener is).
  int watch_fd() const { return epoll_fd_; }
  // Accepts, reads, finishes connects and resumes sends, then times out slow streams.
  void service(ReceiveSink& sink);
  void send(const Address& to, protocol::Bytes datagram);
  void flush();
  TimeNs next_check() const { return streams_.next_check(); }
  std::uint32_t count() const { return streams_.open_count(); }

 private:
  void accept_all(TimeNs now);
  void read(std::uint32_t slot, TimeNs now, ReceiveSink& sink);
  void write(std::uint32_t slot);
  void watch(std::uint32_t slot, bool out, int op);
  void close(std::uint32_t slot, ReceiveSink* sink);

  int listen_fd_;
  Counters& counters_;
  TcpStreams streams_;
  int epoll_fd_ = -1;
  std::vector<std::uint32_t> dirty_;
  std::vector<bool> want_out_;  // per slot: EPOLLOUT registered
};

}  // namespace hana::engine
