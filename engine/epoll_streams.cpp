#include "engine/epoll_streams.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "engine/backend.h"
#include "engine/clock.h"
#include "engine/socket.h"
#include "engine/tcp_socket.h"

namespace hana::engine {
namespace {

constexpr std::uint32_t kListenerTag = 0xffffffffu;
constexpr int kEventsPerService = 64;
constexpr int kAcceptsPerService = 16;  // a connection flood cannot monopolise a turn
constexpr int kReadsPerStream = 4;      // buffers per stream per turn (level-triggered: the rest comes back)

}  // namespace

EpollStreams::EpollStreams(int listen_fd, const Address& local, const TcpOptions& options, Counters& counters,
                           std::array<int, 2> waiter_sets)
    : listen_fd_(listen_fd), counters_(counters), streams_(options, counters), waiter_sets_(waiter_sets),
      want_out_(options.max_streams, false) {
  streams_.set_local(local);
  dirty_.reserve(options.max_streams);
}

EpollStreams::~EpollStreams() {
  for (std::uint32_t i = 0; i < streams_.capacity(); ++i)
    if (streams_.at(i).state != TcpStreams::State::Free) ::close(streams_.at(i).fd);
  for (int fd : {epoll_fd_, out_fd_})
    if (fd >= 0) ::close(fd);
}

Result<void> EpollStreams::init() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  out_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0 || out_fd_ < 0) return Error{Errc::Unavailable, "epoll_create1 (TCP streams) failed"};
  const int flags = ::fcntl(listen_fd_, F_GETFL);
  if (flags < 0 || ::fcntl(listen_fd_, F_SETFL, flags | O_NONBLOCK) != 0)
    return Error{Errc::Unavailable, "fcntl(O_NONBLOCK) on the TCP listener failed"};
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = kListenerTag;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0)
    return Error{Errc::Unavailable, "epoll_ctl(TCP listener) failed"};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.u64 = kWakeTag | kWakeAll;
  for (int set : waiter_sets_)
    if (::epoll_ctl(set, EPOLL_CTL_ADD, listen_fd_, &ev) != 0)
      return Error{Errc::Unavailable, "epoll_ctl(TCP listener, waiter set) failed"};
  return {};
}

// A new stream joins the service set (waiting for EPOLLOUT: the hello is queued, or the
// connect is in progress) and the waiter sets. EPOLLEXCLUSIVE allows only ADD and DEL and
// no EPOLLRDHUP: a stream is registered there once, for input (a peer's close reads as
// input, errors and hang-ups are always reported), and removed when it closes. False when
// the kernel refused (the stream is closed: it could never be woken for).
bool EpollStreams::add(std::uint32_t slot) {
  const int fd = streams_.at(slot).fd;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.u64 = kWakeTag | slot;
  bool ok = ::epoll_ctl(waiter_sets_[0], EPOLL_CTL_ADD, fd, &ev) == 0;
  ok = ok && ::epoll_ctl(waiter_sets_[1], EPOLL_CTL_ADD, fd, &ev) == 0;
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLOUT;
  ev.data.u64 = slot;
  ok = ok && ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
  ev.events = EPOLLOUT;
  ok = ok && ::epoll_ctl(out_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
  want_out_[slot] = true;
  if (!ok) close(slot, nullptr);
  return ok;
}

// EPOLLOUT on or off for an open stream, in the service set and the write-wait set.
void EpollStreams::watch(std::uint32_t slot, bool out) {
  const int fd = streams_.at(slot).fd;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0u);
  ev.data.u32 = slot;
  (void)::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
  ev.events = EPOLLOUT;
  (void)::epoll_ctl(out_fd_, out ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev);
  want_out_[slot] = out;
}

void EpollStreams::service(ReceiveSink& sink, std::optional<std::uint32_t> only) {
  const TimeNs now = monotonic_now_ns();
  streams_.report_closes(sink);
  // A connecting stream (its completion), or one whose slot was reused, goes the full way.
  if (only && *only < streams_.capacity() && streams_.at(*only).state == TcpStreams::State::Open) {
    read(*only, now, sink);
    streams_.expire(now, [&](std::uint32_t slot) { close(slot, &sink); });
    return;
  }
  epoll_event events[kEventsPerService];
  const int n = ::epoll_wait(epoll_fd_, events, kEventsPerService, 0);
  for (int i = 0; i < n; ++i) {
    const std::uint32_t tag = events[i].data.u32;
    if (tag == kListenerTag) {
      accept_all(now);
      continue;
    }
    TcpStreams::Stream& s = streams_.at(tag);
    if (s.state == TcpStreams::State::Connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        counters_.add(EngineCounter::tcp_connect_failed);
        streams_.dial_failed(*s.key, now);
        close(tag, &sink);
        continue;
      }
      if (!(events[i].events & EPOLLOUT)) continue;
      streams_.connected(tag);
    }
    if (s.state == TcpStreams::State::Open && (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
      read(tag, now, sink);
    if (s.state == TcpStreams::State::Open && (events[i].events & EPOLLOUT)) write(tag);
  }
  streams_.expire(now, [&](std::uint32_t slot) { close(slot, &sink); });
}

void EpollStreams::accept_all(TimeNs now) {
  for (int i = 0; i < kAcceptsPerService; ++i) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or an aborted connection: nothing to do either way
    if (auto slot = streams_.adopt(fd, now); slot && !add(*slot)) counters_.add(EngineCounter::tcp_closed);
  }
}

void EpollStreams::read(std::uint32_t slot, TimeNs now, ReceiveSink& sink) {
  TcpStreams::Stream& s = streams_.at(slot);
  for (int i = 0; i < kReadsPerStream; ++i) {
    protocol::MutableBytes space = s.rx->space();
    const ssize_t r = ::recv(s.fd, space.data(), space.size(), MSG_DONTWAIT);
    if (r > 0) {
      if (!streams_.on_read(slot, static_cast<std::size_t>(r), now, sink)) return close(slot, &sink);
      if (static_cast<std::size_t>(r) < space.size()) return;
      continue;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    counters_.add(EngineCounter::tcp_closed);  // 0: the peer closed; else reset or failed
    return close(slot, &sink);
  }
}

void EpollStreams::write(std::uint32_t slot) {
  TcpStreams::Stream& s = streams_.at(slot);
  for (;;) {
    const protocol::Bytes pending = streams_.pending(slot);
    if (pending.empty()) break;
    const ssize_t r = ::send(s.fd, pending.data(), pending.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r > 0) {
      streams_.sent(slot, static_cast<std::size_t>(r));
      continue;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
    counters_.add(EngineCounter::tcp_closed);
    return close(slot, nullptr);
  }
  const bool out = !streams_.pending(slot).empty();
  if (out != want_out_[slot]) watch(slot, out);
}

void EpollStreams::send(const Address& to, protocol::Bytes datagram) {
  const TimeNs now = monotonic_now_ns();
  auto slot = streams_.find(to);
  if (!slot) {
    if (!streams_.may_dial(to, now)) {
      counters_.add(EngineCounter::tcp_send_overflow);
      return;
    }
    const int fd = open_tcp_stream_socket(streams_.local(), true);
    if (fd < 0) {
      counters_.add(EngineCounter::tcp_connect_failed);
      return;
    }
    sockaddr_storage ss{};
    const socklen_t len = to_sockaddr(to, ss);
    const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
    if (rc != 0 && errno != EINPROGRESS) {
      ::close(fd);
      counters_.add(EngineCounter::tcp_connect_failed);
      streams_.dial_failed(to, now);
      return;
    }
    slot = streams_.dialing(fd, to, now);
    if (!slot) return;
    if (rc == 0) streams_.connected(*slot);
    if (!add(*slot)) {
      counters_.add(EngineCounter::tcp_connect_failed);
      streams_.dial_failed(to, now);
      return;
    }
  }
  (void)streams_.queue(*slot, datagram);
}

void EpollStreams::flush() {
  streams_.take_dirty(dirty_);
  for (std::uint32_t slot : dirty_)
    if (streams_.at(slot).state == TcpStreams::State::Open && !want_out_[slot]) write(slot);
}

void EpollStreams::close(std::uint32_t slot, ReceiveSink* sink) {
  TcpStreams::Stream& s = streams_.at(slot);
  if (s.state == TcpStreams::State::Free) return;
  (void)::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, s.fd, nullptr);
  for (int set : {waiter_sets_[0], waiter_sets_[1], out_fd_}) (void)::epoll_ctl(set, EPOLL_CTL_DEL, s.fd, nullptr);
  ::close(s.fd);
  want_out_[slot] = false;
  streams_.release(slot, sink);
}

}  // namespace hana::engine
