// io_uring backend: one multishot recvmsg over a provided-buffer ring (registered by hand:
// liburing 2.3 has no io_uring_setup_buf_ring), sendmsg per GSO group, an eventfd read
// kept armed in the ring so application threads can wake the loop, and timed waits with
// io_uring_submit_and_wait_timeout. The TCP path (engine/tcp_streams.h) runs on the same
// ring: a multishot accept, one recv per stream into its deframer, one send at a time per
// stream from its send buffer, and connect; a stream closes once no operation refers to it.
#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "engine/backend.h"
#include "engine/clock.h"
#include "engine/rx_timestamp.h"
#include "engine/send_batch.h"
#include "engine/socket.h"
#include "engine/tcp_socket.h"

namespace hana::engine {
namespace {

enum class Op : std::uint64_t { Recv = 1, Wake = 2, Send = 3, Accept = 4, StreamRecv = 5, StreamSend = 6, StreamConnect = 7 };
constexpr std::uint64_t tag(Op op, std::uint32_t index = 0) { return (static_cast<std::uint64_t>(op) << 32) | index; }
constexpr Op op_of(std::uint64_t user_data) { return static_cast<Op>(user_data >> 32); }
constexpr std::uint32_t index_of(std::uint64_t user_data) { return static_cast<std::uint32_t>(user_data); }

constexpr std::uint16_t kBufferGroup = 7;
constexpr unsigned kReapBatch = 64;

std::uint32_t round_up_pow2(std::uint32_t v) {
  std::uint32_t p = 1;
  while (p < v && p < 32768) p <<= 1;
  return p;
}

class UringBackend final : public Backend {
 public:
  UringBackend(const UdpSocket& socket, const BackendOptions& options, Counters& counters)
      : fd_(socket.fd()), counters_(counters), gso_(options.gso && socket.gso_supported()),
        max_datagram_(options.max_datagram_bytes), batch_(options.send_slots, options.max_datagram_bytes) {
    recv_fd_[0] = fd_;
    buffer_count_ = round_up_pow2(options.recv_buffers);
    // Rounded up to alignof(cmsghdr): each buffer starts with the recvmsg header, the
    // name and the cmsgs the kernel writes there, so buffer i must start aligned too
    // (1628 bytes with the default 1452-byte datagrams put buffer 1's cmsg on a 4-byte
    // boundary: a misaligned cmsghdr that UBSan reports).
    constexpr std::size_t kAlign = alignof(cmsghdr);
    const std::size_t bytes = sizeof(io_uring_recvmsg_out) + sizeof(sockaddr_storage) + kRxTimestampCmsgSpace +
                              options.max_datagram_bytes;
    buffer_bytes_ = static_cast<std::uint32_t>((bytes + kAlign - 1) / kAlign * kAlign);
    ready_.reserve(options.send_slots);
  }

  ~UringBackend() override {
    if (tcp_)
      for (std::uint32_t i = 0; i < tcp_->capacity(); ++i)
        if (tcp_->at(i).state != TcpStreams::State::Free) ::close(tcp_->at(i).fd);
    if (ring_ready_) io_uring_queue_exit(&ring_);  // also drops the buffer-ring registration
    if (buf_ring_) munmap(buf_ring_, buf_ring_bytes_);
    if (event_fd_ >= 0) ::close(event_fd_);
  }

  Result<void> init(std::uint32_t entries) {
    // Blocking on purpose: io_uring completes a read on an O_NONBLOCK fd with -EAGAIN
    // instead of waiting, which would spin the wake-up read.
    event_fd_ = ::eventfd(0, EFD_CLOEXEC);
    if (event_fd_ < 0) return Error{Errc::Unavailable, "eventfd failed"};
    io_uring_params params{};
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int rc = io_uring_queue_init_params(entries, &ring_, &params);
    if (rc == -EINVAL) {  // older kernel: plain ring
      params = io_uring_params{};
      rc = io_uring_queue_init_params(entries, &ring_, &params);
    }
    if (rc < 0) return Error{Errc::Unavailable, "io_uring_queue_init failed (blocked by seccomp or kernel)"};
    ring_ready_ = true;

    buf_ring_bytes_ = buffer_count_ * sizeof(io_uring_buf);
    void* mem = mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) return Error{Errc::Unavailable, "mmap of the provided-buffer ring failed"};
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(buf_ring_);
    reg.ring_entries = buffer_count_;
    reg.bgid = kBufferGroup;
    if (io_uring_register_buf_ring(&ring_, &reg, 0) < 0)
      return Error{Errc::Unavailable, "io_uring_register_buf_ring failed (kernel < 5.19?)"};
    io_uring_buf_ring_init(buf_ring_);
    buffers_.reset(new std::uint8_t[std::size_t{buffer_count_} * buffer_bytes_]);
    for (std::uint32_t i = 0; i < buffer_count_; ++i) add_buffer(static_cast<std::uint16_t>(i), static_cast<int>(i));
    io_uring_buf_ring_advance(buf_ring_, static_cast<int>(buffer_count_));

    recv_msg_.msg_namelen = sizeof(sockaddr_storage);
    recv_msg_.msg_controllen = kRxTimestampCmsgSpace;  // SO_TIMESTAMPNS (rx_timestamp.h)
    if (!arm_recv(0) || !arm_wake()) return Error{Errc::Unavailable, "io_uring: no SQE to arm receive"};
    if (io_uring_submit(&ring_) < 0) return Error{Errc::Unavailable, "io_uring_submit failed"};
    last_overflow_ = *ring_.cq.koverflow;
    return {};
  }

  BackendKind kind() const override { return BackendKind::Uring; }
  MutableBytes send_buffer() override { return last_send_ = batch_.acquire(); }
  void commit_send(const Address& to, std::size_t size, bool alone, const protocol::Gathered& gathered) override {
    batch_.commit(to, size, gso_ && !alone, gathered);
  }
  void take_unpinned(std::vector<std::uint32_t>& out) override { batch_.take_unpinned(out); }
  void set_gso(bool on) override { gso_ = on; }

  // A second multishot recvmsg (tag index 1) drawing from the same provided buffers.
  Result<void> add_receive_socket(int fd) override {
    if (recv_fd_[1] >= 0) return Error{Errc::InvalidArgument, "backend already has an extra receive socket"};
    recv_fd_[1] = fd;
    if (!arm_recv(1) || io_uring_submit(&ring_) < 0) {
      recv_fd_[1] = -1;
      return Error{Errc::Unavailable, "io_uring: cannot arm receive on the extra socket"};
    }
    return {};
  }

  Result<void> add_stream_listener(int fd, const Address& local, const TcpOptions& options) override {
    if (tcp_) return Error{Errc::InvalidArgument, "backend already has a TCP listener"};
    tcp_ = std::make_unique<TcpStreams>(options, counters_);
    tcp_->set_local(local);
    dial_addr_.resize(options.max_streams);
    listen_fd_ = fd;
    if (!arm_accept() || io_uring_submit(&ring_) < 0) return Error{Errc::Unavailable, "io_uring: cannot arm accept"};
    return {};
  }

  void commit_stream_send(const Address& to, std::size_t size) override {
    if (!tcp_) return counters_.add(EngineCounter::tcp_send_overflow);
    const TimeNs now = monotonic_now_ns();
    auto slot = tcp_->find(to);
    if (!slot) {
      if (!tcp_->may_dial(to, now)) return counters_.add(EngineCounter::tcp_send_overflow);
      const int fd = open_tcp_stream_socket(tcp_->local(), false);
      if (fd < 0) return counters_.add(EngineCounter::tcp_connect_failed);
      slot = tcp_->dialing(fd, to, now);
      if (!slot) return;
      const socklen_t len = to_sockaddr(to, dial_addr_[*slot]);
      io_uring_sqe* sqe = get_sqe();
      if (!sqe) {
        counters_.add(EngineCounter::tcp_connect_failed);
        tcp_->dial_failed(to, now);
        return close_stream(*slot, nullptr);
      }
      io_uring_prep_connect(sqe, fd, reinterpret_cast<sockaddr*>(&dial_addr_[*slot]), len);
      io_uring_sqe_set_data64(sqe, tag(Op::StreamConnect, *slot));
      ++tcp_->at(*slot).ops_in_flight;
    }
    (void)tcp_->queue(*slot, last_send_.first(std::min(size, last_send_.size())));
  }
  std::uint32_t stream_count() const override { return tcp_ ? tcp_->open_count() : 0; }
  TimeNs held_until() const override { return tcp_ ? tcp_->next_check() : kNoDeadline; }

  void flush() override {
    queue_sends();
    (void)io_uring_submit(&ring_);
  }

  void wait(TimeNs deadline, ReceiveSink& sink) override {
    queue_sends();
    const TimeNs now = deadline == 0 || deadline == kNoDeadline ? 0 : monotonic_now_ns();
    if (deadline == 0 || (deadline != kNoDeadline && deadline <= now) || io_uring_cq_ready(&ring_) > 0) {
      // Busy-poll and past deadlines: submit and run deferred task work without sleeping.
      (void)io_uring_submit_and_get_events(&ring_);
    } else {
      io_uring_cqe* cqe = nullptr;
      if (deadline == kNoDeadline) {
        (void)io_uring_submit_and_wait(&ring_, 1);
      } else {
        const TimeNs rel = deadline - now;
        __kernel_timespec ts{static_cast<long long>(rel / kNsPerSec), static_cast<long long>(rel % kNsPerSec)};
        (void)io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
      }
    }
    reap(sink);
  }

  void wake() override {
    const std::uint64_t one = 1;
    (void)!::write(event_fd_, &one, sizeof one);
  }

 private:
  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {  // submission queue full: hand what is there to the kernel and retry once
      (void)io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  // `slot` 0 is the main socket, 1 the extra receive socket.
  bool arm_recv(std::uint32_t slot) {
    io_uring_sqe* sqe = get_sqe();
    if (!sqe) return false;
    io_uring_prep_recvmsg_multishot(sqe, recv_fd_[slot], &recv_msg_, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(sqe, tag(Op::Recv, slot));
    recv_armed_[slot] = true;
    return true;
  }

  bool arm_wake() {
    io_uring_sqe* sqe = get_sqe();
    if (!sqe) return false;
    io_uring_prep_read(sqe, event_fd_, &wake_value_, sizeof wake_value_, 0);
    io_uring_sqe_set_data64(sqe, tag(Op::Wake));
    return true;
  }

  // `offset` counts from the ring's current tail (liburing 2.3 semantics).
  void add_buffer(std::uint16_t bid, int offset) {
    io_uring_buf_ring_add(buf_ring_, buffers_.get() + std::size_t{bid} * buffer_bytes_, buffer_bytes_, bid,
                          io_uring_buf_ring_mask(buffer_count_), offset);
  }
  void recycle(std::uint16_t bid) {
    add_buffer(bid, 0);
    io_uring_buf_ring_advance(buf_ring_, 1);
  }

  bool arm_accept() {
    io_uring_sqe* sqe = get_sqe();
    if (!sqe) return false;
    io_uring_prep_multishot_accept(sqe, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, tag(Op::Accept));
    accept_armed_ = true;
    return true;
  }

  void arm_stream_recv(std::uint32_t slot) {
    TcpStreams::Stream& s = tcp_->at(slot);
    if (s.recv_in_flight || s.state != TcpStreams::State::Open) return;
    io_uring_sqe* sqe = get_sqe();
    if (!sqe) return close_stream(slot, nullptr);
    const MutableBytes space = s.rx->space();
    io_uring_prep_recv(sqe, s.fd, space.data(), space.size(), 0);
    io_uring_sqe_set_data64(sqe, tag(Op::StreamRecv, slot));
    s.recv_in_flight = true;
    ++s.ops_in_flight;
  }

  void arm_stream_send(std::uint32_t slot) {
    TcpStreams::Stream& s = tcp_->at(slot);
    if (s.send_in_flight || s.state != TcpStreams::State::Open) return;
    const Bytes pending = tcp_->pending(slot);
    if (pending.empty()) return;
    io_uring_sqe* sqe = get_sqe();
    if (!sqe) return close_stream(slot, nullptr);
    io_uring_prep_send(sqe, s.fd, pending.data(), pending.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, tag(Op::StreamSend, slot));
    s.send_in_flight = true;
    ++s.ops_in_flight;
  }

  // Shuts the socket down so operations still in flight complete, and frees the slot
  // once none refers to it (their buffers are the stream's).
  void close_stream(std::uint32_t slot, ReceiveSink* sink) {
    TcpStreams::Stream& s = tcp_->at(slot);
    if (s.state == TcpStreams::State::Free) return;
    if (s.state != TcpStreams::State::Closing) {
      s.state = TcpStreams::State::Closing;
      (void)::shutdown(s.fd, SHUT_RDWR);
    }
    if (s.ops_in_flight != 0) return;
    ::close(s.fd);
    tcp_->release(slot, sink);
  }

  void on_stream_op(Op op, std::uint32_t slot, int res, ReceiveSink& sink) {
    TcpStreams::Stream& s = tcp_->at(slot);
    --s.ops_in_flight;
    if (op == Op::StreamRecv) s.recv_in_flight = false;
    if (op == Op::StreamSend) s.send_in_flight = false;
    if (s.state == TcpStreams::State::Closing) return close_stream(slot, &sink);
    switch (op) {
      case Op::StreamConnect:
        if (res < 0) {
          counters_.add(EngineCounter::tcp_connect_failed);
          tcp_->dial_failed(*s.key, monotonic_now_ns());
          return close_stream(slot, &sink);
        }
        tcp_->connected(slot);
        arm_stream_recv(slot);
        arm_stream_send(slot);
        return;
      case Op::StreamRecv:
        if (res <= 0) {
          counters_.add(EngineCounter::tcp_closed);  // 0: the peer closed; else reset or failed
          return close_stream(slot, &sink);
        }
        if (!tcp_->on_read(slot, static_cast<std::size_t>(res), monotonic_now_ns(), sink))
          return close_stream(slot, &sink);
        return arm_stream_recv(slot);
      case Op::StreamSend:
        if (res < 0) {
          counters_.add(EngineCounter::tcp_closed);
          return close_stream(slot, &sink);
        }
        tcp_->sent(slot, static_cast<std::size_t>(res));
        return arm_stream_send(slot);
      default: return;
    }
  }

  void on_accept(const io_uring_cqe* cqe) {
    if (!(cqe->flags & IORING_CQE_F_MORE)) accept_armed_ = false;
    if (cqe->res < 0) return;  // an aborted connection, or the multishot ended: re-armed after the batch
    if (auto slot = tcp_->adopt(cqe->res, monotonic_now_ns())) {
      arm_stream_recv(*slot);
      arm_stream_send(*slot);  // the hello
    }
  }

  void queue_stream_sends() {
    tcp_->take_dirty(dirty_);
    for (std::uint32_t slot : dirty_) arm_stream_send(slot);
  }

  void queue_sends() {
    if (tcp_) queue_stream_sends();
    if (batch_.empty()) return;
    ready_.clear();
    batch_.take_ready(ready_);
    for (std::uint32_t index : ready_) {
      io_uring_sqe* sqe = get_sqe();
      if (!sqe) {  // cannot happen with a sane ring size; drop rather than stall the loop
        counters_.add(EngineCounter::send_errors, batch_.group(index).count);
        batch_.release(index);
        continue;
      }
      io_uring_prep_sendmsg(sqe, fd_, &batch_.group(index).msg, 0);
      io_uring_sqe_set_data64(sqe, tag(Op::Send, index));
    }
  }

  void on_send_done(std::uint32_t index, int res) {
    SendGroup& g = batch_.group(index);
    if (res >= 0) {
      counters_.add(EngineCounter::datagrams_sent, g.count);
      counters_.add(EngineCounter::bytes_sent, static_cast<std::uint64_t>(res));
      if (g.count > 1) counters_.add(EngineCounter::gso_sends);
    } else if (res == -ENOBUFS || res == -EAGAIN) {
      counters_.add(EngineCounter::send_enobufs, g.count);
    } else if (res == -EMSGSIZE) {
      counters_.add(EngineCounter::send_too_large, g.count);
    } else {
      counters_.add(EngineCounter::send_errors, g.count);
      if (g.count > 1 && (res == -EIO || res == -EINVAL)) gso_ = false;  // device refuses GSO
    }
    batch_.release(index);
  }

  void on_recv(std::uint32_t slot, const io_uring_cqe* cqe, ReceiveSink& sink) {
    if (!(cqe->flags & IORING_CQE_F_MORE)) recv_armed_[slot] = false;
    if (cqe->res < 0) {
      if (cqe->res == -ENOBUFS)
        counters_.add(EngineCounter::recv_enobufs);
      else if (cqe->res != -ECANCELED)
        counters_.add(EngineCounter::recv_errors);
      return;
    }
    if (!(cqe->flags & IORING_CQE_F_BUFFER)) return;
    const auto bid = static_cast<std::uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    std::uint8_t* buf = buffers_.get() + std::size_t{bid} * buffer_bytes_;
    io_uring_recvmsg_out* out = io_uring_recvmsg_validate(buf, cqe->res, &recv_msg_);
    if (!out) {
      counters_.add(EngineCounter::recv_errors);
    } else if ((out->flags & MSG_TRUNC) ||
               io_uring_recvmsg_payload_length(out, cqe->res, &recv_msg_) > max_datagram_) {
      counters_.add(EngineCounter::truncated);  // larger than max_datagram_bytes (the buffer is rounded up)
    } else {
      const auto* name = static_cast<const sockaddr*>(io_uring_recvmsg_name(out));
      const Address from = from_sockaddr(name, static_cast<socklen_t>(out->namelen));
      const auto* payload = static_cast<const std::uint8_t*>(io_uring_recvmsg_payload(out, &recv_msg_));
      const auto len = io_uring_recvmsg_payload_length(out, cqe->res, &recv_msg_);
      TimeNs received_at = 0;
      for (cmsghdr* c = io_uring_recvmsg_cmsg_firsthdr(out, &recv_msg_); c != nullptr;
           c = io_uring_recvmsg_cmsg_nexthdr(out, &recv_msg_, c))
        if (const TimeNs t = rx_clock_.convert(c)) received_at = t;
      counters_.add(EngineCounter::datagrams_received);
      counters_.add(EngineCounter::bytes_received, len);
      sink.on_datagram(from, Bytes{payload, len}, received_at);
    }
    recycle(bid);
  }

  void reap(ReceiveSink& sink) {
    const unsigned overflow = *ring_.cq.koverflow;
    if (overflow != last_overflow_) {
      counters_.add(EngineCounter::cq_overflow, overflow - last_overflow_);
      last_overflow_ = overflow;
    }
    io_uring_cqe* cqes[kReapBatch];
    // Bounded: at most a few batches per turn so timers and queues are not starved.
    for (int round = 0; round < 8; ++round) {
      const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kReapBatch);
      if (n == 0) break;
      rx_clock_.refresh();
      for (unsigned i = 0; i < n; ++i) {
        const std::uint64_t data = io_uring_cqe_get_data64(cqes[i]);
        switch (op_of(data)) {
          case Op::Recv: on_recv(index_of(data) & 1u, cqes[i], sink); break;
          case Op::Wake: wake_pending_ = true; break;
          case Op::Send: on_send_done(index_of(data), cqes[i]->res); break;
          case Op::Accept: on_accept(cqes[i]); break;
          case Op::StreamRecv:
          case Op::StreamSend:
          case Op::StreamConnect: on_stream_op(op_of(data), index_of(data), cqes[i]->res, sink); break;
        }
      }
      io_uring_cq_advance(&ring_, n);
      if (sink.batch_done()) break;
    }
    // Re-arm after the batch: ENOBUFS ended the multishot, buffers are back now.
    for (std::uint32_t slot = 0; slot < 2; ++slot)
      if (recv_fd_[slot] >= 0 && !recv_armed_[slot]) arm_recv(slot);
    if (wake_pending_) {
      wake_pending_ = false;
      arm_wake();
    }
    if (tcp_) {
      if (!accept_armed_) arm_accept();
      tcp_->report_closes(sink);
      tcp_->expire(monotonic_now_ns(), [&](std::uint32_t slot) { close_stream(slot, &sink); });
      queue_stream_sends();  // replies and resumed sends
    }
  }

  int fd_;
  Counters& counters_;
  RxClock rx_clock_;
  bool gso_;
  std::uint32_t max_datagram_ = 0;
  SendBatch batch_;
  std::vector<std::uint32_t> ready_;
  io_uring ring_{};
  bool ring_ready_ = false;
  int event_fd_ = -1;
  std::uint64_t wake_value_ = 0;
  io_uring_buf_ring* buf_ring_ = nullptr;
  std::size_t buf_ring_bytes_ = 0;
  std::uint32_t buffer_count_ = 0;
  std::uint32_t buffer_bytes_ = 0;
  std::unique_ptr<std::uint8_t[]> buffers_;
  msghdr recv_msg_{};
  int recv_fd_[2] = {-1, -1};  // main socket, extra receive socket (or -1)
  bool recv_armed_[2] = {false, false};
  bool wake_pending_ = false;
  unsigned last_overflow_ = 0;
  MutableBytes last_send_;                    // the last send_buffer(), for commit_stream_send
  std::unique_ptr<TcpStreams> tcp_;           // the TCP path, once a listener is added
  int listen_fd_ = -1;
  bool accept_armed_ = false;
  std::vector<sockaddr_storage> dial_addr_;   // per slot: a connect's address, alive until it completes
  std::vector<std::uint32_t> dirty_;
};

}  // namespace

Result<std::unique_ptr<Backend>> make_uring_backend(const UdpSocket& socket, const BackendOptions& options,
                                                    Counters& counters) {
  auto backend = std::make_unique<UringBackend>(socket, options, counters);
  if (auto r = backend->init(options.uring_entries); !r) return r.error();
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace hana::engine
