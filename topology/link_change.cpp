// The link change test (link_change.h): robust RTT statistics over a small ring and a
// binomial test for loss.
#include "topology/link_change.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hana::topology {

namespace {
// Median of the first n values of v (sorted in place); the mean of the two middle ones
// when n is even.
std::uint64_t median_of(std::array<std::uint32_t, kRttWindow>& v, std::size_t n) {
  if (n == 0) return 0;
  std::sort(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n));
  const std::uint64_t hi = v[n / 2];
  return n % 2 ? hi : (v[n / 2 - 1] + hi) / 2;
}
}  // namespace

void RttWindow::add(std::uint64_t rtt_us) {
  us[next] = static_cast<std::uint32_t>(std::min<std::uint64_t>(rtt_us, std::numeric_limits<std::uint32_t>::max()));
  next = static_cast<std::uint8_t>((next + 1) % kRttWindow);
  if (count < kRttWindow) ++count;
  if (fresh < 255) ++fresh;
}

void RttWindow::close_window() {
  const std::uint64_t m = median();
  if (window_median != 0) {
    const double moved = std::fabs(static_cast<double>(m) - static_cast<double>(window_median));
    // From 0, not from the first move: a step (a real change) raises it by a quarter of
    // the step and fades, flapping keeps it up.
    level_dev_us = 0.75 * level_dev_us + 0.25 * moved;
  }
  window_median = m;
  fresh = 0;
}

std::uint64_t RttWindow::median() const {
  auto v = us;
  return median_of(v, count);
}

std::uint64_t RttWindow::spread() const {
  const std::uint64_t m = median();
  std::array<std::uint32_t, kRttWindow> dev{};
  for (std::size_t i = 0; i < count; ++i) dev[i] = static_cast<std::uint32_t>(us[i] > m ? us[i] - m : m - us[i]);
  return static_cast<std::uint64_t>(std::lround(1.4826 * static_cast<double>(median_of(dev, count))));
}

bool rtt_changed(std::uint64_t reported_us, const RttWindow& w, const ChangeTest& t) {
  if (w.empty()) return false;
  const double now = static_cast<double>(w.median());
  if (reported_us == 0) return now != 0;
  if (!w.window_full()) return false;
  const double was = static_cast<double>(reported_us);
  // A ratio, symmetric in log space: ×(1 + rtt_rel) up or ÷(1 + rtt_rel) down.
  const bool big = now > was * (1 + t.rtt_rel) || now * (1 + t.rtt_rel) < was;
  const double moved = std::fabs(now - was);
  const double noise = std::max(t.rtt_sigmas * static_cast<double>(w.spread()), t.rtt_level_devs * w.level_dev_us);
  return big && moved > noise && moved > static_cast<double>(t.rtt_floor_us);
}

bool rtt_settles(std::uint64_t provisional_us, const RttWindow& w, const ChangeTest& t) {
  if (!w.window_full() || provisional_us == 0) return false;
  const double now = static_cast<double>(w.median());
  const double was = static_cast<double>(provisional_us);
  return (now > was * (1 + t.rtt_first_rel) || now * (1 + t.rtt_first_rel) < was) &&
         std::fabs(now - was) > static_cast<double>(t.rtt_floor_us);
}

bool loss_changed(double reported_rate, std::uint64_t lost, std::uint64_t sent, const ChangeTest& t) {
  if (sent == 0) return false;
  const double n = static_cast<double>(sent);
  const double p0 = std::clamp(reported_rate, 0.0, 1.0);
  const double expected = n * p0;
  const double sigma = std::sqrt(n * p0 * (1 - p0));
  const double rate = static_cast<double>(lost) / n;
  return std::fabs(static_cast<double>(lost) - expected) > t.loss_sigmas * sigma + 1.0 && std::fabs(rate - p0) > t.loss_points;
}

}  // namespace hana::topology
