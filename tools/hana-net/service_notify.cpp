#include "service_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace hana::cli {

ServiceNotifier::ServiceNotifier() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path || std::strlen(path) >= sizeof(sockaddr_un::sun_path)) return;
  if (path[0] != '/' && path[0] != '@') return;  // a path or an abstract socket name
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  path_ = path;
  if (const char* usec = std::getenv("WATCHDOG_USEC")) {
    const std::uint64_t us = std::strtoull(usec, nullptr, 10);
    watchdog_every_ms_ = us / 2000;  // half the interval, as sd_watchdog_enabled() advises
    if (us > 0 && watchdog_every_ms_ == 0) watchdog_every_ms_ = 1;
  }
}

ServiceNotifier::~ServiceNotifier() {
  if (fd_ >= 0) ::close(fd_);
}

void ServiceNotifier::send(const std::string& message) {
  if (fd_ < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  if (path_[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size());
  (void)::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
}

void ServiceNotifier::ready(const std::string& status) { send("READY=1\nSTATUS=" + status); }
void ServiceNotifier::stopping() { send("STOPPING=1"); }

void ServiceNotifier::tick(std::uint64_t now_ms) {
  if (watchdog_every_ms_ == 0 || now_ms < next_watchdog_ms_) return;
  send("WATCHDOG=1");
  next_watchdog_ms_ = now_ms + watchdog_every_ms_;
}

}  // namespace hana::cli
