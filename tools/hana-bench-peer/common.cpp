#include "common.h"

#include <arpa/inet.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>

namespace bench {

volatile int g_stop = 0;

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) return std::nullopt;
  std::string host(text.substr(0, colon));
  std::string port_text(text.substr(colon + 1));
  char* end = nullptr;
  long port = std::strtol(port_text.c_str(), &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) return std::nullopt;
  Endpoint ep;
  ep.addr.sin_family = AF_INET;
  ep.addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &ep.addr.sin_addr) != 1) return std::nullopt;
  ep.text = std::string(text);
  return ep;
}

Summary summarize(std::vector<std::int64_t> samples_ns) {
  Summary s;
  s.n = samples_ns.size();
  if (samples_ns.empty()) return s;
  std::sort(samples_ns.begin(), samples_ns.end());
  auto rank = [&](double q) {
    auto idx = static_cast<std::size_t>(std::ceil(q * static_cast<double>(s.n)));
    idx = std::clamp<std::size_t>(idx, 1, s.n) - 1;
    return static_cast<double>(samples_ns[idx]) / 1000.0;
  };
  s.p50_us = rank(0.50);
  s.p90_us = rank(0.90);
  s.p99_us = rank(0.99);
  s.p999_us = rank(0.999);
  s.max_us = static_cast<double>(samples_ns.back()) / 1000.0;
  double sum = 0;
  for (auto v : samples_ns) sum += static_cast<double>(v);
  s.mean_us = sum / static_cast<double>(s.n) / 1000.0;
  return s;
}

CpuTime self_cpu() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  CpuTime t;
  t.user_us = std::int64_t{ru.ru_utime.tv_sec} * 1'000'000 + ru.ru_utime.tv_usec;
  t.sys_us = std::int64_t{ru.ru_stime.tv_sec} * 1'000'000 + ru.ru_stime.tv_usec;
  return t;
}

bool write_samples(const std::string& path, const std::vector<std::int64_t>& samples_ns) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  for (auto v : samples_ns) std::fprintf(f, "%.3f\n", static_cast<double>(v) / 1000.0);
  return std::fclose(f) == 0;
}

void JsonLine::key(std::string_view k) {
  if (body_.size() > 1) body_ += ',';
  body_ += '"';
  body_ += k;
  body_ += "\":";
}

JsonLine& JsonLine::num(std::string_view k, double v) {
  key(k);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", std::isfinite(v) ? v : 0.0);
  body_ += buf;
  return *this;
}

JsonLine& JsonLine::integer(std::string_view k, std::int64_t v) {
  key(k);
  body_ += std::to_string(v);
  return *this;
}

JsonLine& JsonLine::str(std::string_view k, std::string_view v) {
  key(k);
  body_ += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') body_ += '\\';
    body_ += c;
  }
  body_ += '"';
  return *this;
}

namespace {
void on_stop_signal(int) { g_stop = 1; }
}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace bench
