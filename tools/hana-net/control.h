// The node daemon's control socket (a Unix stream socket). One request per connection:
// a JSON line {"cmd": "peers"|"stats"|"links"|"get"|"set", "knob": ..., "value": ...}; one JSON
// line back: {"ok": true, "result": ...} or {"ok": false, "error": "..."}.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "hana/node.h"

namespace hana::cli {

class ControlServer {
 public:
  // Listens on `path` (an existing socket file is replaced). nullptr + message on failure.
  static std::unique_ptr<ControlServer> start(Node& node, const std::string& path, std::string& error);
  ~ControlServer();

 private:
  ControlServer(Node& node, int fd, std::string path);
  void serve();
  nlohmann::json handle(const nlohmann::json& request);

  Node& node_;
  int fd_;
  std::string path_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Sends one request and returns the reply; nullopt (and `error`) if the node is unreachable.
std::optional<nlohmann::json> control_request(const std::string& path, const nlohmann::json& request,
                                              std::string& error);

}  // namespace hana::cli
