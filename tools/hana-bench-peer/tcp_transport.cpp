// tcp: what a TCP user would write. TCP_NODELAY, one connection per peer carrying
// every kind of traffic (so a ping queues behind bulk data, as it would in an
// application), 4-byte length framing, non-blocking sockets and poll().
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "transport.h"

namespace bench {
namespace {

constexpr std::size_t kReadChunk = 256 * 1024;
constexpr int kReadsPerPoll = 16;           // bounds one poll() call per connection
constexpr std::size_t kCompactBytes = 1 << 20;

struct Conn {
  int fd = -1;
  std::vector<std::uint8_t> out;
  std::size_t out_off = 0;
  std::vector<std::uint8_t> in;
  std::size_t in_off = 0;
  std::size_t in_len = 0;
};

void set_nodelay_nonblock(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(const TransportOptions& opts) : opts_(opts) {}
  ~TcpTransport() override {
    for (auto& c : conns_)
      if (c.fd >= 0) close(c.fd);
    if (listen_fd_ >= 0) close(listen_fd_);
  }
  const char* name() const override { return "tcp"; }

  std::string listen(const Endpoint& bind) override {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return std::string("socket: ") + std::strerror(errno);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&bind.addr), sizeof bind.addr) != 0)
      return std::string("bind: ") + std::strerror(errno);
    if (::listen(listen_fd_, 128) != 0) return std::string("listen: ") + std::strerror(errno);
    return "";
  }

  std::string connect(const std::vector<Endpoint>& peers, const Endpoint* bind,
                      std::int64_t deadline_ns) override {
    for (const auto& p : peers) {
      int fd = -1;
      // The server may still be starting: retry refused connections until the deadline.
      while (true) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return std::string("socket: ") + std::strerror(errno);
        if (bind != nullptr && ::bind(fd, reinterpret_cast<const sockaddr*>(&bind->addr), sizeof bind->addr) != 0) {
          close(fd);
          return std::string("bind: ") + std::strerror(errno);
        }
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&p.addr), sizeof p.addr) == 0) break;
        int err = errno;
        close(fd);
        if (err != ECONNREFUSED || now_ns() > deadline_ns || g_stop)
          return "connect " + p.text + ": " + std::strerror(err);
        timespec ts{0, 10'000'000};
        nanosleep(&ts, nullptr);
      }
      set_nodelay_nonblock(fd);
      conns_.emplace_back().fd = fd;
    }
    return "";
  }

  void send(int peer, Channel channel, const std::uint8_t* data, std::size_t len) override {
    Conn& c = conns_[static_cast<std::size_t>(peer)];
    if (c.fd < 0) return;
    std::uint32_t word = static_cast<std::uint32_t>(len) | (channel == Channel::kBulk ? 0x80000000u : 0);
    auto* w = reinterpret_cast<const std::uint8_t*>(&word);
    c.out.insert(c.out.end(), w, w + 4);
    c.out.insert(c.out.end(), data, data + len);
  }

  void flush() override {
    for (auto& c : conns_) write_some(c);
  }

  bool can_send_bulk(int peer) const override {
    const Conn& c = conns_[static_cast<std::size_t>(peer)];
    return c.fd >= 0 && c.out.size() - c.out_off < opts_.bulk_queue_bytes;
  }

  int poll(std::int64_t timeout_ns, const OnMessage& on_message) override {
    fds_.clear();
    if (listen_fd_ >= 0) fds_.push_back({listen_fd_, POLLIN, 0});
    for (auto& c : conns_) {
      short ev = c.fd >= 0 ? POLLIN : 0;
      if (c.out.size() > c.out_off) ev |= POLLOUT;
      fds_.push_back({c.fd, ev, 0});
    }
    if (timeout_ns < 0) timeout_ns = 0;
    timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000), static_cast<long>(timeout_ns % 1'000'000'000)};
    if (ppoll(fds_.data(), fds_.size(), &ts, nullptr) <= 0) return 0;
    int delivered = 0;
    std::size_t base = listen_fd_ >= 0 ? 1 : 0;
    std::size_t n_conns = conns_.size();  // accept() below may add more; they are polled next time
    for (std::size_t i = 0; i < n_conns; ++i) {
      short re = fds_[base + i].revents;
      if (re & POLLOUT) write_some(conns_[i]);
      if (re & (POLLIN | POLLHUP | POLLERR)) delivered += read_some(static_cast<int>(i), on_message);
    }
    if (listen_fd_ >= 0 && (fds_[0].revents & POLLIN)) accept_all();
    return delivered;
  }

 private:
  void accept_all() {
    for (int i = 0; i < 64; ++i) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      set_nodelay_nonblock(fd);
      conns_.emplace_back().fd = fd;
    }
  }

  void write_some(Conn& c) {
    while (c.fd >= 0 && c.out.size() > c.out_off) {
      ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
        close_conn(c);
        return;
      }
      c.out_off += static_cast<std::size_t>(n);
    }
    if (c.out_off == c.out.size()) {
      c.out.clear();
      c.out_off = 0;
    } else if (c.out_off > kCompactBytes) {
      c.out.erase(c.out.begin(), c.out.begin() + static_cast<std::ptrdiff_t>(c.out_off));
      c.out_off = 0;
    }
  }

  int read_some(int peer, const OnMessage& on_message) {
    Conn& c = conns_[static_cast<std::size_t>(peer)];
    int delivered = 0;
    for (int round = 0; round < kReadsPerPoll && c.fd >= 0; ++round) {
      if (c.in.size() < c.in_len + kReadChunk) c.in.resize(c.in_len + kReadChunk);
      ssize_t n = ::recv(c.fd, c.in.data() + c.in_len, kReadChunk, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close_conn(c);
        break;
      }
      if (n < 0) break;
      c.in_len += static_cast<std::size_t>(n);
      delivered += parse(peer, c, on_message);
      if (static_cast<std::size_t>(n) < kReadChunk) break;
    }
    return delivered;
  }

  int parse(int peer, Conn& c, const OnMessage& on_message) {
    int delivered = 0;
    while (c.in_len - c.in_off >= 4) {
      std::uint32_t word;
      std::memcpy(&word, c.in.data() + c.in_off, 4);
      std::size_t len = word & 0x7fffffffu;
      if (c.in_len - c.in_off < 4 + len) break;
      Channel ch = (word & 0x80000000u) ? Channel::kBulk : Channel::kHigh;
      on_message({peer, ch, c.in.data() + c.in_off + 4, len});
      c.in_off += 4 + len;
      ++delivered;
    }
    if (c.in_off == c.in_len) {
      c.in_off = c.in_len = 0;
    } else if (c.in_off > kCompactBytes) {
      std::memmove(c.in.data(), c.in.data() + c.in_off, c.in_len - c.in_off);
      c.in_len -= c.in_off;
      c.in_off = 0;
    }
    return delivered;
  }

  void close_conn(Conn& c) {
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
    c.out.clear();
    c.out_off = 0;
  }

  TransportOptions opts_;
  int listen_fd_ = -1;
  std::vector<Conn> conns_;
  std::vector<pollfd> fds_;
};

}  // namespace

std::unique_ptr<Transport> make_tcp_transport(const TransportOptions& opts) {
  return std::make_unique<TcpTransport>(opts);
}

}  // namespace bench
