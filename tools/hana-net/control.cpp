#include "control.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "control_clients.h"
#include "stats_json.h"

namespace hana::cli {

using nlohmann::json;

namespace {

// A reply holds the whole view: `stats --json` of a 100-member node is a few hundred KiB.
constexpr std::size_t kMaxReplyBytes = 64 << 20;
constexpr int kIoTimeoutMs = 2000;

bool make_address(const std::string& path, sockaddr_un& addr, std::string& error) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    error = "control socket path is empty or longer than " + std::to_string(sizeof addr.sun_path - 1) + " bytes";
    return false;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

// Reads up to a newline (or EOF), bounded in bytes and time.
bool read_line(int fd, std::string& out, std::size_t max_bytes) {
  char buf[16384];
  while (out.size() < max_bytes) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kIoTimeoutMs) <= 0) return false;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) return false;
    if (n == 0) return !out.empty();
    out.append(buf, static_cast<std::size_t>(n));
    if (std::memchr(buf, '\n', static_cast<std::size_t>(n))) return true;
  }
  return false;
}

bool write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

bool claim_control_path(const std::string& path, std::string& error) {
  sockaddr_un addr;
  if (!make_address(path, addr, error)) return false;
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return true;  // nothing there
  if (!S_ISSOCK(st.st_mode)) {
    error = "--control " + path + " exists and is not a socket: not replacing it";
    return false;
  }
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return error = std::string("socket: ") + std::strerror(errno), false;
  const bool live = ::connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(probe);
  if (live) {
    error = "--control " + path + " belongs to a running node: give this node another path";
    return false;
  }
  ::unlink(path.c_str());
  return true;
}

std::unique_ptr<ControlServer> ControlServer::start(Node& node, const std::string& path, std::string& error) {
  sockaddr_un addr;
  if (!make_address(path, addr, error)) return nullptr;
  if (!claim_control_path(path, error)) return nullptr;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);  // ControlClients accepts until EAGAIN
  if (fd < 0) return error = std::string("socket: ") + std::strerror(errno), nullptr;
  struct stat st {};
  // bind() fails with EADDRINUSE if another node created the path since claim_path().
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0 ||
      ::lstat(path.c_str(), &st) != 0) {
    error = "cannot listen on " + path + ": " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<ControlServer>(new ControlServer(node, fd, path, st.st_dev, st.st_ino));
}

ControlServer::ControlServer(Node& node, int fd, std::string path, dev_t dev, ino_t ino)
    : node_(node), fd_(fd), path_(std::move(path)), dev_(dev), ino_(ino), thread_([this] { serve(); }) {}

ControlServer::~ControlServer() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
  // Only our own socket file: if it was removed and another node now listens there, that
  // node's socket stays.
  struct stat st;
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) ::unlink(path_.c_str());
}

void ControlServer::serve() {
  ControlClients clients([this](const std::string& line, bool complete) {
    json reply;
    if (!complete) {
      reply = {{"ok", false}, {"error", "no request line"}};
    } else {
      const json request = json::parse(line, nullptr, /*allow_exceptions=*/false);
      reply = request.is_object() ? handle(request) : json{{"ok", false}, {"error", "request is not a JSON object"}};
    }
    return reply.dump() + "\n";
  });
  while (!stop_) clients.turn(fd_, 100);  // wakes every 100 ms to notice stop_
}

json ControlServer::handle(const json& request) {
  const std::string cmd = request.value("cmd", "");
  if (cmd == "peers") return {{"ok", true}, {"result", peers_json(node_.stats())}};
  if (cmd == "stats") return {{"ok", true}, {"result", stats_json(node_.stats())}};
  if (cmd == "links") return {{"ok", true}, {"result", links_json(node_.stats())}};
  if (cmd == "knobs") {  // every knob's current value; `hana-net knobs` adds the table's columns
    json values = json::object();
    for (const KnobInfo& k : Config::knobs())
      if (auto v = node_.get(k.name)) values[k.name] = *v;
    return {{"ok", true}, {"result", values}};
  }
  const std::string knob = request.value("knob", "");
  if (cmd == "get") {
    auto v = node_.get(knob);
    if (!v.ok()) return {{"ok", false}, {"error", describe_knob_error(knob, "", v.error())}};
    return {{"ok", true}, {"result", {{"knob", knob}, {"value", *v}}}};
  }
  if (cmd == "set") {
    const std::string value = request.value("value", "");
    auto r = node_.set(knob, value);
    if (!r.ok()) return {{"ok", false}, {"error", describe_knob_error(knob, value, r.error())}};
    return {{"ok", true}, {"result", {{"knob", knob}, {"value", *node_.get(knob)}}}};
  }
  return {{"ok", false}, {"error", "unknown command '" + cmd + "' (peers, stats, links, knobs, get, set)"}};
}

std::optional<json> control_request(const std::string& path, const json& request, std::string& error) {
  sockaddr_un addr;
  if (!make_address(path, addr, error)) return std::nullopt;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return error = std::string("socket: ") + std::strerror(errno), std::nullopt;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error = "cannot reach the node at " + path + ": " + std::strerror(errno);
    ::close(fd);
    return std::nullopt;
  }
  std::string line;
  const bool ok = write_all(fd, request.dump() + "\n") && read_line(fd, line, kMaxReplyBytes);
  ::close(fd);
  if (!ok) return error = "no reply from the node at " + path, std::nullopt;
  json reply = json::parse(line, nullptr, false);
  if (!reply.is_object()) return error = "malformed reply from the node", std::nullopt;
  return reply;
}

}  // namespace hana::cli
