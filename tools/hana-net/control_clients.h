// The control socket's clients, served concurrently from one thread: every client is a
// non-blocking socket with its own deadline, and at most kMaxControlClients are held at
// once, so idle or slow clients cannot keep `hana-net peers` from anyone else.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace hana::cli {

// Clients held at once; a new one beyond it displaces the client that has waited longest
// without sending its request (an idle client cannot lock the socket up).
inline constexpr std::size_t kMaxControlClients = 64;
// A client must send its request line and take the whole reply within this time.
inline constexpr int kControlClientDeadlineMs = 2000;
inline constexpr std::size_t kMaxControlRequestBytes = 4096;

class ControlClients {
 public:
  // Turns one request line into the reply line (newline included).
  using Handler = std::function<std::string(const std::string& line, bool complete)>;
  explicit ControlClients(Handler handler) : handler_(std::move(handler)) {}
  ~ControlClients();
  ControlClients(const ControlClients&) = delete;
  ControlClients& operator=(const ControlClients&) = delete;

  // Waits up to `wait_ms` for the listening socket and the clients, then accepts, reads,
  // answers, writes and expires what is ready.
  void turn(int listen_fd, int wait_ms);
  std::size_t size() const { return clients_.size(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Client {
    int fd = -1;
    Clock::time_point deadline;
    std::string in;
    std::string out;  // the reply, once the request is read
    std::size_t written = 0;
    bool answered = false;
  };
  void accept_all(int listen_fd, Clock::time_point now);
  bool read_request(Client& c);  // false: the client is done (closed or failed)
  bool write_reply(Client& c);   // false: the client is done (all written or failed)
  void answer(Client& c, bool complete);
  void close_client(std::size_t i);

  Handler handler_;
  std::vector<Client> clients_;
};

}  // namespace hana::cli
