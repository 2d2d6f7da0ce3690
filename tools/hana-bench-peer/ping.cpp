// Open-loop ping: message i leaves at start + i/rate whatever happened to the
// earlier ones; its round trip is measured from the moment it was queued and
// flushed to the moment its echo is handed to us. Optionally saturates the same
// peer with a BULK stream meanwhile (the priority scenario).
#include <cstdio>
#include <optional>

#include "modes.h"
#include "streamer.h"
#include "wire.h"

namespace bench {

int run_ping(Transport& t, const PingOptions& o) {
  if (auto err = t.connect({o.to}, o.bind, now_ns() + kConnectTimeoutNs); !err.empty()) {
    std::fprintf(stderr, "hana-bench-peer ping: %s\n", err.c_str());
    return 1;
  }
  std::vector<std::int64_t> sent_at(o.count, 0);
  std::vector<std::int64_t> rtts;
  rtts.reserve(o.count);
  std::vector<std::uint8_t> msg(o.size_bytes, 0x5A);
  std::optional<Streamer> bulk;
  if (o.bulk_size_bytes > 0)
    bulk.emplace(t, 0, o.bulk_size_bytes, std::max<std::size_t>(1, o.bulk_window_bytes / o.bulk_size_bytes));

  auto on_message = [&](const Incoming& in) {
    Header h{};
    if (!read_header(in.data, in.len, &h)) return;
    std::int64_t now = now_ns();
    if (h.kind == Kind::kPing && h.seq < o.count && sent_at[h.seq] > 0) {
      rtts.push_back(now - sent_at[h.seq]);
      sent_at[h.seq] = -1;  // a duplicate echo is not counted twice
    } else if (h.kind == Kind::kAck && bulk) {
      bulk->on_ack(in, now);
    }
  };

  const auto period_ns = static_cast<std::int64_t>(1e9 / o.rate);
  const auto linger_ns = static_cast<std::int64_t>(o.linger_ms * 1e6);
  // With a bulk stream the pings measure its steady state, not its slow start: the
  // first milliseconds of a saturating stream (window growth, first reassembly buffers)
  // are a transient every implementation shows, and in a 1 s run they were 1.3 % of the
  // samples, i.e. the whole p99.
  const auto warmup_ns = bulk ? static_cast<std::int64_t>(o.bulk_warmup_ms * 1e6) : 0;
  const std::int64_t start = now_ns() + 1'000'000 + warmup_ns;
  const std::int64_t hard_end = start + static_cast<std::int64_t>(o.count) * period_ns + linger_ns + 5'000'000'000;
  if (bulk) bulk->pump(64);  // let the bulk stream fill the path before the first ping
  std::uint64_t next = 0;
  std::int64_t last_send = start;
  const CpuTime cpu0 = self_cpu();
  while (!g_stop) {
    std::int64_t now = now_ns();
    if (now > hard_end) break;
    bool sent = false;
    while (next < o.count && start + static_cast<std::int64_t>(next) * period_ns <= now) {
      write_header(msg.data(), Kind::kPing, next);
      sent_at[next] = now_ns();
      last_send = sent_at[next];
      t.send(0, o.channel, msg.data(), msg.size());
      ++next;
      sent = true;
    }
    if (sent) t.flush();
    if (bulk) bulk->pump(64);
    if (next == o.count && (rtts.size() == o.count || now > last_send + linger_ns)) break;
    std::int64_t timeout = next < o.count ? start + static_cast<std::int64_t>(next) * period_ns - now
                                          : last_send + linger_ns - now;
    t.poll(timeout, on_message);
  }
  const CpuTime cpu1 = self_cpu();
  Summary s = summarize(rtts);
  if (!o.samples_path.empty() && !write_samples(o.samples_path, rtts))
    std::fprintf(stderr, "hana-bench-peer ping: cannot write %s\n", o.samples_path.c_str());
  JsonLine j;
  j.integer("n", static_cast<std::int64_t>(next))
      .integer("lost", static_cast<std::int64_t>(next - rtts.size()))
      .num("p50_us", s.p50_us).num("p90_us", s.p90_us).num("p99_us", s.p99_us)
      .num("p999_us", s.p999_us).num("max_us", s.max_us).num("mean_us", s.mean_us)
      .str("backend", t.name())
      .integer("cpu_us", (cpu1.user_us + cpu1.sys_us) - (cpu0.user_us + cpu0.sys_us));
  if (bulk) {
    double secs = static_cast<double>(now_ns() - start) / 1e9;
    j.integer("bulk_msgs", static_cast<std::int64_t>(bulk->acked_msgs()))
        .num("bulk_mb_per_s", static_cast<double>(bulk->acked_bytes()) / 1e6 / secs);
  }
  std::printf("%s\n", j.finish().c_str());
  return g_stop ? 130 : 0;
}

}  // namespace bench
