// The epoll backend's half of the TCP path (engine/tcp_streams.h has the shared logic):
// the listener and every stream in one epoll set of their own (the service set), which
// service() asks what is ready, so a UDP-only turn pays nothing. Non-blocking
// accept4/recv/send; EPOLLOUT only while a stream has bytes the kernel would not take (or
// a connect is in progress).
//
// Waking: the listener and every stream are also registered in the backend's waiter sets
// themselves, EPOLLIN with EPOLLEXCLUSIVE like the UDP socket, so a frame wakes ONE
// waiter (the application thread blocked in wait_event() when there is one). The service
// set cannot be watched for that: an epoll fd cannot be registered EPOLLEXCLUSIVE, and
// watched plainly it woke the application thread and the standby both for every frame,
// which then fought over the loop (measured: ~10 futex calls and 4.4 context switches per
// round trip instead of ~1.5 and 3.2 over UDP). Streams waiting for EPOLLOUT sit in a
// small set of their own (out_watch_fd()) that the waiter sets watch plainly: rare, and
// any waiter will do. Loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/tcp_streams.h"
#include "hana/result.h"

namespace hana::engine {

class ReceiveSink;

class EpollStreams {
 public:
  // `waiter_sets`: the backend's epoll sets that threads block on, in the order the UDP
  // socket was registered in them (the application waiters' first).
  EpollStreams(int listen_fd, const Address& local, const TcpOptions& options, Counters& counters,
               std::array<int, 2> waiter_sets);
  ~EpollStreams();
  EpollStreams(const EpollStreams&) = delete;
  EpollStreams& operator=(const EpollStreams&) = delete;

  Result<void> init();
  // The fd the backend's waiter sets watch plainly: readable when a stream that waits
  // for EPOLLOUT (a full send buffer, a connect) can go on.
  int out_watch_fd() const { return out_fd_; }
  // The waiter sets' registrations of the TCP path carry kWakeTag | slot in data.u64
  // (kWakeAll for the listener and the write-wait set), so that a wake-up tells TCP input
  // from UDP input and names the stream. (The backend's own registrations set data.fd,
  // whose upper bits are zero.)
  static constexpr std::uint64_t kWakeTag = std::uint64_t{1} << 63;
  static constexpr std::uint32_t kWakeAll = 0xffffffffu;
  // Accepts, reads, finishes connects and resumes sends, then times out slow streams.
  // `only`: a wake-up named this one stream and nothing else of the TCP path: it alone is
  // read (one recv instead of an epoll_wait and the recv). Whatever else is ready the
  // level-triggered waiter sets report at the next wake-up.
  void service(ReceiveSink& sink, std::optional<std::uint32_t> only = std::nullopt);
  void send(const Address& to, protocol::Bytes datagram);
  void flush();
  TimeNs next_check() const { return streams_.next_check(); }
  std::uint32_t count() const { return streams_.open_count(); }

 private:
  void accept_all(TimeNs now);
  void read(std::uint32_t slot, TimeNs now, ReceiveSink& sink);
  void write(std::uint32_t slot);
  bool add(std::uint32_t slot);
  void watch(std::uint32_t slot, bool out);
  void close(std::uint32_t slot, ReceiveSink* sink);

  int listen_fd_;
  Counters& counters_;
  TcpStreams streams_;
  std::array<int, 2> waiter_sets_;
  int epoll_fd_ = -1;  // the service set: the listener and every stream
  int out_fd_ = -1;    // streams waiting for EPOLLOUT, for wake-ups only
  std::vector<std::uint32_t> dirty_;
  std::vector<bool> want_out_;  // per slot: EPOLLOUT registered
};

}  // namespace hana::engine
