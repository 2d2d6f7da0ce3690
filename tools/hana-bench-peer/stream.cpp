// Confirmed one-way stream for a fixed time: goodput (bulk, 1 MiB messages) or
// message rate (64 B messages). Only messages the receiver confirmed count.
#include <cstdio>

#include "modes.h"
#include "streamer.h"

namespace bench {

int run_stream(Transport& t, const StreamOptions& o) {
  if (auto err = t.connect({o.to}, o.bind, now_ns() + kConnectTimeoutNs); !err.empty()) {
    std::fprintf(stderr, "hana-bench-peer stream: %s\n", err.c_str());
    return 1;
  }
  std::size_t window = std::min(o.window_msgs, std::max<std::size_t>(1, o.window_bytes / o.size_bytes));
  Streamer s(t, 0, o.size_bytes, window);
  auto on_message = [&](const Incoming& in) { s.on_ack(in, now_ns()); };

  const CpuTime cpu0 = self_cpu();
  const std::int64_t start = now_ns();
  const std::int64_t end = start + static_cast<std::int64_t>(o.duration_s * 1e9);
  while (!g_stop && now_ns() < end) {
    int sent = s.pump(256);
    // Nothing could be queued: sleep until an ack or writability (bounded by the end).
    std::int64_t timeout = sent > 0 ? 0 : std::min<std::int64_t>(end - now_ns(), 100'000'000);
    t.poll(timeout, on_message);
  }
  const std::int64_t drain_end = now_ns() + static_cast<std::int64_t>(o.linger_ms * 1e6);
  while (!g_stop && !s.all_confirmed() && now_ns() < drain_end) t.poll(drain_end - now_ns(), on_message);
  const CpuTime cpu1 = self_cpu();

  std::int64_t last = s.last_ack_ns() > 0 ? s.last_ack_ns() : now_ns();
  double secs = static_cast<double>(last - start) / 1e9;
  if (secs <= 0) secs = 1e-9;
  JsonLine j;
  j.integer("msgs", static_cast<std::int64_t>(s.acked_msgs()))
      .integer("sent", static_cast<std::int64_t>(s.sent_msgs()))
      .integer("lost", static_cast<std::int64_t>(s.sent_msgs() - std::min(s.sent_msgs(), s.acked_msgs())))
      .integer("bytes", static_cast<std::int64_t>(s.acked_bytes()))
      .num("seconds", secs)
      .num("msgs_per_s", static_cast<double>(s.acked_msgs()) / secs)
      .num("mb_per_s", static_cast<double>(s.acked_bytes()) / 1e6 / secs)
      .integer("cpu_us", (cpu1.user_us + cpu1.sys_us) - (cpu0.user_us + cpu0.sys_us))
      .integer("size", static_cast<std::int64_t>(o.size_bytes))
      .str("backend", t.name());
  std::printf("%s\n", j.finish().c_str());
  return g_stop ? 130 : 0;
}

}  // namespace bench
