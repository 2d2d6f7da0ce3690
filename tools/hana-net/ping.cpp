// `hana-net ping --to ADDR:PORT ...`: open-loop round-trip measurement against `echo`.
// Message i is sent at start + i/rate whatever happened to earlier ones (no coordinated
// omission); its round trip is echo-received time minus its send time, both carried in
// the payload. Prints one JSON line with --json.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "engine/clock.h"

namespace hana::cli {
namespace {

struct PingArgs {
  std::string to, bind = "0.0.0.0:0", backend = "auto", lane = "high", delivery = "reliable-ordered";
  std::string threading = "shared";
  std::uint64_t count = 1000;
  double rate = 1000;
  std::uint64_t size = 64;
  bool busy_poll = false;
  bool inline_loop = false;
  bool json = false;
  double connect_timeout_s = 5;
  double drain_timeout_s = 2;
  std::vector<std::string> knobs;
  std::vector<std::string> psk_files;
};

constexpr std::size_t kHeaderBytes = 16;  // sequence number + send time

double percentile_us(const std::vector<TimeNs>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto idx = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size()))) - 1;
  return std::round(static_cast<double>(sorted[std::min(idx, sorted.size() - 1)]) / 100.0) / 10.0;
}

int run_ping(const PingArgs& a) {
  NodeOptions options;
  options.bind = parse_address_or_throw(a.bind, "--bind");
  options.keys = read_psk_files_or_throw(a.psk_files);
  const Address to = parse_address_or_throw(a.to, "--to");
  options.backend = parse_backend_or_throw(a.backend);
  if (a.json) options.log.level = LogLevel::Off;
  options.threading = parse_threading_or_throw(a.threading, a.inline_loop);
  const Lane lane = parse_lane_or_throw(a.lane);
  const Delivery delivery = parse_delivery_or_throw(a.delivery);
  if (a.count == 0 || a.count > 100'000'000) throw UsageError{"--count must be in [1, 100000000]"};
  if (!(a.rate > 0) || a.rate > 10'000'000) throw UsageError{"--rate must be in (0, 10000000] messages/s"};
  Config config;
  config.busy_poll = a.busy_poll;
  apply_knobs_or_throw(config, a.knobs);
  if (a.size < kHeaderBytes || a.size > config.max_message_bytes)
    throw UsageError{"--size must be in [16, max_message_bytes]"};
  install_signal_handlers();
  auto node = start_node(config, options);
  if (!node) return kExitFailure;
  if (auto r = node->connect(to); !r) {
    std::fprintf(stderr, "hana-net ping: connect: %s\n", r.error().message);
    return kExitFailure;
  }
  Event ev;
  NodeId peer = 0;
  const TimeNs connect_deadline = engine::monotonic_now_ns() + static_cast<TimeNs>(a.connect_timeout_s * 1e9);
  while (peer == 0 && engine::monotonic_now_ns() < connect_deadline && !interrupted()) {
    if (node->wait_event(ev, 50 * kNsPerMs) && ev.kind == EventKind::PeerConnected) peer = ev.peer;
  }
  if (peer == 0) {
    std::fprintf(stderr, "hana-net ping: no connection to %s within %.1f s\n", a.to.c_str(), a.connect_timeout_s);
    return kExitFailure;
  }

  std::vector<TimeNs> rtt;
  rtt.reserve(a.count);
  std::vector<bool> seen(a.count, false);
  std::vector<std::uint8_t> msg(a.size, 0x5a);
  std::uint64_t refused = 0;
  const TimeNs interval_ns = static_cast<TimeNs>(1e9 / a.rate);
  const TimeNs start = engine::monotonic_now_ns();
  std::uint64_t sent = 0;
  TimeNs drain_deadline = 0;
  auto take = [&](const Event& e, TimeNs now) {
    if (e.kind != EventKind::Received || e.peer != peer || e.payload.bytes().size() < kHeaderBytes) return;
    std::uint64_t seq = 0, t0 = 0;
    std::memcpy(&seq, e.payload.bytes().data(), 8);
    std::memcpy(&t0, e.payload.bytes().data() + 8, 8);
    if (seq >= a.count || seen[seq]) return;
    seen[seq] = true;
    rtt.push_back(now - t0);
  };
  while (!interrupted()) {
    TimeNs now = engine::monotonic_now_ns();
    if (sent < a.count && now >= start + sent * interval_ns) {
      std::memcpy(msg.data(), &sent, 8);
      std::memcpy(msg.data() + 8, &now, 8);
      if (!node->send(peer, lane, msg, delivery)) ++refused;
      ++sent;
      if (sent == a.count) drain_deadline = now + static_cast<TimeNs>(a.drain_timeout_s * 1e9);
      continue;
    }
    if (sent == a.count && (rtt.size() == a.count || now >= drain_deadline)) break;
    const TimeNs next = sent < a.count ? start + sent * interval_ns : drain_deadline;
    bool got;
    if (a.busy_poll || next <= now + 20 * kNsPerUs) {
      got = node->poll_event(ev);
    } else {
      got = node->wait_event(ev, next - now);
    }
    if (got) {
      take(ev, engine::monotonic_now_ns());
    } else if (a.busy_poll) {
      std::this_thread::yield();  // lets the loop thread run when both share a CPU
    }
    while (node->poll_event(ev)) take(ev, engine::monotonic_now_ns());
  }
  const std::string backend(to_string(node->backend()));
  // The path the echoes came over (the TCP path's benchmark checks that UDP really was blocked).
  std::string transport = "none";
  for (const PeerStats& p : node->stats().peers)
    if (p.peer == peer) transport = std::string(to_string(p.transport));
  node->stop();

  std::sort(rtt.begin(), rtt.end());
  const std::uint64_t lost = a.count - rtt.size();
  const double max_us = rtt.empty() ? 0 : std::round(static_cast<double>(rtt.back()) / 100.0) / 10.0;
  if (a.json) {
    nlohmann::ordered_json j;
    j["n"] = a.count;
    j["lost"] = lost;
    j["p50_us"] = percentile_us(rtt, 0.50);
    j["p90_us"] = percentile_us(rtt, 0.90);
    j["p99_us"] = percentile_us(rtt, 0.99);
    j["p999_us"] = percentile_us(rtt, 0.999);
    j["max_us"] = max_us;
    j["backend"] = backend;
    j["transport"] = transport;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%llu sent, %llu echoed, %llu lost (%llu refused locally), backend %s, transport %s\n",
                static_cast<unsigned long long>(a.count), static_cast<unsigned long long>(rtt.size()),
                static_cast<unsigned long long>(lost), static_cast<unsigned long long>(refused), backend.c_str(),
                transport.c_str());
    std::printf("rtt us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", percentile_us(rtt, 0.50),
                percentile_us(rtt, 0.90), percentile_us(rtt, 0.99), percentile_us(rtt, 0.999), max_us);
  }
  return kExitOk;
}

}  // namespace

void add_ping_command(CLI::App& app, Outcome& outcome) {
  auto* cmd = app.add_subcommand("ping", "Open-loop round-trip latency against `hana-net echo`");
  auto a = std::make_shared<PingArgs>();
  cmd->add_option("--to", a->to, "Echo node, ADDR:PORT")->required();
  cmd->add_option("--bind", a->bind, "Local address, ADDR:PORT (default 0.0.0.0:0)");
  cmd->add_option("--count", a->count, "Messages to send (default 1000)");
  cmd->add_option("--rate", a->rate, "Messages per second, open loop (default 1000)");
  cmd->add_option("--size", a->size, "Message bytes, >= 16 (default 64)");
  cmd->add_option("--lane", a->lane, "control, high, normal or bulk (default high)");
  cmd->add_option("--delivery", a->delivery,
                  "reliable-ordered, reliable-unordered, unreliable-sequenced or unreliable (default reliable-ordered)");
  cmd->add_option("--backend", a->backend, "I/O backend: uring, epoll or auto (default auto)");
  cmd->add_flag("--busy-poll", a->busy_poll, "Event loop and ping thread never sleep");
  cmd->add_flag("--inline", a->inline_loop, "Run the event loop on the ping thread (no loop thread)");
  cmd->add_option("--threading", a->threading, "Who runs the event loop: shared (default), dedicated or inline");
  cmd->add_flag("--json", a->json, "Print one JSON line");
  add_knob_option(cmd, a->knobs);
  add_psk_option(cmd, a->psk_files);
  cmd->add_option("--connect-timeout", a->connect_timeout_s, "Seconds to wait for the connection (default 5)");
  cmd->add_option("--drain-timeout", a->drain_timeout_s, "Seconds to wait for the last echoes (default 2)");
  cmd->callback([&outcome, a] { outcome.exit_code = run_ping(*a); });
}

}  // namespace hana::cli
