// systemd's service notification (sd_notify) for `hana-net node` under a Type=notify unit
// (packaging/hana-net@.service): READY=1 once the node runs and its control socket
// listens, WATCHDOG=1 at half the WatchdogSec interval, STOPPING=1 when it leaves. The
// protocol is one datagram per message to the AF_UNIX socket named by $NOTIFY_SOCKET, so it
// is spoken here directly and the build needs no libsystemd. Without $NOTIFY_SOCKET every
// call does nothing.
#pragma once

#include <cstdint>
#include <string>

namespace hana::cli {

class ServiceNotifier {
 public:
  ServiceNotifier();  // reads NOTIFY_SOCKET and WATCHDOG_USEC
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  void ready(const std::string& status);
  void stopping();
  // Call often (the daemon's loop turns every 100 ms): sends WATCHDOG=1 when due.
  void tick(std::uint64_t now_ms);

 private:
  void send(const std::string& message);
  int fd_ = -1;
  std::string path_;
  std::uint64_t watchdog_every_ms_ = 0;  // 0 = no watchdog
  std::uint64_t next_watchdog_ms_ = 0;
};

}  // namespace hana::cli
