#include "engine/tcp_socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "engine/socket.h"

namespace hana::engine {
namespace {

constexpr int kListenBacklog = 128;

bool is_wildcard(const Address& a) {
  for (std::uint8_t b : a.ip)
    if (b != 0) return false;
  return true;
}

}  // namespace

TcpListener::~TcpListener() {
  if (fd_ >= 0) ::close(fd_);
}

TcpListener& TcpListener::operator=(TcpListener&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

Result<TcpListener> TcpListener::open(const Address& bind) {
  if (bind.family != 4 && bind.family != 6) return Error{Errc::InvalidArgument, "TCP listen address must be IPv4 or IPv6"};
  TcpListener l;
  l.fd_ = ::socket(bind.family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (l.fd_ < 0) return Error{Errc::Unavailable, "socket(SOCK_STREAM) failed"};
  const int on = 1;
  (void)::setsockopt(l.fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (bind.family == 6) (void)::setsockopt(l.fd_, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);  // as the UDP socket
  sockaddr_storage ss{};
  const socklen_t len = to_sockaddr(bind, ss);
  if (::bind(l.fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return Error{Errc::Unavailable, errno == EADDRINUSE ? "TCP bind failed: the UDP socket's port is taken for TCP"
                                                        : "TCP bind failed"};
  if (::listen(l.fd_, kListenBacklog) != 0) return Error{Errc::Unavailable, "listen failed"};
  return l;
}

int open_tcp_stream_socket(const Address& local, bool nonblocking) {
  const int fd = ::socket(local.family == 6 ? AF_INET6 : AF_INET,
                          SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), IPPROTO_TCP);
  if (fd < 0) return -1;
  if (!is_wildcard(local)) {
    Address source = local;
    source.port = 0;
    sockaddr_storage ss{};
    const socklen_t len = to_sockaddr(source, ss);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      ::close(fd);
      return -1;
    }
  }
  tune_tcp_stream(fd);
  return fd;
}

void tune_tcp_stream(int fd) {
  const int on = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

Address tcp_peer_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return Address{};
  return from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

}  // namespace hana::engine
