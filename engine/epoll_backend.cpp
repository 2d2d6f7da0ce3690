// epoll backend: recvmmsg/sendmmsg in batches, an eventfd for wake-ups, and epoll_pwait2
// for nanosecond-resolution timed waits. Its I/O is plain syscalls on the socket, so any
// thread may drive it: Shared threading runs on it (backend.h).
//
// Two epoll sets watch the same sockets, both with EPOLLEXCLUSIVE, the application
// waiters' set registered first: the kernel offers a datagram's wake-up to the first set
// and passes it on only when that set has no waiter. So an application thread blocked in
// wait_event() receives its message itself, and the node's own thread (the standby set)
// wakes for a datagram only when no application thread is waiting.
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "engine/backend.h"
#include "engine/clock.h"
#include "engine/epoll_streams.h"
#include "engine/rx_timestamp.h"
#include "engine/send_batch.h"

namespace hana::engine {
namespace {

constexpr std::uint32_t kMaxRecvBatch = 64;
constexpr std::uint32_t kGroBufferBytes = 65536;  // the largest coalesced read (a GSO batch)
constexpr std::uint32_t kMaxGroBatch = 32;        // entries per recvmmsg with GRO (each up to 64 KiB)
constexpr int kMaxRecvRounds = 8;  // batches per turn, so timers and queues are not starved
constexpr int kMaxWaitEvents = 4;  // enough to learn what to serve (level-triggered: the rest comes back)

class EpollBackend final : public Backend {
 public:
  EpollBackend(const UdpSocket& socket, const BackendOptions& options, Counters& counters)
      : fd_(socket.fd()), counters_(counters), gso_(options.gso && socket.gso_supported()),
        gro_(options.gro && socket.enable_gro()), max_datagram_(options.max_datagram_bytes),
        batch_(options.send_slots, options.max_datagram_bytes),
        recv_batch_(std::min(options.recv_buffers, gro_ ? kMaxGroBatch : kMaxRecvBatch)),
        // Without GRO a datagram larger than max_datagram_bytes comes back with MSG_TRUNC;
        // with it, a buffer holds a whole coalesced read and the size is checked per segment.
        recv_bytes_(gro_ ? kGroBufferBytes : options.max_datagram_bytes),
        recv_memory_(new std::uint8_t[std::size_t{recv_batch_} * recv_bytes_]),
        recv_hdrs_(recv_batch_), recv_iov_(recv_batch_), recv_addr_(recv_batch_), recv_control_(recv_batch_) {
    ready_.reserve(options.send_slots);
    send_hdrs_.resize(options.send_slots);
    for (std::uint32_t i = 0; i < recv_batch_; ++i) {
      recv_iov_[i] = {recv_memory_.get() + std::size_t{i} * recv_bytes_, recv_bytes_};
      msghdr& m = recv_hdrs_[i].msg_hdr;
      m = msghdr{};
      m.msg_name = &recv_addr_[i];
      m.msg_namelen = sizeof(sockaddr_storage);
      m.msg_iov = &recv_iov_[i];
      m.msg_iovlen = 1;
      m.msg_control = &recv_control_[i];
      m.msg_controllen = sizeof(ControlBuffer);
    }
  }

  ~EpollBackend() override {
    for (int fd : {epoll_fd_, event_fd_, standby_epoll_fd_, standby_event_fd_, standby_timer_fd_})
      if (fd >= 0) ::close(fd);
  }

  Result<void> init() {
    event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (event_fd_ < 0 || epoll_fd_ < 0) return Error{Errc::Unavailable, "eventfd/epoll_create1 failed"};
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd_;
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd_, &ev) != 0) return Error{Errc::Unavailable, "epoll_ctl(socket) failed"};
    ev.events = EPOLLIN;
    ev.data.fd = event_fd_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev) != 0)
      return Error{Errc::Unavailable, "epoll_ctl(eventfd) failed"};
    // The standby set, registered on the sockets after the application set (order matters).
    standby_event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    standby_epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (standby_event_fd_ < 0 || standby_epoll_fd_ < 0) return Error{Errc::Unavailable, "eventfd/epoll_create1 failed"};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.fd = fd_;
    if (::epoll_ctl(standby_epoll_fd_, EPOLL_CTL_ADD, fd_, &ev) != 0)
      return Error{Errc::Unavailable, "epoll_ctl(standby socket) failed"};
    ev.events = EPOLLIN;
    ev.data.fd = standby_event_fd_;
    if (::epoll_ctl(standby_epoll_fd_, EPOLL_CTL_ADD, standby_event_fd_, &ev) != 0)
      return Error{Errc::Unavailable, "epoll_ctl(standby eventfd) failed"};
    standby_timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    ev.data.fd = standby_timer_fd_;
    if (standby_timer_fd_ < 0 || ::epoll_ctl(standby_epoll_fd_, EPOLL_CTL_ADD, standby_timer_fd_, &ev) != 0)
      return Error{Errc::Unavailable, "timerfd for the standby failed"};
    return {};
  }

  BackendKind kind() const override { return BackendKind::Epoll; }
  MutableBytes send_buffer() override { return last_send_ = batch_.acquire(); }
  void commit_send(const Address& to, std::size_t size, bool alone, const protocol::Gathered& gathered) override {
    batch_.commit(to, size, gso_ && !alone, gathered);
  }
  void take_unpinned(std::vector<std::uint32_t>& out) override { batch_.take_unpinned(out); }
  void set_gso(bool on) override { gso_ = on; }

  Result<void> add_receive_socket(int fd) override {
    if (extra_fd_ >= 0) return Error{Errc::InvalidArgument, "backend already has an extra receive socket"};
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0 || ::epoll_ctl(standby_epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
      return Error{Errc::Unavailable, "epoll_ctl(extra receive socket) failed"};
    extra_fd_ = fd;
    return {};
  }

  Result<void> add_stream_listener(int fd, const Address& local, const TcpOptions& options) override {
    if (tcp_) return Error{Errc::InvalidArgument, "backend already has a TCP listener"};
    // The listener and the streams join both waiter sets themselves (epoll_streams.h);
    // the set of streams waiting to write is watched here.
    auto tcp = std::make_unique<EpollStreams>(fd, local, options, counters_,
                                              std::array<int, 2>{epoll_fd_, standby_epoll_fd_});
    if (auto r = tcp->init(); !r) return r;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = EpollStreams::kWakeTag | EpollStreams::kWakeAll;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, tcp->out_watch_fd(), &ev) != 0 ||
        ::epoll_ctl(standby_epoll_fd_, EPOLL_CTL_ADD, tcp->out_watch_fd(), &ev) != 0)
      return Error{Errc::Unavailable, "epoll_ctl(TCP streams) failed"};
    tcp_ = std::move(tcp);
    return {};
  }
  void commit_stream_send(const Address& to, std::size_t size) override {
    if (!tcp_) return counters_.add(EngineCounter::tcp_send_overflow);
    tcp_->send(to, last_send_.first(std::min(size, last_send_.size())));
  }
  std::uint32_t stream_count() const override { return tcp_ ? tcp_->count() : 0; }
  TimeNs held_until() const override { return tcp_ ? tcp_->next_check() : kNoDeadline; }

  void flush() override {
    if (tcp_) tcp_->flush();
    if (batch_.empty()) return;
    ready_.clear();
    batch_.take_ready(ready_);
    std::size_t done = 0;
    while (done < ready_.size()) {
      const std::size_t n = ready_.size() - done;
      for (std::size_t i = 0; i < n; ++i) send_hdrs_[i].msg_hdr = batch_.group(ready_[done + i]).msg;
      const int sent = ::sendmmsg(fd_, send_hdrs_.data(), static_cast<unsigned>(n), MSG_DONTWAIT);
      if (sent > 0) {
        for (int i = 0; i < sent; ++i) {
          const SendGroup& g = batch_.group(ready_[done + static_cast<std::size_t>(i)]);
          counters_.add(EngineCounter::datagrams_sent, g.count);
          counters_.add(EngineCounter::bytes_sent, send_hdrs_[static_cast<std::size_t>(i)].msg_len);
          if (g.count > 1) counters_.add(EngineCounter::gso_sends);
        }
        done += static_cast<std::size_t>(sent);
      } else {
        // The first group failed: count it, drop it (the protocol repairs), go on.
        const SendGroup& g = batch_.group(ready_[done]);
        if (errno == ENOBUFS || errno == EAGAIN) {
          counters_.add(EngineCounter::send_enobufs, g.count);
        } else if (errno == EMSGSIZE) {
          counters_.add(EngineCounter::send_too_large, g.count);
        } else {
          counters_.add(EngineCounter::send_errors, g.count);
          if (g.count > 1 && (errno == EIO || errno == EINVAL)) gso_ = false;
        }
        ++done;
      }
    }
    for (std::uint32_t index : ready_) batch_.release(index);
  }

  void wait(TimeNs deadline, ReceiveSink& sink) override {
    flush();
    if (deadline == 0) {  // a turn after block(), or busy-poll: no epoll round trip
      const std::uint64_t seen = seen_.exchange(0, std::memory_order_relaxed);
      // With streams open, a fresh wake-up that saw what is readable reads only that: a
      // frame costs one recv, not a recvmmsg that finds nothing, an epoll_wait and the
      // recv. What the blocker did not see stays ready in the level-triggered waiter sets
      // and wakes the next one. A wake-up older than a late timer (the thread was starved
      // since) reads everything, so acks that came meanwhile are read before timers are
      // judged (issue 18). No stream open: unchanged (the UDP path's own behaviour).
      if (tcp_ && tcp_->count() > 0 && seen != 0 &&
          monotonic_now_ns() - seen_at_.load(std::memory_order_relaxed) < kFreshWakeNs) {
        if (seen & kSeenUdp) {
          drain_socket(fd_, sink);
          if (extra_fd_ >= 0) drain_socket(extra_fd_, sink);
        }
        service_streams(seen, sink);
        return;
      }
      drain_socket(fd_, sink);
      if (extra_fd_ >= 0) drain_socket(extra_fd_, sink);
      // TCP: when a blocker saw it ready, a stream is open, a timeout is due, or (a
      // listener alone, busy-polling) every 64th turn: a UDP-only turn stays one syscall.
      if (tcp_ && ((seen & ~kSeenUdp) != 0 || tcp_->count() > 0 || (++busy_turns_ & 63) == 0 ||
                   tcp_->next_check() <= monotonic_now_ns()))
        tcp_->service(sink);
      return;
    }
    epoll_event events[kMaxWaitEvents];
    const int n = epoll_until(epoll_fd_, deadline, events);
    std::uint64_t seen = 0;  // the TCP path's part
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 & EpollStreams::kWakeTag) {
        seen = combine(seen, seen_of(events[i].data.u64));
      } else if (events[i].data.fd == event_fd_) {
        std::uint64_t value;
        (void)!::read(event_fd_, &value, sizeof value);
      } else {
        drain_socket(events[i].data.fd, sink);
      }
    }
    if (tcp_) service_streams(seen, sink);
  }

  void wake() override { signal(event_fd_); }

  bool shared_capable() const override { return true; }
  // Touches no member but the (atomic) pwait2 flag: any thread, without the loop.
  bool block(TimeNs deadline, bool standby) override {
    const int own_event_fd = standby ? standby_event_fd_ : event_fd_;
    epoll_event events[kMaxWaitEvents];
    const int n = epoll_until(standby ? standby_epoll_fd_ : epoll_fd_, deadline, events);
    std::uint64_t seen = 0;
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (events[i].data.u64 & EpollStreams::kWakeTag) {
        seen = combine(seen, seen_of(events[i].data.u64));
      } else if (fd == own_event_fd || fd == standby_timer_fd_) {
        std::uint64_t value;
        (void)!::read(fd, &value, sizeof value);
      } else {
        seen |= kSeenUdp;
      }
    }
    if (seen == 0) return false;
    seen_at_.store(monotonic_now_ns(), std::memory_order_relaxed);
    std::uint64_t old = seen_.load(std::memory_order_relaxed);
    while (!seen_.compare_exchange_weak(old, combine(old, seen), std::memory_order_relaxed)) {
    }
    return true;
  }
  void kick_standby() override { signal(standby_event_fd_); }
  void arm_standby(TimeNs at) override {
    itimerspec its{};  // zero: disarmed
    if (at != kNoDeadline) {
      at = std::max<TimeNs>(at, 1);  // zero would disarm; a past time fires at once
      its.it_value.tv_sec = static_cast<time_t>(at / kNsPerSec);
      its.it_value.tv_nsec = static_cast<long>(at % kNsPerSec);
    }
    (void)::timerfd_settime(standby_timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
  }

 private:
  // What wake-ups saw readable, until a receive reads it: UDP input, and on the TCP path
  // one stream (its slot in the upper half) or more (kSeenStreams: service them all).
  static constexpr std::uint64_t kSeenUdp = 1;
  static constexpr std::uint64_t kSeenOneStream = 2;
  static constexpr std::uint64_t kSeenStreams = 4;
  static constexpr TimeNs kFreshWakeNs = kNsPerMs;  // the event loop's "late timer"
  static std::uint64_t seen_of(std::uint64_t wake_data) {
    const auto slot = static_cast<std::uint32_t>(wake_data);
    return slot == EpollStreams::kWakeAll ? kSeenStreams : kSeenOneStream | std::uint64_t{slot} << 32;
  }
  static std::uint64_t combine(std::uint64_t a, std::uint64_t b) {
    // Two different streams: all of them (the slot bits are then meaningless).
    if ((a & kSeenOneStream) && (b & kSeenOneStream) && (a >> 32) != (b >> 32)) return a | b | kSeenStreams;
    return a | b;
  }
  void service_streams(std::uint64_t seen, ReceiveSink& sink) {
    if (seen & kSeenStreams) tcp_->service(sink);
    else if (seen & kSeenOneStream) tcp_->service(sink, static_cast<std::uint32_t>(seen >> 32));
    else if (tcp_->next_check() <= monotonic_now_ns()) tcp_->service(sink);  // a timeout is due
  }

  static void signal(int event_fd) {
    const std::uint64_t one = 1;
    (void)!::write(event_fd, &one, sizeof one);
  }

  // epoll_pwait2 (ns timeout) where the kernel has it, else epoll_wait (ms, rounded up).
  int epoll_until(int epoll_fd, TimeNs deadline, epoll_event (&events)[kMaxWaitEvents]) {
    int timeout_ms = -1;
    timespec ts{};
    const timespec* tsp = nullptr;
    if (deadline != kNoDeadline) {
      const TimeNs now = monotonic_now_ns();
      const TimeNs rel = deadline > now ? deadline - now : 0;
      ts.tv_sec = static_cast<time_t>(rel / kNsPerSec);
      ts.tv_nsec = static_cast<long>(rel % kNsPerSec);
      tsp = &ts;
      timeout_ms = static_cast<int>(std::min<TimeNs>((rel + kNsPerMs - 1) / kNsPerMs, 1'000'000));
    }
    const bool pwait2 = use_pwait2_.load(std::memory_order_relaxed);
    int n = pwait2 ? ::epoll_pwait2(epoll_fd, events, kMaxWaitEvents, tsp, nullptr) : -1;
    if (pwait2 && n < 0 && errno == ENOSYS) use_pwait2_.store(false, std::memory_order_relaxed);
    if (!pwait2 || (n < 0 && errno == ENOSYS)) n = ::epoll_wait(epoll_fd, events, kMaxWaitEvents, timeout_ms);
    return n;
  }

  void drain_socket(int fd, ReceiveSink& sink) {
    // The headers are set up once (constructor); the kernel writes back only the name
    // length and the flags of the entries it filled, which are restored below.
    for (int round = 0; round < kMaxRecvRounds; ++round) {
      const int n = ::recvmmsg(fd, recv_hdrs_.data(), recv_batch_, MSG_DONTWAIT, nullptr);
      if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
          counters_.add(EngineCounter::recv_errors);
        return;
      }
      rx_clock_.refresh();
      bool yield = false;
      for (int i = 0; i < n; ++i) {
        mmsghdr& h = recv_hdrs_[static_cast<std::size_t>(i)];
        const socklen_t name_len = h.msg_hdr.msg_namelen;
        const bool truncated = h.msg_hdr.msg_flags & MSG_TRUNC;
        std::uint32_t segment = 0;
        TimeNs received_at = 0;
        read_cmsgs(h.msg_hdr, segment, received_at);
        h.msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        h.msg_hdr.msg_flags = 0;
        h.msg_hdr.msg_controllen = sizeof(ControlBuffer);  // the kernel wrote back what it used
        const auto* data = static_cast<const std::uint8_t*>(recv_iov_[static_cast<std::size_t>(i)].iov_base);
        const std::uint32_t step = segment != 0 ? segment : h.msg_len;
        if (truncated) {  // larger than the buffer: only a datagram beyond any GRO read
          counters_.add(EngineCounter::truncated);
          continue;
        }
        const Address from = from_sockaddr(reinterpret_cast<const sockaddr*>(h.msg_hdr.msg_name), name_len);
        if (segment != 0 && h.msg_len > segment) counters_.add(EngineCounter::gro_receives);
        // Coalesced segments are equal-size but the last; each is one datagram to the sink
        // (an empty datagram is one too: step 0, one round).
        std::uint32_t off = 0;
        do {
          const std::uint32_t len = std::min(step, h.msg_len - off);
          if (len > max_datagram_) {
            counters_.add(EngineCounter::truncated);  // what MSG_TRUNC says without GRO
          } else {
            counters_.add(EngineCounter::datagrams_received);
            counters_.add(EngineCounter::bytes_received, len);
            sink.on_datagram(from, Bytes{data + off, len}, received_at);
          }
          off += len;
        } while (off < h.msg_len);
        // A coalesced read is up to 64 datagrams, a whole batch's worth without GRO: its
        // messages go to the application before the next read's are taken apart, so no
        // more wait in a connection between hand-overs than before GRO (with 32 reads of 64
        // in one call, 2048 did), and an urgent one among them leaves now. Reads already
        // taken from the socket are still processed; only the next recvmmsg is skipped.
        if (segment != 0 && h.msg_len > segment && i + 1 < n && sink.batch_done()) yield = true;
      }
      if (yield || static_cast<std::uint32_t>(n) < recv_batch_ || sink.batch_done()) return;
    }
  }

  // The UDP_GRO cmsg's segment size (0 when the read was one datagram) and the kernel's
  // receive timestamp (0 when there is none).
  void read_cmsgs(const msghdr& m, std::uint32_t& segment, TimeNs& received_at) const {
    for (const cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&m), const_cast<cmsghdr*>(c))) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        int size = 0;
        std::memcpy(&size, CMSG_DATA(c), sizeof size);
        segment = size > 0 ? static_cast<std::uint32_t>(size) : 0;
      } else if (const TimeNs t = rx_clock_.convert(c)) {
        received_at = t;
      }
    }
  }

  union ControlBuffer {  // a UDP_GRO and a SCM_TIMESTAMPNS cmsg, aligned for cmsghdr
    char bytes[CMSG_SPACE(sizeof(int)) + kRxTimestampCmsgSpace];
    cmsghdr align;
  };
  RxClock rx_clock_;

  int fd_;
  Counters& counters_;
  bool gso_;
  bool gro_;
  std::uint32_t max_datagram_;
  SendBatch batch_;
  std::vector<std::uint32_t> ready_;
  std::vector<mmsghdr> send_hdrs_;
  std::uint32_t recv_batch_;
  std::uint32_t recv_bytes_;
  std::unique_ptr<std::uint8_t[]> recv_memory_;
  std::vector<mmsghdr> recv_hdrs_;
  std::vector<iovec> recv_iov_;
  std::vector<sockaddr_storage> recv_addr_;
  std::vector<ControlBuffer> recv_control_;
  int epoll_fd_ = -1;
  int event_fd_ = -1;
  int extra_fd_ = -1;  // the discovery socket, receive only
  int standby_epoll_fd_ = -1;
  int standby_event_fd_ = -1;
  int standby_timer_fd_ = -1;  // armed by arm_standby(): the loop's deadline
  std::atomic<bool> use_pwait2_{true};
  MutableBytes last_send_;                 // the last send_buffer(), for commit_stream_send
  std::unique_ptr<EpollStreams> tcp_;      // the TCP path, once a listener is added
  std::atomic<std::uint64_t> seen_{0};     // what block() saw readable (kSeen*), for the next wait(0)
  std::atomic<TimeNs> seen_at_{0};         // when block() last saw something
  std::uint32_t busy_turns_ = 0;
};

}  // namespace

Result<std::unique_ptr<Backend>> make_epoll_backend(const UdpSocket& socket, const BackendOptions& options,
                                                    Counters& counters) {
  auto backend = std::make_unique<EpollBackend>(socket, options, counters);
  if (auto r = backend->init(); !r) return r.error();
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace hana::engine
