// The node daemon's control socket (a Unix stream socket), clients served concurrently
// (control_clients.h). One request per connection:
// a JSON line {"cmd": "peers"|"stats"|"links"|"knobs"|"get"|"set", "knob": ..., "value": ...}; one JSON
// line back: {"ok": true, "result": ...} or {"ok": false, "error": "..."}.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include "hana/node.h"

namespace hana::cli {

// Makes `path` free for a new control socket. A socket a live node answers on is never
// taken over (that node would silently lose its control socket); a socket nobody answers
// on is a crashed node's leftover and is removed; any other kind of file is left alone.
// `hana-net node` calls it before joining the mesh, so a refused path costs the mesh nothing.
bool claim_control_path(const std::string& path, std::string& error);

class ControlServer {
 public:
  // Listens on `path`. A leftover socket nobody answers on is replaced; one a live node
  // answers on, or a file that is not a socket, is refused. nullptr + message on failure.
  static std::unique_ptr<ControlServer> start(Node& node, const std::string& path, std::string& error);
  ~ControlServer();

 private:
  ControlServer(Node& node, int fd, std::string path, dev_t dev, ino_t ino);
  void serve();
  nlohmann::json handle(const nlohmann::json& request);

  Node& node_;
  int fd_;
  std::string path_;
  dev_t dev_;  // identity of the socket file we created: the only one we remove
  ino_t ino_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Sends one request and returns the reply; nullopt (and `error`) if the node is unreachable.
std::optional<nlohmann::json> control_request(const std::string& path, const nlohmann::json& request,
                                              std::string& error);

}  // namespace hana::cli
