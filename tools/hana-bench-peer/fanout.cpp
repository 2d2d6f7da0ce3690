// Fan-out: round r sends one message to every peer; the round's time is from the
// first send to the last peer's confirmation. Open loop at the given round rate.
#include <algorithm>
#include <cstdio>

#include "modes.h"
#include "wire.h"

namespace bench {

int run_fanout(Transport& t, const FanoutOptions& o) {
  if (auto err = t.connect(o.to, nullptr, now_ns() + kConnectTimeoutNs); !err.empty()) {
    std::fprintf(stderr, "hana-bench-peer fanout: %s\n", err.c_str());
    return 1;
  }
  const std::size_t peers = o.to.size();
  std::vector<std::int64_t> started(o.count, 0);
  std::vector<std::uint32_t> confirmed(o.count, 0);
  std::vector<std::int64_t> times;
  times.reserve(o.count);
  std::vector<std::uint8_t> msg(o.size_bytes, 0xF0);
  std::vector<std::uint64_t> per_peer(peers, 0);  // confirmations from each peer: who fell silent
  std::uint64_t confirmations = 0;

  auto on_message = [&](const Incoming& in) {
    Header h{};
    if (!read_header(in.data, in.len, &h) || h.kind != Kind::kFanoutAck || h.seq >= o.count) return;
    if (started[h.seq] == 0) return;
    if (static_cast<std::size_t>(in.peer) < peers) ++per_peer[static_cast<std::size_t>(in.peer)];
    ++confirmations;
    if (++confirmed[h.seq] == peers) times.push_back(now_ns() - started[h.seq]);
  };

  const auto period_ns = static_cast<std::int64_t>(1e9 / o.rate);
  const auto linger_ns = static_cast<std::int64_t>(o.linger_ms * 1e6);
  const std::int64_t start = now_ns() + 1'000'000;
  const std::int64_t hard_end = start + static_cast<std::int64_t>(o.count) * period_ns + linger_ns + 5'000'000'000;
  std::uint64_t next = 0;
  std::int64_t last_send = start;
  while (!g_stop) {
    std::int64_t now = now_ns();
    if (now > hard_end) break;
    bool sent = false;
    while (next < o.count && start + static_cast<std::int64_t>(next) * period_ns <= now) {
      write_header(msg.data(), Kind::kFanout, next);
      started[next] = now_ns();
      last_send = started[next];
      t.send_to_all(peers, Channel::kHigh, msg.data(), msg.size());
      ++next;
      sent = true;
    }
    if (sent) t.flush();
    if (next == o.count && (times.size() == o.count || now > last_send + linger_ns)) break;
    std::int64_t timeout = next < o.count ? start + static_cast<std::int64_t>(next) * period_ns - now
                                          : last_send + linger_ns - now;
    t.poll(timeout, on_message);
  }
  Summary s = summarize(times);
  if (!o.samples_path.empty() && !write_samples(o.samples_path, times))
    std::fprintf(stderr, "hana-bench-peer fanout: cannot write %s\n", o.samples_path.c_str());
  JsonLine j;
  j.integer("n", static_cast<std::int64_t>(next))
      .integer("lost", static_cast<std::int64_t>(next - times.size()))
      .num("p50_us", s.p50_us).num("p90_us", s.p90_us).num("p99_us", s.p99_us)
      .num("p999_us", s.p999_us).num("max_us", s.max_us).num("mean_us", s.mean_us)
      .integer("peers", static_cast<std::int64_t>(peers))
      .integer("confirmations", static_cast<std::int64_t>(confirmations))
      .integer("silent_peers", std::count(per_peer.begin(), per_peer.end(), std::uint64_t{0}))
      .str("backend", t.name());
  std::printf("%s\n", j.finish().c_str());
  return g_stop ? 130 : 0;
}

}  // namespace bench
