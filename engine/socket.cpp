#include "engine/socket.h"

#include <netinet/udp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace hana::engine {

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    local_ = other.local_;
    other.fd_ = -1;
  }
  return *this;
}

socklen_t to_sockaddr(const Address& addr, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (addr.family == 6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&out);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(addr.port);
    std::memcpy(&sa->sin6_addr, addr.ip.data(), 16);
    sa->sin6_scope_id = addr.scope_id;
    return sizeof(sockaddr_in6);
  }
  auto* sa = reinterpret_cast<sockaddr_in*>(&out);
  sa->sin_family = AF_INET;
  sa->sin_port = htons(addr.port);
  std::memcpy(&sa->sin_addr, addr.ip.data(), 4);
  return sizeof(sockaddr_in);
}

Address from_sockaddr(const sockaddr* sa, socklen_t len) {
  Address addr;
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    addr.family = 4;
    addr.port = ntohs(in->sin_port);
    std::memcpy(addr.ip.data(), &in->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    addr.family = 6;
    addr.port = ntohs(in6->sin6_port);
    std::memcpy(addr.ip.data(), &in6->sin6_addr, 16);
    // The kernel sets a scope only where one is needed (link-local); keep it exactly so.
    addr.scope_id = addr.needs_scope() ? in6->sin6_scope_id : 0;
  } else {
    addr.family = 0;
  }
  return addr;
}

Result<UdpSocket> UdpSocket::open(const SocketOptions& options) {
  if (options.bind.family != 4 && options.bind.family != 6)
    return Error{Errc::InvalidArgument, "bind address family must be IPv4 or IPv6"};
  const int domain = options.bind.family == 6 ? AF_INET6 : AF_INET;
  UdpSocket sock;
  // Blocking on purpose: io_uring answers -EAGAIN on O_NONBLOCK sockets instead of
  // arming its poll; the epoll backend passes MSG_DONTWAIT on every call instead.
  sock.fd_ = ::socket(domain, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
  if (sock.fd_ < 0) return Error{Errc::Unavailable, "socket(AF_INET*, SOCK_DGRAM) failed"};
  // Buffer sizes are best effort: the kernel silently caps them at rmem_max/wmem_max.
  if (options.rcvbuf_bytes) {
    int v = static_cast<int>(options.rcvbuf_bytes);
    (void)::setsockopt(sock.fd_, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
  }
  if (options.sndbuf_bytes) {
    int v = static_cast<int>(options.sndbuf_bytes);
    (void)::setsockopt(sock.fd_, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
  }
  if (options.rx_timestamps) {
    int on = 1;
    (void)::setsockopt(sock.fd_, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);  // best effort
  }
  {
    // Don't fragment, and ignore the kernel's path-MTU cache: a datagram larger than the
    // interface carries fails at once (EMSGSIZE, counted as send_too_large) instead of
    // leaving as IP fragments, so path-MTU probes (protocol/pmtu_prober.h) learn what the
    // path carries and no datagram depends on every fragment arriving.
    const bool v6 = domain == AF_INET6;
    const int probe = v6 ? IPV6_PMTUDISC_PROBE : IP_PMTUDISC_PROBE;
    (void)::setsockopt(sock.fd_, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_MTU_DISCOVER : IP_MTU_DISCOVER, &probe,
                       sizeof probe);
  }
  if (options.recverr) {
    int on = 1;
    if (domain == AF_INET6)
      (void)::setsockopt(sock.fd_, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
    else
      (void)::setsockopt(sock.fd_, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
  }
  sockaddr_storage ss{};
  socklen_t len = to_sockaddr(options.bind, ss);
  if (::bind(sock.fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return Error{Errc::Unavailable,
                 errno == EADDRINUSE      ? "bind failed: address in use"
                 : errno == EADDRNOTAVAIL ? "bind failed: no interface has that address (or IPv6 DAD is not done)"
                                          : "bind failed"};
  len = sizeof ss;
  if (::getsockname(sock.fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return Error{Errc::Internal, "getsockname failed"};
  sock.local_ = from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  return sock;
}

bool UdpSocket::enable_gro() const {
  const int one = 1;
  return ::setsockopt(fd_, IPPROTO_UDP, UDP_GRO, &one, sizeof one) == 0;
}

bool UdpSocket::gso_supported() const {
  int value = 0;
  socklen_t len = sizeof value;
  return ::getsockopt(fd_, IPPROTO_UDP, UDP_SEGMENT, &value, &len) == 0;
}

}  // namespace hana::engine
