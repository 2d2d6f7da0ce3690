// hana-bench-peer: the baseline implementations (udp-raw, tcp, enet) for
// tools/hana-bench, with the same command-line shape and JSON line as
// `hana-net echo` / `hana-net ping`, plus the stream and fanout modes. `--impl hana`
// runs hana::Node through the very same scenario code (--backend, --busy-poll).
//
//   hana-bench-peer echo   --impl tcp --bind 127.0.0.1:7000
//   hana-bench-peer ping   --impl tcp --to 127.0.0.1:7000 --count 20000 --rate 5000 --size 64 --json
//   hana-bench-peer stream --impl tcp --to 127.0.0.1:7000 --size 1048576 --duration 10 --json
//   hana-bench-peer fanout --impl tcp --to 127.0.0.1:7000,127.0.0.1:7001 --count 1000 --rate 200 --json
//
// Bad arguments exit 2.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "modes.h"

namespace {

using bench::Endpoint;

bool parse_into(const std::string& text, Endpoint* out) {
  auto ep = bench::parse_endpoint(text);
  if (!ep) return false;
  *out = *ep;
  return true;
}

const std::map<std::string, bench::Channel> kLanes{
    {"control", bench::Channel::kHigh}, {"high", bench::Channel::kHigh},
    {"normal", bench::Channel::kHigh},  {"bulk", bench::Channel::kBulk}};

// TCP and ENet are reliable-ordered whatever is asked; udp-raw never is. The option
// exists so the orchestrator can pass the same arguments to every implementation.
const std::vector<std::string> kDeliveries{"reliable-ordered", "reliable-unordered", "unreliable-sequenced",
                                           "unreliable"};

constexpr const char* kBackendHelp = "hana only: uring | epoll | auto (ignored by the baselines)";
constexpr const char* kBusyHelp = "hana only: busy-poll event loop and application thread";
constexpr const char* kInlineHelp = "hana only: Threading::Inline (the event loop runs inside poll, no loop thread)";
constexpr const char* kKnobHelp = "hana only: KEY=VALUE config knob (repeatable; see docs/knobs.md)";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "hana-bench-peer: %s\n", msg.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hana-bench-peer: udp-raw / tcp / enet baselines for hana-bench"};
  app.require_subcommand(1);
  std::string impl;
  std::size_t mtu = 1472;
  bool json = false;
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("--impl", impl, "udp-raw | tcp | enet | hana")
        ->required()
        ->check(CLI::IsMember({"udp-raw", "tcp", "enet", "hana"}));
    sub->add_option("--mtu", mtu, "udp-raw datagram bytes (fragment size)")->check(CLI::Range(64, 2000));
    sub->add_flag("--json", json, "print JSON (always on; accepted for hana-net compatibility)");
  };

  std::string bind_text, to_text, lane = "high", delivery = "reliable-ordered", backend = "auto";
  bool busy_poll = false;
  std::vector<std::string> knobs;
  bool inline_loop = false;
  bench::EchoOptions echo;
  auto* echo_cmd = app.add_subcommand("echo", "serve: echo pings, confirm streams and fan-out");
  add_common(echo_cmd);
  echo_cmd->add_option("--bind", bind_text, "ADDR:PORT")->required();
  echo_cmd->add_option("--max-seconds", echo.max_seconds, "exit after this long")->check(CLI::Range(0.1, 86400.0));
  echo_cmd->add_option("--backend", backend, kBackendHelp);
  echo_cmd->add_flag("--busy-poll", busy_poll, kBusyHelp);
  echo_cmd->add_option("--knob", knobs, kKnobHelp);
  echo_cmd->add_flag("--inline", inline_loop, kInlineHelp);

  bench::PingOptions ping;
  auto* ping_cmd = app.add_subcommand("ping", "open-loop round-trip measurement");
  add_common(ping_cmd);
  ping_cmd->add_option("--to", to_text, "ADDR:PORT")->required();
  ping_cmd->add_option("--bind", bind_text, "local ADDR:PORT");
  ping_cmd->add_option("--count", ping.count)->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}));
  ping_cmd->add_option("--rate", ping.rate, "messages per second")->check(CLI::Range(0.1, 1e7));
  ping_cmd->add_option("--size", ping.size_bytes, "message bytes")->check(CLI::Range(16, 1 << 24));
  ping_cmd->add_option("--lane", lane)->check(CLI::IsMember({"control", "high", "normal", "bulk"}));
  ping_cmd->add_option("--delivery", delivery)->check(CLI::IsMember(kDeliveries));
  ping_cmd->add_option("--backend", backend, kBackendHelp);
  ping_cmd->add_flag("--busy-poll", busy_poll, kBusyHelp);
  ping_cmd->add_option("--knob", knobs, kKnobHelp);
  ping_cmd->add_flag("--inline", inline_loop, kInlineHelp);
  ping_cmd->add_option("--linger-ms", ping.linger_ms, "wait for late echoes")->check(CLI::Range(0.0, 60000.0));
  ping_cmd->add_option("--samples", ping.samples_path, "write every RTT (µs) to this file");
  ping_cmd->add_option("--bulk-size", ping.bulk_size_bytes, "saturate with BULK messages of this size")
      ->check(CLI::Range(0, 1 << 24));
  ping_cmd->add_option("--bulk-window", ping.bulk_window_bytes, "unconfirmed BULK bytes allowed")
      ->check(CLI::Range(1, 1 << 30));
  ping_cmd->add_option("--bulk-warmup-ms", ping.bulk_warmup_ms, "BULK runs this long before the first ping")
      ->check(CLI::Range(0.0, 60000.0));

  bench::StreamOptions stream;
  auto* stream_cmd = app.add_subcommand("stream", "confirmed one-way stream: goodput / message rate");
  add_common(stream_cmd);
  stream_cmd->add_option("--to", to_text, "ADDR:PORT")->required();
  stream_cmd->add_option("--bind", bind_text, "local ADDR:PORT");
  stream_cmd->add_option("--size", stream.size_bytes)->check(CLI::Range(16, 1 << 24));
  stream_cmd->add_option("--duration", stream.duration_s, "seconds")->check(CLI::Range(0.05, 600.0));
  stream_cmd->add_option("--window-bytes", stream.window_bytes)->check(CLI::Range(1, 1 << 30));
  stream_cmd->add_option("--window-msgs", stream.window_msgs)->check(CLI::Range(1, 1 << 20));
  stream_cmd->add_option("--linger-ms", stream.linger_ms)->check(CLI::Range(0.0, 60000.0));
  stream_cmd->add_option("--backend", backend, kBackendHelp);
  stream_cmd->add_flag("--busy-poll", busy_poll, kBusyHelp);
  stream_cmd->add_option("--knob", knobs, kKnobHelp);
  stream_cmd->add_flag("--inline", inline_loop, kInlineHelp);

  bench::FanoutOptions fanout;
  std::vector<std::string> fan_to;
  auto* fanout_cmd = app.add_subcommand("fanout", "one message to every peer, time until all confirmed");
  add_common(fanout_cmd);
  fanout_cmd->add_option("--to", fan_to, "ADDR:PORT[,ADDR:PORT...]")->required()->delimiter(',');
  fanout_cmd->add_option("--count", fanout.count, "rounds")->check(CLI::Range(std::uint64_t{1}, std::uint64_t{10'000'000}));
  fanout_cmd->add_option("--rate", fanout.rate, "rounds per second")->check(CLI::Range(0.1, 1e6));
  fanout_cmd->add_option("--size", fanout.size_bytes)->check(CLI::Range(16, 1 << 20));
  fanout_cmd->add_option("--linger-ms", fanout.linger_ms)->check(CLI::Range(0.0, 60000.0));
  fanout_cmd->add_option("--samples", fanout.samples_path, "write every round time (µs) to this file");
  fanout_cmd->add_option("--backend", backend, kBackendHelp);
  fanout_cmd->add_flag("--busy-poll", busy_poll, kBusyHelp);
  fanout_cmd->add_option("--knob", knobs, kKnobHelp);
  fanout_cmd->add_flag("--inline", inline_loop, kInlineHelp);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  bench::TransportOptions topts;
  topts.mtu_bytes = mtu;
  topts.hana_knobs = knobs;
  topts.hana_inline = inline_loop;
  std::unique_ptr<bench::Transport> t;
  if (impl == "udp-raw") t = bench::make_udp_transport(topts);
  if (impl == "tcp") t = bench::make_tcp_transport(topts);
  if (impl == "enet") t = bench::make_enet_transport(topts);
  if (impl == "hana") {
    if (backend != "uring" && backend != "epoll" && backend != "auto")
      return usage_error("bad --backend '" + backend + "' (want uring, epoll or auto)");
    t = bench::make_hana_transport(topts, backend, busy_poll);
  }
  bench::install_stop_handlers();

  Endpoint bind_ep;
  const Endpoint* bind = nullptr;
  if (!bind_text.empty()) {
    if (!parse_into(bind_text, &bind_ep)) return usage_error("bad --bind '" + bind_text + "' (want IPv4:PORT)");
    bind = &bind_ep;
  }
  if (echo_cmd->parsed()) {
    echo.bind = bind_ep;
    return bench::run_echo(*t, echo);
  }
  if (fanout_cmd->parsed()) {
    for (const auto& s : fan_to) {
      Endpoint ep;
      if (!parse_into(s, &ep)) return usage_error("bad --to '" + s + "' (want IPv4:PORT)");
      fanout.to.push_back(ep);
    }
    return bench::run_fanout(*t, fanout);
  }
  Endpoint to;
  if (!parse_into(to_text, &to)) return usage_error("bad --to '" + to_text + "' (want IPv4:PORT)");
  if (ping_cmd->parsed()) {
    ping.to = to;
    ping.bind = bind;
    ping.channel = kLanes.at(lane);
    return bench::run_ping(*t, ping);
  }
  stream.to = to;
  stream.bind = bind;
  return bench::run_stream(*t, stream);
}
