#include "engine/tcp_streams.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "engine/backend.h"
#include "engine/tcp_socket.h"

namespace hana::engine {

using protocol::Bytes;

TcpStreams::TcpStreams(const TcpOptions& options, Counters& counters)
    : options_(options), counters_(counters), streams_(options.max_streams) {
  dirty_.reserve(options.max_streams);
  failed_dials_.resize(kFailedDials);
  unreported_closes_.reserve(options.max_streams);
}

bool TcpStreams::may_dial(const Address& to, TimeNs now) const {
  for (const FailedDial& f : failed_dials_)
    if (f.until > now && f.to == to) return false;
  return true;
}

void TcpStreams::dial_failed(const Address& to, TimeNs now) {
  failed_dials_[next_failed_] = FailedDial{to, now + kRedialHoldNs};
  next_failed_ = (next_failed_ + 1) % kFailedDials;
}

void TcpStreams::report_closes(ReceiveSink& sink) {
  for (const Address& a : unreported_closes_) sink.on_stream_closed(a);
  unreported_closes_.clear();
}

std::optional<std::uint32_t> TcpStreams::claim(int fd, TimeNs now) {
  for (std::uint32_t i = 0; i < capacity(); ++i) {
    Stream& s = streams_[i];
    if (s.state != State::Free) continue;
    s.fd = fd;
    s.opened_at = now;
    s.key.reset();
    s.tx_head = s.tx_size = 0;
    s.ops_in_flight = 0;
    s.send_in_flight = s.recv_in_flight = false;
    // One deframer per slot, reused: a stream costs no allocation once its slot was used.
    if (!s.rx) s.rx = std::make_unique<protocol::StreamDeframer>(options_.max_frame_bytes);
    else *s.rx = protocol::StreamDeframer(options_.max_frame_bytes);
    ++open_;
    next_check_ = std::min(next_check_, now + check_interval());
    return i;
  }
  ::close(fd);
  return std::nullopt;
}

std::optional<std::uint32_t> TcpStreams::adopt(int fd, TimeNs now) {
  auto slot = claim(fd, now);
  if (!slot) {
    counters_.add(EngineCounter::tcp_refused);
    return std::nullopt;
  }
  counters_.add(EngineCounter::tcp_accepted);
  tune_tcp_stream(fd);
  Stream& s = streams_[*slot];
  s.state = State::Open;
  s.outbound = false;
  queue_hello(s);
  mark_dirty(*slot);
  return slot;
}

std::optional<std::uint32_t> TcpStreams::dialing(int fd, const Address& to, TimeNs now) {
  auto slot = claim(fd, now);
  if (!slot) {
    counters_.add(EngineCounter::tcp_connect_failed);
    return std::nullopt;
  }
  counters_.add(EngineCounter::tcp_dialed);
  Stream& s = streams_[*slot];
  s.state = State::Connecting;
  s.outbound = true;
  s.key = to;
  queue_hello(s);
  mark_dirty(*slot);  // leaves with the first send once connected
  return slot;
}

void TcpStreams::connected(std::uint32_t slot) {
  Stream& s = streams_[slot];
  if (s.state == State::Connecting) s.state = State::Open;
}

std::optional<std::uint32_t> TcpStreams::find(const Address& to) const {
  for (std::uint32_t i = 0; i < capacity(); ++i) {
    const Stream& s = streams_[i];
    if ((s.state == State::Open || s.state == State::Connecting) && s.key && *s.key == to) return i;
  }
  return std::nullopt;
}

void TcpStreams::queue_hello(Stream& s) {
  std::uint8_t hello[protocol::kStreamHelloBytes];
  const std::size_t n = protocol::write_stream_hello(local_.port, hello);
  (void)push(s, hello, n);
}

bool TcpStreams::push(Stream& s, const std::uint8_t* data, std::size_t n) {
  const std::size_t cap = options_.send_buffer_bytes;
  if (!s.tx) s.tx.reset(new std::uint8_t[cap]);
  if (cap - s.tx_size < n) return false;
  std::size_t tail = (s.tx_head + s.tx_size) % cap;
  const std::size_t first = std::min(n, cap - tail);
  std::memcpy(s.tx.get() + tail, data, first);
  std::memcpy(s.tx.get(), data + first, n - first);
  s.tx_size += n;
  return true;
}

bool TcpStreams::queue(std::uint32_t slot, Bytes datagram) {
  Stream& s = streams_[slot];
  std::uint8_t header[protocol::kStreamFrameHeaderBytes];
  const bool framed = protocol::write_stream_frame_header(datagram.size(), header) != 0;
  if (!framed || options_.send_buffer_bytes - s.tx_size < sizeof header + datagram.size()) {
    counters_.add(EngineCounter::tcp_send_overflow);
    return false;
  }
  (void)push(s, header, sizeof header);
  (void)push(s, datagram.data(), datagram.size());
  mark_dirty(slot);
  counters_.add(EngineCounter::tcp_datagrams_sent);
  return true;
}

Bytes TcpStreams::pending(std::uint32_t slot) const {
  const Stream& s = streams_[slot];
  if (s.tx_size == 0) return {};
  const std::size_t run = std::min(s.tx_size, options_.send_buffer_bytes - s.tx_head);
  return {s.tx.get() + s.tx_head, run};
}

void TcpStreams::sent(std::uint32_t slot, std::size_t n) {
  Stream& s = streams_[slot];
  n = std::min(n, s.tx_size);
  s.tx_head = (s.tx_head + n) % options_.send_buffer_bytes;
  s.tx_size -= n;
  if (s.tx_size == 0) s.tx_head = 0;
}

bool TcpStreams::on_read(std::uint32_t slot, std::size_t n, TimeNs now, ReceiveSink& sink) {
  Stream& s = streams_[slot];
  s.rx->commit(n, now);
  while (auto datagram = s.rx->next()) {
    if (!s.key) {  // an accepted stream: keyed by its remote IP and the port its hello names
      Address remote = tcp_peer_address(s.fd);
      remote.port = *s.rx->peer_port();
      s.key = remote;
    }
    counters_.add(EngineCounter::tcp_datagrams_received);
    counters_.add(EngineCounter::bytes_received, datagram->size());
    sink.on_stream_datagram(*s.key, *datagram);
    if (s.state != State::Open && s.state != State::Connecting) return false;  // closed from inside the sink
  }
  if (s.rx->error() != protocol::StreamError::None) {
    counters_.add(EngineCounter::tcp_bad_frames);
    return false;
  }
  if (!s.key && s.rx->hello_done()) {
    Address remote = tcp_peer_address(s.fd);
    remote.port = *s.rx->peer_port();
    s.key = remote;
  }
  return true;
}

bool TcpStreams::overdue(std::uint32_t slot, TimeNs now) const {
  const Stream& s = streams_[slot];
  if (s.state != State::Open && s.state != State::Connecting) return false;
  const TimeNs limit = options_.frame_timeout_ns;
  if (s.state == State::Connecting || !s.rx->hello_done()) return now - s.opened_at > limit;
  const TimeNs since = s.rx->partial_since();
  return since != 0 && now - since > limit;
}

TimeNs TcpStreams::next_check() const {
  return open_ == 0 ? std::numeric_limits<TimeNs>::max() : next_check_;
}

void TcpStreams::release(std::uint32_t slot, ReceiveSink* sink) {
  Stream& s = streams_[slot];
  if (s.state == State::Free) return;
  const std::optional<Address> key = s.key;
  s.state = State::Free;
  s.fd = -1;
  s.key.reset();
  s.tx_head = s.tx_size = 0;
  --open_;
  if (!key) return;
  if (sink) sink->on_stream_closed(*key);
  else if (unreported_closes_.size() < capacity()) unreported_closes_.push_back(*key);
}

}  // namespace hana::engine
