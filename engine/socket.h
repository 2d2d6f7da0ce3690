// UDP socket setup and sockaddr <-> hana::Address conversion.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string_view>

#include "hana/address.h"
#include "hana/result.h"

namespace hana::engine {

struct SocketOptions {
  Address bind;                        // port 0 = kernel picks
  std::uint32_t rcvbuf_bytes = 0;      // 0 = system default
  std::uint32_t sndbuf_bytes = 0;
  bool recverr = false;                // IP_RECVERR / IPV6_RECVERR
  bool rx_timestamps = true;           // SO_TIMESTAMPNS (engine/rx_timestamp.h)
};

enum class BeaconKind : std::uint8_t { Unicast, Multicast, Broadcast };
// IPv4 224.0.0.0/4 and IPv6 ff00::/8 are multicast; 255.255.255.255 or a local
// interface's broadcast address is broadcast; anything else is unicast.
BeaconKind beacon_kind(const Address& target);

// The discovery a node runs, settled at Node::create from NodeOptions.
struct DiscoveryPlan {
  Address target;               // group or broadcast address; link-scope IPv6 groups carry ifindex as scope
  BeaconKind kind = BeaconKind::Multicast;
  std::uint32_t ifindex = 0;    // interface for the group; 0 = the kernel's choice
};
// Checks a beacon target and interface against the bind address; InvalidArgument with the
// reason for combinations that cannot work (wrong family, not a group, port 0, unknown
// interface, a link-local IPv6 group without an interface, ...).
Result<DiscoveryPlan> plan_discovery(const Address& bind, Address target, std::string_view interface);

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
  // Asks for coalesced receives (UDP_GRO: one read carries many equal-size segments of
  // one sender, the segment size in a cmsg). False when the kernel refuses.
  bool enable_gro() const;

  // Discovery: prepares `sender` (the node's main socket) to send beacons to `plan.target`
  // (multicast: loop on, TTL/hops 1, out of plan.ifindex when set; broadcast: SO_BROADCAST)
  // and opens the receive-only socket for them, bound to the wildcard address on the
  // target's port with SO_REUSEADDR+SO_REUSEPORT so several nodes on one host share the
  // port (multicast also joins the group on plan.ifindex, 0 = the kernel's choice).
  // Errors name the failing step.
  static Result<UdpSocket> open_beacon_receiver(const UdpSocket& sender, const DiscoveryPlan& plan);

 private:
  int fd_ = -1;
  Address local_;
};

// Writes `addr` into `out`; returns the sockaddr length.
socklen_t to_sockaddr(const Address& addr, sockaddr_storage& out);
// Converts a received sockaddr; a family other than AF_INET/AF_INET6 gives family 0.
Address from_sockaddr(const sockaddr* sa, socklen_t len);

}  // namespace hana::engine
