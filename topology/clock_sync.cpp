// Per-peer clock offset from probe timestamps: see clock_sync.h.
#include "topology/clock_sync.h"

#include <algorithm>
#include <cmath>

namespace hana::topology {
namespace {

std::int64_t diff(TimeNs a, TimeNs b) { return static_cast<std::int64_t>(a - b); }

}  // namespace

std::int64_t ClockSample::offset_ns() const {
  // Halve each difference before adding: the two may be large (clocks of different hosts
  // count from different boots) and their sum must not overflow.
  const std::int64_t a = diff(t2, t1), b = diff(t3, t4);
  return a / 2 + b / 2 + (a % 2 + b % 2) / 2;
}

std::int64_t ClockSample::delay_ns() const { return diff(t4, t1) - diff(t3, t2); }

bool OffsetEstimator::add(const ClockSample& s) {
  const std::int64_t delay = s.delay_ns();
  if (delay < 0 || delay > static_cast<std::int64_t>(kMaxSampleDelayNs) || s.t4 < s.t1 || s.t3 < s.t2) return false;
  Point& p = ring_[next_];
  p.at = s.t1 + (s.t4 - s.t1) / 2;
  p.offset_ns = s.offset_ns();
  p.delay_ns = delay;
  next_ = (next_ + 1) % kWindow;
  count_ = std::min(count_ + 1, kWindow);
  last_at_ = p.at;
  fit_drift();
  return true;
}

double OffsetEstimator::since_base(TimeNs t) const { return static_cast<double>(diff(t, base_.at)); }

// Least-squares line of offset over time through the samples with the shorter round
// trips (the lower half, at least three). Its slope is sum w_i * offset_i with
// w_i = (t_i - mean t) / sxx, so |slope error| <= sum |w_i| * delay_i / 2.
void OffsetEstimator::fit_drift() {
  fit_ = Fit{};
  drift_ = 0;
  drift_error_ = kAssumedMaxDriftPpm * 1e-6;
  base_ = ring_[(next_ + kWindow - 1) % kWindow];
  if (count_ < 3) return;
  std::array<std::int64_t, kWindow> delays{};
  for (std::size_t i = 0; i < count_; ++i) delays[i] = ring_[i].delay_ns;
  const std::size_t keep = std::max<std::size_t>(3, count_ / 2);
  std::nth_element(delays.begin(), delays.begin() + static_cast<std::ptrdiff_t>(keep - 1),
                   delays.begin() + static_cast<std::ptrdiff_t>(count_));
  Fit f;
  f.cutoff = delays[keep - 1];
  for (std::size_t i = 0; i < count_; ++i) {
    if (ring_[i].delay_ns > f.cutoff) continue;
    f.n += 1;
    f.mean_t += since_base(ring_[i].at);
    f.mean_o += static_cast<double>(ring_[i].offset_ns - base_.offset_ns);
  }
  f.mean_t /= f.n;
  f.mean_o /= f.n;
  double sxy = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    if (ring_[i].delay_ns > f.cutoff) continue;
    const double dt = since_base(ring_[i].at) - f.mean_t;
    f.sxx += dt * dt;
    sxy += dt * (static_cast<double>(ring_[i].offset_ns - base_.offset_ns) - f.mean_o);
  }
  if (f.sxx <= 0) return;
  double bound = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    if (ring_[i].delay_ns > f.cutoff) continue;
    bound += std::abs(since_base(ring_[i].at) - f.mean_t) / f.sxx * static_cast<double>(ring_[i].delay_ns) / 2;
  }
  const double max_drift = kAssumedMaxDriftPpm * 1e-6;
  if (bound >= max_drift) return;  // too short a span to say more than the assumption
  drift_ = std::clamp(sxy / f.sxx, -max_drift, max_drift);
  drift_error_ = bound;
  f.valid = true;
  fit_ = f;
}

ClockEstimate OffsetEstimator::estimate(TimeNs now) const {
  ClockEstimate e;
  if (count_ == 0) return e;
  const double x = since_base(now);
  // The fitted line at `now`: sum v_i * offset_i, v_i = 1/n + (t_i - mean t)(x - mean t)/sxx.
  double estimate = 0, fit_bound = 0;
  bool have_fit = fit_.valid;
  if (have_fit) {
    estimate = fit_.mean_o + drift_ * (x - fit_.mean_t);
    for (std::size_t i = 0; i < count_; ++i) {
      if (ring_[i].delay_ns > fit_.cutoff) continue;
      const double v = 1 / fit_.n + (since_base(ring_[i].at) - fit_.mean_t) * (x - fit_.mean_t) / fit_.sxx;
      fit_bound += std::abs(v) * static_cast<double>(ring_[i].delay_ns) / 2;
    }
  }
  // The best single sample, carried to `now` with the fitted drift.
  double best = 0;
  std::size_t best_i = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    const double age = since_base(now) - since_base(ring_[i].at);
    const double carried = static_cast<double>(ring_[i].offset_ns - base_.offset_ns) + drift_ * age;
    if (!have_fit && i == 0) estimate = carried;
    const double bound = static_cast<double>(ring_[i].delay_ns) / 2 + drift_error_ * std::abs(age) +
                         (have_fit ? std::abs(estimate - carried) : 0);
    if (i == 0 || bound < best) {
      best = bound;
      best_i = i;
    }
  }
  if (!have_fit) {  // no line yet: the best sample itself
    const double age = since_base(now) - since_base(ring_[best_i].at);
    estimate = static_cast<double>(ring_[best_i].offset_ns - base_.offset_ns) + drift_ * age;
    best = static_cast<double>(ring_[best_i].delay_ns) / 2 + drift_error_ * std::abs(age);
  }
  const double bound = have_fit ? std::min(best, fit_bound) : best;
  e.valid = true;
  e.offset_ns = base_.offset_ns + std::llround(estimate);
  e.error_ns = static_cast<std::uint64_t>(std::ceil(bound)) + kClockErrorFloorNs;
  e.drift_ppm = drift_ * 1e6;
  e.drift_error_ppm = drift_error_ * 1e6;
  e.sample_at = ring_[best_i].at;
  return e;
}

TimeNs ClockShift::local(TimeNs raw) const {
  const double since = static_cast<double>(diff(raw, origin));
  return raw + static_cast<TimeNs>(offset_ns + std::llround(since * drift_ppm * 1e-6));
}

std::optional<TimeNs> SentPings::match(std::uint32_t t1_low32) const {
  std::optional<TimeNs> best;
  for (const TimeNs t1 : sent_)
    if (t1 != 0 && static_cast<std::uint32_t>(t1) == t1_low32 && (!best || t1 > *best)) best = t1;
  return best;
}

}  // namespace hana::topology
