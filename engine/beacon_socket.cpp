// The discovery socket: where multicast or broadcast BEACON datagrams are received.
// The main socket keeps sending them (so a beacon's source is the node's own address).
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/socket.h"
#include "hana/interface.h"

#ifndef IP_MULTICAST_ALL
#define IP_MULTICAST_ALL 49
#endif
#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL 29
#endif

namespace hana::engine {

BeaconKind beacon_kind(const Address& target) {
  if (target.family != 4 && target.family != 6) return BeaconKind::Unicast;
  if (target.is_multicast()) return BeaconKind::Multicast;
  if (target.family != 4) return BeaconKind::Unicast;  // IPv6 has no broadcast
  if (target.ip[0] == 255 && target.ip[1] == 255 && target.ip[2] == 255 && target.ip[3] == 255)
    return BeaconKind::Broadcast;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return BeaconKind::Unicast;
  BeaconKind kind = BeaconKind::Unicast;
  for (const ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_BROADCAST) ||
        !i->ifa_broadaddr)
      continue;
    const auto* b = reinterpret_cast<const sockaddr_in*>(i->ifa_broadaddr);
    if (std::memcmp(&b->sin_addr, target.ip.data(), 4) == 0) {
      kind = BeaconKind::Broadcast;
      break;
    }
  }
  ::freeifaddrs(list);
  return kind;
}

Result<DiscoveryPlan> plan_discovery(const Address& bind, Address target, std::string_view interface) {
  if (target.family != 4 && target.family != 6)
    return Error{Errc::InvalidArgument, "beacon_target must be an IPv4 or IPv6 address"};
  if (target.port == 0) return Error{Errc::InvalidArgument, "beacon_target needs a port (the group's port, not 0)"};
  DiscoveryPlan plan;
  plan.kind = beacon_kind(target);
  if (plan.kind == BeaconKind::Unicast)
    return Error{Errc::InvalidArgument,
                 "beacon_target must be a multicast group (224.0.0.0/4 or ff00::/8) or an IPv4 broadcast address"};
  // Beacons leave from the node's own socket (their source is the address they announce),
  // so the group must be reachable from the bound family.
  if (target.family != bind.family)
    return Error{Errc::InvalidArgument,
                 target.family == 6 ? "an IPv6 beacon_target needs an IPv6 bind address (e.g. [::]:0)"
                                    : "an IPv4 beacon_target needs an IPv4 bind address (e.g. 0.0.0.0:0)"};
  if (plan.kind == BeaconKind::Broadcast && !interface.empty())
    return Error{Errc::InvalidArgument,
                 "beacon_interface applies to multicast groups only (a broadcast address already names its subnet)"};
  if (!interface.empty()) {
    auto index = interface_index(interface);
    if (!index) return Error{Errc::InvalidArgument, "beacon_interface: no network interface has that name, index or address"};
    plan.ifindex = *index;
  }
  if (target.family == 6) {
    // A socket bound to a link-local address can only use that link.
    if (bind.scope_id != 0) {
      if (plan.ifindex != 0 && plan.ifindex != bind.scope_id)
        return Error{Errc::InvalidArgument, "beacon_interface is not the interface of the link-local bind address"};
      plan.ifindex = bind.scope_id;
    }
    if (target.scope_id != 0 && target.needs_scope()) {
      if (plan.ifindex != 0 && plan.ifindex != target.scope_id)
        return Error{Errc::InvalidArgument, "beacon_target's %scope and beacon_interface name different interfaces"};
      plan.ifindex = target.scope_id;
    }
    if (target.needs_scope() && plan.ifindex == 0)
      return Error{Errc::InvalidArgument,
                   "a link-local IPv6 group (ff02::/16) exists once per link: set beacon_interface"};
    target.scope_id = target.needs_scope() ? plan.ifindex : 0;
  }
  plan.target = target;
  return plan;
}

namespace {

// Sending side, on the node's main socket.
Result<void> prepare_sender(const UdpSocket& sender, const DiscoveryPlan& plan) {
  const int fd = sender.fd();
  if (plan.kind == BeaconKind::Broadcast) {
    const int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0)
      return Error{Errc::Unavailable, "setsockopt(SO_BROADCAST) on the main socket failed"};
    return {};
  }
  // Other nodes on this host hear us (loop); never routed off the subnet (TTL/hops 1).
  if (plan.target.family == 6) {
    const int loop = 1, hops = 1, ifindex = static_cast<int>(plan.ifindex);
    if (::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof loop) != 0 ||
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) != 0)
      return Error{Errc::Unavailable, "setsockopt(IPV6_MULTICAST_LOOP/HOPS) on the main socket failed"};
    if (ifindex != 0 && ::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex) != 0)
      return Error{Errc::Unavailable, "setsockopt(IPV6_MULTICAST_IF) on the main socket failed"};
    return {};
  }
  const unsigned char loop = 1, ttl = 1;
  if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) != 0 ||
      ::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0)
    return Error{Errc::Unavailable, "setsockopt(IP_MULTICAST_LOOP/TTL) on the main socket failed"};
  if (plan.ifindex != 0) {
    ip_mreqn out{};
    out.imr_ifindex = static_cast<int>(plan.ifindex);
    if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &out, sizeof out) != 0)
      return Error{Errc::Unavailable, "setsockopt(IP_MULTICAST_IF) on the main socket failed"};
  }
  return {};
}

Result<void> join_group(int fd, const DiscoveryPlan& plan) {
  // Only the groups this socket joined, not every group joined on the host (best effort:
  // older kernels lack the IPv6 option).
  const int zero = 0;
  if (plan.target.family == 6) {
    (void)::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &zero, sizeof zero);
    ipv6_mreq mreq{};
    std::memcpy(&mreq.ipv6mr_multiaddr, plan.target.ip.data(), 16);
    mreq.ipv6mr_interface = plan.ifindex;
    if (::setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof mreq) != 0)
      return Error{Errc::Unavailable, errno == ENODEV ? "IPV6_JOIN_GROUP failed: no multicast route/interface"
                                                      : "IPV6_JOIN_GROUP failed"};
    return {};
  }
  (void)::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
  ip_mreqn mreq{};
  std::memcpy(&mreq.imr_multiaddr, plan.target.ip.data(), 4);
  mreq.imr_address.s_addr = htonl(INADDR_ANY);
  mreq.imr_ifindex = static_cast<int>(plan.ifindex);
  if (::setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0)
    return Error{Errc::Unavailable, errno == ENODEV ? "IP_ADD_MEMBERSHIP failed: no multicast route/interface"
                                                    : "IP_ADD_MEMBERSHIP failed"};
  return {};
}

}  // namespace

Result<UdpSocket> UdpSocket::open_beacon_receiver(const UdpSocket& sender, const DiscoveryPlan& plan) {
  if (plan.kind == BeaconKind::Unicast)
    return Error{Errc::InvalidArgument, "beacon target is neither multicast nor broadcast"};
  if (sender.local_address().family != plan.target.family)
    return Error{Errc::InvalidArgument, "beacon target and bind address are of different IP families"};
  if (auto r = prepare_sender(sender, plan); !r) return r.error();
  const bool v6 = plan.target.family == 6;
  UdpSocket sock;
  sock.fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
  if (sock.fd_ < 0) return Error{Errc::Unavailable, "socket() for the discovery socket failed"};
  const int one = 1;
  if (::setsockopt(sock.fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::setsockopt(sock.fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    return Error{Errc::Unavailable, "setsockopt(SO_REUSEADDR/SO_REUSEPORT) on the discovery socket failed"};
  if (v6 && ::setsockopt(sock.fd_, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
    return Error{Errc::Unavailable, "setsockopt(IPV6_V6ONLY) on the discovery socket failed"};
  Address any;
  any.family = plan.target.family;
  any.port = plan.target.port;
  sockaddr_storage ss{};
  socklen_t len = to_sockaddr(any, ss);
  if (::bind(sock.fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return Error{Errc::Unavailable, "bind of the discovery socket to the wildcard address and group port failed"};
  if (plan.kind == BeaconKind::Multicast)
    if (auto r = join_group(sock.fd_, plan); !r) return r.error();
  sock.local_ = any;
  return sock;
}

}  // namespace hana::engine
