// `hana-net echo --bind ADDR:PORT`: serves; every received message goes back to its
// sender on the same lane with the same delivery mode.
#include <cstdio>
#include <thread>

#include "commands.h"

namespace hana::cli {

void add_echo_command(CLI::App& app, Outcome& outcome) {
  auto* cmd = app.add_subcommand("echo", "Echo every received message back to its sender");
  auto bind = std::make_shared<std::string>();
  auto backend = std::make_shared<std::string>("auto");
  auto busy = std::make_shared<bool>(false);
  auto inline_loop = std::make_shared<bool>(false);
  auto threading = std::make_shared<std::string>("shared");
  auto knobs = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--bind", *bind, "Address to listen on, ADDR:PORT")->required();
  cmd->add_option("--backend", *backend, "I/O backend: uring, epoll or auto");
  cmd->add_flag("--busy-poll", *busy, "Event loop and echo thread never sleep");
  cmd->add_flag("--inline", *inline_loop, "Run the event loop on the echo thread (no loop thread)");
  cmd->add_option("--threading", *threading, "Who runs the event loop: shared (default), dedicated or inline");
  add_knob_option(cmd, *knobs);
  auto psk_files = std::make_shared<std::vector<std::string>>();
  add_psk_option(cmd, *psk_files);
  cmd->callback([&outcome, bind, backend, busy, inline_loop, threading, knobs, psk_files] {
    NodeOptions options;
    options.keys = read_psk_files_or_throw(*psk_files);
    options.bind = parse_address_or_throw(*bind, "--bind");
    options.backend = parse_backend_or_throw(*backend);
    options.threading = parse_threading_or_throw(*threading, *inline_loop);
    Config config;
    config.busy_poll = *busy;
    apply_knobs_or_throw(config, *knobs);
    install_signal_handlers();
    auto node = start_node(config, options);
    if (!node) {
      outcome.exit_code = kExitFailure;
      return;
    }
    Event ev;
    std::uint64_t echoed = 0, refused = 0;
    while (!interrupted()) {
      const bool got = *busy ? node->poll_event(ev) : node->wait_event(ev, 100 * kNsPerMs);
      if (!got) {
        if (*busy) std::this_thread::yield();  // lets the loop thread run when both share a CPU
        continue;
      }
      if (ev.kind != EventKind::Received) continue;
      auto r = node->send(ev.peer, ev.lane, ev.payload.bytes(), ev.delivery);
      if (r) {
        ++echoed;
      } else {
        ++refused;  // back-pressure: the echo is dropped, the pinger counts it lost
      }
    }
    node->stop();
    std::fprintf(stderr, "hana-net echo: %llu echoed, %llu refused\n", static_cast<unsigned long long>(echoed),
                 static_cast<unsigned long long>(refused));
  });
}

}  // namespace hana::cli
