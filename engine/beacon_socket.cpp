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

namespace hana::engine {

BeaconKind beacon_kind(const Address& target) {
  if (target.family != 4) return BeaconKind::Unicast;
  if ((target.ip[0] & 0xF0) == 0xE0) return BeaconKind::Multicast;
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

Result<UdpSocket> UdpSocket::open_beacon_receiver(const UdpSocket& sender, const Address& target,
                                                  const Address& interface) {
  const BeaconKind kind = beacon_kind(target);
  if (kind == BeaconKind::Unicast) return Error{Errc::InvalidArgument, "beacon target is neither IPv4 multicast nor broadcast"};
  if (sender.local_address().family != 4)
    return Error{Errc::InvalidArgument, "multicast/broadcast discovery needs an IPv4 bind address"};
  const int one = 1;
  if (kind == BeaconKind::Multicast) {
    const unsigned char loop = 1, ttl = 1;  // other nodes on this host hear us; never routed off the subnet
    if (::setsockopt(sender.fd(), IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) != 0 ||
        ::setsockopt(sender.fd(), IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0)
      return Error{Errc::Unavailable, "setsockopt(IP_MULTICAST_LOOP/TTL) on the main socket failed"};
  } else if (::setsockopt(sender.fd(), SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0) {
    return Error{Errc::Unavailable, "setsockopt(SO_BROADCAST) on the main socket failed"};
  }
  UdpSocket sock;
  sock.fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
  if (sock.fd_ < 0) return Error{Errc::Unavailable, "socket() for the discovery socket failed"};
  if (::setsockopt(sock.fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::setsockopt(sock.fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    return Error{Errc::Unavailable, "setsockopt(SO_REUSEADDR/SO_REUSEPORT) on the discovery socket failed"};
  const Address any = Address::ipv4(0, 0, 0, 0, target.port);
  sockaddr_storage ss{};
  socklen_t len = to_sockaddr(any, ss);
  if (::bind(sock.fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return Error{Errc::Unavailable, "bind of the discovery socket to INADDR_ANY:port failed"};
  if (kind == BeaconKind::Multicast) {
    ip_mreq mreq{};
    std::memcpy(&mreq.imr_multiaddr, target.ip.data(), 4);
    if (interface.family == 4)
      std::memcpy(&mreq.imr_interface, interface.ip.data(), 4);
    else
      mreq.imr_interface.s_addr = htonl(INADDR_ANY);
    if (::setsockopt(sock.fd_, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0)
      return Error{Errc::Unavailable, errno == ENODEV ? "IP_ADD_MEMBERSHIP failed: no multicast route/interface"
                                                      : "IP_ADD_MEMBERSHIP failed"};
  }
  sock.local_ = any;
  return sock;
}

}  // namespace hana::engine
