#include "control_clients.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hana::cli {

ControlClients::~ControlClients() {
  for (Client& c : clients_) ::close(c.fd);
}

void ControlClients::close_client(std::size_t i) {
  ::close(clients_[i].fd);
  clients_[i] = std::move(clients_.back());
  clients_.pop_back();
}

void ControlClients::accept_all(int listen_fd, Clock::time_point now) {
  for (std::size_t n = 0; n < 4 * kMaxControlClients; ++n) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    if (clients_.size() >= kMaxControlClients) {
      // Full: the client that has waited longest for its request line goes (one being
      // answered keeps its place: it already sent a request).
      std::size_t oldest = clients_.size();
      for (std::size_t i = 0; i < clients_.size(); ++i)
        if (!clients_[i].answered && (oldest == clients_.size() || clients_[i].deadline < clients_[oldest].deadline))
          oldest = i;
      if (oldest == clients_.size()) {
        ::close(fd);
        continue;
      }
      close_client(oldest);
    }
    clients_.push_back(Client{fd, now + std::chrono::milliseconds(kControlClientDeadlineMs), {}, {}, 0, false});
  }
}

void ControlClients::answer(Client& c, bool complete) {
  const std::size_t eol = c.in.find('\n');
  c.out = handler_(eol == std::string::npos ? c.in : c.in.substr(0, eol), complete);
  c.answered = true;
  c.written = 0;
}

bool ControlClients::read_request(Client& c) {
  char buf[4096];
  const ssize_t n = ::read(c.fd, buf, sizeof buf);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  if (n == 0) {  // the client finished writing without a newline: answer what it sent
    answer(c, !c.in.empty());
    return true;
  }
  c.in.append(buf, static_cast<std::size_t>(n));
  if (c.in.find('\n') != std::string::npos) answer(c, true);
  else if (c.in.size() >= kMaxControlRequestBytes) answer(c, false);
  return true;
}

bool ControlClients::write_reply(Client& c) {
  while (c.written < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    c.written += static_cast<std::size_t>(n);
  }
  return false;
}

void ControlClients::turn(int listen_fd, int wait_ms) {
  std::vector<pollfd> fds;
  fds.reserve(clients_.size() + 1);
  fds.push_back(pollfd{listen_fd, POLLIN, 0});
  for (const Client& c : clients_) fds.push_back(pollfd{c.fd, static_cast<short>(c.answered ? POLLOUT : POLLIN), 0});
  const auto now0 = Clock::now();
  for (const Client& c : clients_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now0).count();
    wait_ms = static_cast<int>(std::clamp<long long>(left, 0, wait_ms));
  }
  if (::poll(fds.data(), fds.size(), wait_ms) < 0 && errno != EINTR) return;
  const auto now = Clock::now();
  // Clients first (by index, before accept_all moves them), from the back so that
  // close_client's swap only moves clients already handled.
  for (std::size_t k = fds.size() - 1; k >= 1; --k) {
    const std::size_t i = k - 1;
    Client& c = clients_[i];
    bool keep = true;
    if (fds[k].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (!c.answered) keep = read_request(c);
    }
    if (keep && c.answered) keep = write_reply(c);
    if (keep && now >= c.deadline) keep = false;  // too slow to ask or to read the reply
    if (!keep) close_client(i);
  }
  if (fds[0].revents & POLLIN) accept_all(listen_fd, now);
}

}  // namespace hana::cli
