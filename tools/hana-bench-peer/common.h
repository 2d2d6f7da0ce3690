// Clock, endpoints, latency summaries and the JSON line shared by every mode of
// hana-bench-peer. Output keys match `hana-net ping --json` so the orchestrator
// treats every implementation alike.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

std::int64_t now_ns();

struct Endpoint {
  sockaddr_in addr{};  // IPv4 only: the loss lab and loopback need nothing else
  std::string text;
};
std::optional<Endpoint> parse_endpoint(std::string_view text);

// Percentiles by nearest rank over round-trip samples in nanoseconds.
struct Summary {
  std::size_t n = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
};
Summary summarize(std::vector<std::int64_t> samples_ns);

struct CpuTime {
  std::int64_t user_us = 0;
  std::int64_t sys_us = 0;
};
CpuTime self_cpu();

// Writes samples (µs, one per line) for the orchestrator's CDF plot.
bool write_samples(const std::string& path, const std::vector<std::int64_t>& samples_ns);

// Minimal JSON object builder: one line, keys in insertion order.
class JsonLine {
 public:
  JsonLine& num(std::string_view key, double v);
  JsonLine& integer(std::string_view key, std::int64_t v);
  JsonLine& str(std::string_view key, std::string_view v);
  std::string finish() const { return body_ + "}"; }

 private:
  void key(std::string_view k);
  std::string body_ = "{";
};

// Set by SIGINT/SIGTERM; every loop checks it.
extern volatile int g_stop;
void install_stop_handlers();

}  // namespace bench
