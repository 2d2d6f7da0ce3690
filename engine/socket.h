// UDP socket setup and sockaddr <-> hana::Address conversion.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

#include "hana/address.h"
#include "hana/result.h"

namespace hana::engine {

struct SocketOptions {
  Address bind;                        // port 0 = kernel picks
  std::uint32_t rcvbuf_bytes = 0;      // 0 = system default
  std::uint32_t sndbuf_bytes = 0;
  bool recverr = false;                // IP_RECVERR / IPV6_RECVERR
};

// An owned UDP socket (blocking mode; callers use MSG_DONTWAIT or io_uring).
class UdpSocket {
 public:
  UdpSocket() = default;
  ~UdpSocket();
  UdpSocket(UdpSocket&& other) noexcept : fd_(other.fd_), local_(other.local_) { other.fd_ = -1; }
  UdpSocket& operator=(UdpSocket&& other) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  static Result<UdpSocket> open(const SocketOptions& options);

  int fd() const { return fd_; }
  const Address& local_address() const { return local_; }  // with the bound port
  // Whether the kernel accepts UDP_SEGMENT (GSO) on this socket.
  bool gso_supported() const;

  // Discovery: prepares `sender` (the node's main socket) to send beacons to `target`
  // (multicast: loop on, TTL 1; broadcast: SO_BROADCAST) and opens the receive-only
  // socket for them, bound to INADDR_ANY:target.port with SO_REUSEADDR+SO_REUSEPORT so
  // several nodes on one host share the port (multicast also joins the group on
  // `interface`, INADDR_ANY = the kernel's choice). Errors name the failing step.
  static Result<UdpSocket> open_beacon_receiver(const UdpSocket& sender, const Address& target,
                                                const Address& interface);

 private:
  int fd_ = -1;
  Address local_;
};

enum class BeaconKind : std::uint8_t { Unicast, Multicast, Broadcast };
// IPv4 224.0.0.0/4 is multicast; 255.255.255.255 or a local interface's broadcast
// address is broadcast; anything else (including IPv6) is treated as unicast.
BeaconKind beacon_kind(const Address& target);

// Writes `addr` into `out`; returns the sockaddr length.
socklen_t to_sockaddr(const Address& addr, sockaddr_storage& out);
// Converts a received sockaddr; a family other than AF_INET/AF_INET6 gives family 0.
Address from_sockaddr(const sockaddr* sa, socklen_t len);

}  // namespace hana::engine
