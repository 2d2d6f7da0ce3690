#include <csignal>
#include <cstdio>

#include "commands.h"
#include "hana/interface.h"

namespace hana::cli {
namespace {
volatile std::sig_atomic_t g_interrupted = 0;
void on_signal(int) { g_interrupted = 1; }
}  // namespace

void install_signal_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}
bool interrupted() { return g_interrupted != 0; }

Address parse_address_or_throw(const std::string& text, const char* what) {
  auto a = parse_address(text);  // also "[fe80::1%eth0]:7000"
  if (!a)
    throw UsageError{std::string(what) + ": '" + text +
                     "' is not ADDR:PORT (e.g. 127.0.0.1:7000, [::1]:7000 or [fe80::1%eth0]:7000)"};
  return *a;
}

Lane parse_lane_or_throw(const std::string& text) {
  for (std::size_t i = 0; i < kLaneCount; ++i) {
    const auto lane = static_cast<Lane>(i);
    if (text == to_string(lane) || text == std::to_string(i)) return lane;
  }
  throw UsageError{"--lane: '" + text + "' is not one of control, high, normal, bulk (or 0-3)"};
}

Delivery parse_delivery_or_throw(const std::string& text) {
  for (std::size_t i = 0; i < kDeliveryCount; ++i) {
    const auto d = static_cast<Delivery>(i);
    if (text == to_string(d)) return d;
  }
  throw UsageError{"--delivery: '" + text +
                   "' is not one of reliable-ordered, reliable-unordered, unreliable-sequenced, unreliable"};
}

IoBackend parse_backend_or_throw(const std::string& text) {
  if (text == "uring") return IoBackend::Uring;
  if (text == "epoll") return IoBackend::Epoll;
  if (text == "auto") return IoBackend::Auto;
  throw UsageError{"--backend: '" + text + "' is not one of uring, epoll, auto"};
}

Threading parse_threading_or_throw(const std::string& text, bool inline_flag) {
  if (inline_flag || text == "inline") return Threading::Inline;
  if (text == "shared") return Threading::Shared;
  if (text == "dedicated") return Threading::Dedicated;
  throw UsageError{"--threading: '" + text + "' is not one of shared, dedicated, inline"};
}

void add_knob_option(CLI::App* cmd, std::vector<std::string>& knobs) {
  cmd->add_option("--knob", knobs, "Set a knob, NAME=VALUE (repeatable; `hana-net knobs` lists them)");
}

void apply_knobs_or_throw(Config& config, const std::vector<std::string>& knobs) {
  if (std::string error = apply_knob_assignments(config, knobs); !error.empty()) throw UsageError{error};
}

std::unique_ptr<Node> start_node(const Config& config, NodeOptions options) {
  auto node = Node::create(config, std::move(options));
  if (!node) {
    // Options that cannot work (e.g. a --multicast address that is not a group) are usage errors.
    if (node.error().code == Errc::InvalidArgument) throw UsageError{node.error().message};
    std::fprintf(stderr, "hana-net: %s\n", node.error().message);
    return nullptr;
  }
  if (auto r = (*node)->start(); !r) {
    std::fprintf(stderr, "hana-net: cannot start: %s\n", r.error().message);
    return nullptr;
  }
  return std::move(*node);
}

}  // namespace hana::cli
