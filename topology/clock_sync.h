// Mesh clock, part 1: the offset of one peer's clock against ours, from the four
// timestamps of a SWIM probe and its ack (NTP's on-wire exchange, RFC 5905 §8):
//
//   t1  we sent the Ping        (our clock)      offset = ((t2 - t1) + (t3 - t4)) / 2
//   t2  the peer received it    (peer's clock)   delay  = (t4 - t1) - (t3 - t2)
//   t3  the peer sent the Ack   (peer's clock)
//   t4  we received the Ack     (our clock)
//
// Whatever the path's asymmetry, the true offset at the sample lies within delay / 2 of
// the sample's offset, as long as each timestamp is on the right side of the event it
// stamps (t1 no later than the send, t2 no earlier than the arrival, ...). So the
// sample with the smallest round trip is the best one (NTP's clock filter). Between
// samples the clocks drift apart: a least-squares line through the min-RTT samples of
// the window (the lower half by round trip) gives the drift (its slope) and the
// estimate (its value at `now`), which averages the asymmetry of many quick exchanges
// away. Both are weighted sums of sample offsets, so their errors are bounded by the
// same weighted sums of the samples' half-round-trips, exactly. The bound reported is
// the smaller of that and the best single sample's:
//
//   error_i = delay_i / 2 + drift_error * |now - at_i| + |estimate - offset_i(now)|
//
// (a fresh sample with a longer round trip beats an old short one once the drift's
// uncertainty has grown past it), plus a small floor.
//
// Sans-IO: times are passed in; no allocation (a fixed ring).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "hana/types.h"

namespace hana::topology {

// What the estimator assumes of two oscillators before it has measured their drift:
// crystals are specified at +-100 ppm; the fault knob allows +-500 per node.
inline constexpr double kAssumedMaxDriftPpm = 1000;
// Added to every bound: timestamp granularity and the wander of a drift between fits.
inline constexpr TimeNs kClockErrorFloorNs = 1000;
// A sample whose round trip is longer than this says nothing useful (and a negative
// one is impossible): both are discarded.
inline constexpr TimeNs kMaxSampleDelayNs = 100'000'000;

struct ClockSample {
  TimeNs t1 = 0, t2 = 0, t3 = 0, t4 = 0;
  std::int64_t offset_ns() const;  // peer minus us
  std::int64_t delay_ns() const;   // round trip without the peer's turnaround
};

struct ClockEstimate {
  bool valid = false;
  std::int64_t offset_ns = 0;   // peer's clock minus ours, at the time asked for
  std::uint64_t error_ns = 0;   // |true offset - offset_ns| <= error_ns
  double drift_ppm = 0;         // peer's clock runs faster than ours by this much
  double drift_error_ppm = kAssumedMaxDriftPpm;  // how fast error_ns grows from here on
  TimeNs sample_at = 0;         // our time of the sample it rests on
};

class OffsetEstimator {
 public:
  static constexpr std::size_t kWindow = 64;

  // False (and nothing kept) for a sample with an impossible or useless round trip.
  bool add(const ClockSample& s);
  ClockEstimate estimate(TimeNs now) const;
  std::size_t size() const { return count_; }
  TimeNs last_sample_at() const { return last_at_; }
  void reset() { *this = OffsetEstimator{}; }

 private:
  struct Point {
    TimeNs at = 0;  // midpoint of t1 and t4, our clock
    std::int64_t offset_ns = 0;
    std::int64_t delay_ns = 0;
  };
  // The line through the min-RTT points, relative to the newest point (doubles keep ns).
  struct Fit {
    bool valid = false;
    std::int64_t cutoff = 0;  // points with delay_ns <= cutoff are on it
    double n = 0, mean_t = 0, mean_o = 0, sxx = 0;
  };
  void fit_drift();
  double since_base(TimeNs t) const;

  std::array<Point, kWindow> ring_{};
  std::size_t count_ = 0;
  std::size_t next_ = 0;
  TimeNs last_at_ = 0;
  Fit fit_;
  Point base_;                                 // the newest point when fitted
  double drift_ = 0;                           // fraction, not ppm
  double drift_error_ = kAssumedMaxDriftPpm * 1e-6;
};

// The full t1 of the last timed Pings sent to one member. Only t1's low 32 bits travel
// (docs/wire-format.md, "Mesh clock timestamps"); an Ack is a sample only if its echo
// matches one of these, which also turns away a stale or forged Ack whose 32 bits would
// restore to a wrong time.
class SentPings {
 public:
  static constexpr std::size_t kKept = 4;  // SWIM probe, its second try, the clock ping: in flight at once
  void record(TimeNs t1) {
    sent_[next_] = t1;
    next_ = (next_ + 1) % kKept;
  }
  // The newest recorded t1 with these low 32 bits, or nullopt.
  std::optional<TimeNs> match(std::uint32_t t1_low32) const;

 private:
  std::array<TimeNs, kKept> sent_{};
  std::size_t next_ = 0;
};

// The mesh clock's record of one member (Peer::clock).
struct PeerClock {
  OffsetEstimator estimator;
  SentPings pings;
  bool has_mesh_time = false;       // its last timed ack carried its mesh time
  std::int64_t mesh_offset_ns = 0;  // its mesh time minus its clock
  std::uint64_t mesh_error_ns = 0;
  TimeNs mesh_reported_at = 0;      // our clock when that ack arrived
};

// The fault injector's clock shift (knobs fault_clock_offset_us, fault_clock_drift_ppm):
// this node's clock as everything that stamps or reads time of day in the mesh sees it.
struct ClockShift {
  std::int64_t offset_ns = 0;
  double drift_ppm = 0;
  TimeNs origin = 0;  // the drift accumulates from here (the node's start)
  TimeNs local(TimeNs raw) const;
};

}  // namespace hana::topology
