// The TCP path's streams (issue 17), shared by both backends: a bounded table of TCP
// connections, each with its deframer (protocol/stream_framing.h) and a bounded send
// buffer, keyed by the address the peer is known by (its UDP listen address: the dialed
// one, or for an accepted stream the remote IP and the port its hello names). The
// backends do the I/O their own way (epoll: non-blocking syscalls; io_uring: accept, recv,
// send and connect operations) and call in here with what happened; this class decides
// what it means: hello, datagrams to the sink, junk, slowloris and limits, all counted.
// Loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "engine/counters.h"
#include "hana/address.h"
#include "hana/config.h"
#include "hana/types.h"
#include "protocol/frames.h"
#include "protocol/stream_framing.h"

namespace hana::engine {

class ReceiveSink;

struct TcpOptions {
  std::uint32_t max_streams = Config{}.tcp_max_connections;
  std::uint32_t max_frame_bytes = Config{}.max_datagram_bytes;
  TimeNs frame_timeout_ns = Config{}.tcp_frame_timeout_ms * kNsPerMs;
  std::uint32_t send_buffer_bytes = Config{}.tcp_send_buffer_bytes;
  static TcpOptions from(const Config& c) {
    return {c.tcp_max_connections, c.max_datagram_bytes, c.tcp_frame_timeout_ms * kNsPerMs, c.tcp_send_buffer_bytes};
  }
};

class TcpStreams {
 public:
  static constexpr TimeNs kRedialHoldNs = 250 * kNsPerMs;
  static constexpr std::size_t kFailedDials = 64;
  enum class State : std::uint8_t { Free, Connecting, Open, Closing };
  struct Stream {
    State state = State::Free;
    int fd = -1;
    bool outbound = false;
    std::optional<Address> key;  // the peer's listen address, once known
    TimeNs opened_at = 0;
    std::unique_ptr<protocol::StreamDeframer> rx;
    // Send buffer: a byte ring of send_buffer_bytes, allocated on first use.
    std::unique_ptr<std::uint8_t[]> tx;
    std::size_t tx_head = 0;  // first unsent byte
    std::size_t tx_size = 0;  // bytes queued
    std::uint32_t ops_in_flight = 0;  // io_uring: operations that still reference the stream
    bool send_in_flight = false;      // io_uring: one send at a time keeps the bytes in order
    bool recv_in_flight = false;
    bool dirty = false;               // in the list of streams with bytes to send
  };

  TcpStreams(const TcpOptions& options, Counters& counters);

  // This node's listen address: the hello's port and the source IP of dialed streams.
  void set_local(const Address& local) { local_ = local; }
  const Address& local() const { return local_; }
  bool enabled() const { return enabled_; }
  void enable() { enabled_ = true; }

  std::uint32_t capacity() const { return static_cast<std::uint32_t>(streams_.size()); }
  Stream& at(std::uint32_t slot) { return streams_[slot]; }
  std::uint32_t open_count() const { return open_; }

  // An accepted socket: its slot, or nullopt when the table is full (the socket is closed
  // and counted; the caller must not touch `fd` again).
  std::optional<std::uint32_t> adopt(int fd, TimeNs now);
  // A slot for a stream this node dials to `to` on socket `fd` (connect not done yet);
  // nullopt when the table is full (`fd` closed).
  std::optional<std::uint32_t> dialing(int fd, const Address& to, TimeNs now);
  // The dial finished: `ok` false closes nothing itself (the backend closes), counts it.
  void connected(std::uint32_t slot);
  // The open stream to `to` that sends should use (the lowest slot: one choice per peer,
  // so datagrams to it never interleave over two streams), or nullopt.
  std::optional<std::uint32_t> find(const Address& to) const;
  // Frames `datagram` into the stream's send buffer; false when it does not fit (counted).
  bool queue(std::uint32_t slot, protocol::Bytes datagram);
  // The next contiguous run of queued bytes, and how many the kernel took.
  protocol::Bytes pending(std::uint32_t slot) const;
  void sent(std::uint32_t slot, std::size_t n);
  // `n` bytes were read into at(slot).rx->space() at `now`: whole datagrams go to `sink`
  // as from the stream's key. False when the stream must close (junk: counted).
  bool on_read(std::uint32_t slot, std::size_t n, TimeNs now, ReceiveSink& sink);
  // Streams overdue at `now` (connect, hello or a frame incomplete for frame_timeout), for
  // the backend to close; counted. Cheap when nothing is due (see next_check()).
  template <class Close>
  void expire(TimeNs now, Close&& close) {
    if (now < next_check_) return;
    next_check_ = now + check_interval();
    for (std::uint32_t i = 0; i < capacity(); ++i)
      if (overdue(i, now)) {
        counters_.add(EngineCounter::tcp_slow_frames);
        close(i);
      }
  }
  // Streams that got bytes to send since the last call (each once), for flush().
  void take_dirty(std::vector<std::uint32_t>& out) {
    out.swap(dirty_);
    dirty_.clear();
    for (std::uint32_t slot : out) streams_[slot].dirty = false;
  }
  void mark_dirty(std::uint32_t slot) {
    if (!streams_[slot].dirty) {
      streams_[slot].dirty = true;
      dirty_.push_back(slot);
    }
  }
  // Dialing: a peer whose dial failed is not dialed again for kRedialHoldNs (each
  // datagram to it would otherwise open a socket).
  bool may_dial(const Address& to, TimeNs now) const;
  void dial_failed(const Address& to, TimeNs now);
  // Closes that had no sink at hand (a failed dial from a send) reach the next one.
  void report_closes(ReceiveSink& sink);
  // When expire() should run next (kNoDeadline-like max when no stream is open).
  TimeNs next_check() const;
  // The backend closed the stream's socket: frees the slot; a keyed stream's close is
  // reported to `sink` (a strong hint to the failure detector, not a verdict).
  void release(std::uint32_t slot, ReceiveSink* sink);

 private:
  bool overdue(std::uint32_t slot, TimeNs now) const;
  TimeNs check_interval() const { return options_.frame_timeout_ns / 4 + 1; }
  std::optional<std::uint32_t> claim(int fd, TimeNs now);
  void queue_hello(Stream& s);
  bool push(Stream& s, const std::uint8_t* data, std::size_t n);

  TcpOptions options_;
  Counters& counters_;
  Address local_;
  bool enabled_ = false;
  std::vector<Stream> streams_;
  std::uint32_t open_ = 0;
  TimeNs next_check_ = 0;
  std::vector<std::uint32_t> dirty_;
  struct FailedDial {
    Address to;
    TimeNs until = 0;
  };
  std::vector<FailedDial> failed_dials_;  // bounded: kFailedDials, oldest overwritten
  std::size_t next_failed_ = 0;
  std::vector<Address> unreported_closes_;
};

}  // namespace hana::engine
