// The one I/O contract of the event loop (after msquic's datapath split and seastar's
// reactor_backend): the loop hands the backend datagrams to send and asks it to wait for
// received datagrams, wake-ups and its next deadline. Nothing above this header knows
// whether io_uring or epoll runs underneath.
//
// Drive it from ONE thread (the loop), except wake(), which any thread may call:
//   - per datagram to send: buf = send_buffer(); write; commit_send(to, size, alone, gathered)
//     (an empty buffer means every send slot is busy: flush() and retry next turn)
//   - after flush() or wait(): take_unpinned() and release each pin (Mesh::release_pin)
//   - wait(deadline, sink): submits what was committed, waits for a datagram, a wake()
//     or the deadline, and hands every received datagram to `sink` (the bytes are
//     valid only during the call).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string_view>
#include <vector>

#include "engine/counters.h"
#include "hana/config.h"
#include "engine/socket.h"
#include "engine/tcp_streams.h"
#include "hana/address.h"
#include "hana/result.h"
#include "hana/types.h"
#include "protocol/codec.h"

namespace hana::engine {

using protocol::Bytes;
using protocol::MutableBytes;

inline constexpr TimeNs kNoDeadline = std::numeric_limits<TimeNs>::max();

class ReceiveSink {
 public:
  virtual ~ReceiveSink() = default;
  // `received_at`: when the kernel received it (engine clock, SO_TIMESTAMPNS); 0 = unknown.
  virtual void on_datagram(const Address& from, Bytes bytes, TimeNs received_at) = 0;
  // The TCP path: a datagram read from the TCP stream keyed `from` (the peer's listen
  // address). Replies to it go back over the stream, so the path is kept apart.
  virtual void on_stream_datagram(const Address& from, Bytes bytes) { on_datagram(from, bytes, 0); }
  // After each receive batch: true ends this turn's receiving (what is left stays in the
  // socket for the next turn), so a High message that just arrived reaches the
  // application now instead of after every Bulk datagram queued behind it.
  virtual bool batch_done() { return false; }
  // The TCP path: the stream keyed `peer` (the address its datagrams came from) closed,
  // was reset or failed. A strong hint to the failure detector, not a verdict.
  virtual void on_stream_closed(const Address& peer) { (void)peer; }
};

enum class BackendKind : std::uint8_t { Auto, Uring, Epoll };
constexpr std::string_view to_string(BackendKind k) {
  return k == BackendKind::Uring ? "uring" : k == BackendKind::Epoll ? "epoll" : "auto";
}

// Built from the knobs of the same names (from()); the defaults are the knob table's, not a
// second copy of them.
struct BackendOptions {
  std::uint32_t max_datagram_bytes = Config{}.max_datagram_bytes;  // receive buffers hold this much; larger = MSG_TRUNC
  std::uint32_t recv_buffers = Config{}.recv_buffers;
  std::uint32_t send_slots = Config{}.send_slots;
  std::uint32_t uring_entries = Config{}.uring_entries;
  bool gso = Config{}.gso;
  bool gro = Config{}.gro;

  static BackendOptions from(const Config& config) {
    return {config.max_datagram_bytes, config.recv_buffers, config.send_slots, config.uring_entries, config.gso,
            config.gro};
  }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;

  // A buffer of max_datagram_bytes for the next datagram; empty when every slot is busy.
  virtual MutableBytes send_buffer() = 0;
  // Queues the datagram written into the last send_buffer() (not sent until flush/wait).
  // `alone`: never in one GSO send with its neighbours. A high_redundancy copy must not
  // share its original's skb: a virtual link (veth) or a qdisc that drops the one drops
  // both, and the copy is worth nothing.
  // `gathered` (protocol::Gathered): `size` is then the bytes written into the buffer, and
  // gathered.external goes out between them without a copy (a scatter-gather send); the
  // backend holds its pin until the kernel is done with the bytes, then hands it back
  // through take_unpinned(). Empty: the datagram is the buffer's first `size` bytes.
  virtual void commit_send(const Address& to, std::size_t size, bool alone, const protocol::Gathered& gathered) = 0;
  // Moves into `out` the pins of gathered datagrams that are sent or dropped: their
  // payloads may go. Bounded by the send slots.
  virtual void take_unpinned(std::vector<std::uint32_t>& out) = 0;
  // Hands every committed datagram to the kernel.
  virtual void flush() = 0;
  // Flushes, then waits until something arrives or `deadline` (monotonic ns; 0 = do not
  // block, kNoDeadline = no timeout), delivering received datagrams to `sink`.
  virtual void wait(TimeNs deadline, ReceiveSink& sink) = 0;
  // Thread-safe: makes a blocked (or the next) wait() return.
  virtual void wake() = 0;
  virtual void set_gso(bool on) = 0;
  // Also receives from `fd` (a bound UDP socket that outlives the backend, e.g. the
  // multicast discovery socket); its datagrams reach the same sink as the main socket's.
  // Sends always use the main socket. At most one extra socket; call before wait().
  virtual Result<void> add_receive_socket(int fd) = 0;

  // ---- The TCP path (issue 17; engine/tcp_streams.h, docs/connection.md): one TCP
  // stream per peer carries the same datagrams, length-prefixed (protocol/stream_framing.h).
  // Datagrams read from a stream reach the sink like UDP ones, from the peer's listen
  // address. Without a listener a backend neither accepts nor dials.
  // Also accepts TCP streams on `fd` (a TcpListener at the UDP socket's address, which
  // outlives the backend). `local`: this node's listen address. Call before wait().
  virtual Result<void> add_stream_listener(int fd, const Address& local, const TcpOptions& options) {
    (void)fd;
    (void)local;
    (void)options;
    return Error{Errc::Unavailable, "this backend has no TCP path"};
  }
  // Sends the datagram written into the last send_buffer() over the TCP stream to `to`
  // instead of UDP, dialing one when there is none. The send slot stays free. Dropped and
  // counted when it cannot (no listener, stream limit, send buffer full).
  virtual void commit_stream_send(const Address& to, std::size_t size) {
    (void)to;
    (void)size;
  }
  // Open TCP streams (accepted and dialed), for tests and stats.
  virtual std::uint32_t stream_count() const { return 0; }

  // ---- Shared threading (node_impl.h): the loop is a role that moves between threads,
  // so waiting is split from receiving. A thread holding the loop receives with
  // wait(0, sink); any thread may block() without holding it. Only a backend whose I/O is
  // plain syscalls on the socket can do this (epoll): io_uring completions run as task
  // work of the thread that submitted them, so a ring cannot follow the role.
  virtual bool shared_capable() const { return false; }
  // Blocks until a datagram may be waiting, wake() (application waiters) or
  // kick_standby() (the standby waiter), or `deadline`. A datagram wakes an application
  // waiter when there is one, else the standby waiter (the node's own thread). True when
  // a socket is readable: the next turn must receive (turns skip the receive otherwise).
  virtual bool block(TimeNs deadline, bool standby) {
    (void)deadline;
    (void)standby;
    return true;
  }
  virtual void kick_standby() {}
  // Wakes the standby waiter at `at` (monotonic ns; kNoDeadline disarms), replacing the
  // previous arm. Shared threading keeps it equal to the loop's deadline, so the standby
  // needs no cadence. Any thread, one at a time (the caller holds the loop).
  virtual void arm_standby(TimeNs at) { (void)at; }
  // When datagrams the backend holds back itself (fault injector delays) fall due.
  virtual TimeNs held_until() const { return kNoDeadline; }
};

// Builds the requested backend on `socket` (which must outlive it). Auto tries io_uring
// and falls back to epoll when io_uring cannot be set up. Call it on the loop thread
// (the io_uring ring is created single-issuer).
Result<std::unique_ptr<Backend>> make_backend(BackendKind kind, const UdpSocket& socket,
                                              const BackendOptions& options, Counters& counters);

Result<std::unique_ptr<Backend>> make_uring_backend(const UdpSocket& socket, const BackendOptions& options,
                                                    Counters& counters);
Result<std::unique_ptr<Backend>> make_epoll_backend(const UdpSocket& socket, const BackendOptions& options,
                                                    Counters& counters);

}  // namespace hana::engine
