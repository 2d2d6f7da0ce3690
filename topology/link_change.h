// When a link's measurement has changed enough to be worth telling the mesh: a test
// against the link's own noise, not a fixed threshold. Pure (no mesh state), tested alone.
//
// Why: real RTTs on a loaded host jitter by more than any fixed band (a probe's ack waits
// for the peer process to be scheduled), so a fixed max(25 %, 100 µs) threshold re-reported
// every link every interval and 100 nodes spent ~480 KB/s each saying nothing (issue 18).
// Host noise is mostly one-sided and bursty (a late wake-up adds delay, never removes it),
// so the estimate is robust: the median of the link's last kRttWindow samples, with the
// median absolute deviation (MAD) as its spread. A single late ack, or a burst of fewer
// than half the window, moves neither; a real step moves the median once most of the
// window saw it.
#pragma once

#include <array>
#include <cstdint>

namespace hana::topology {

inline constexpr std::size_t kRttWindow = 8;

// The last kRttWindow RTT samples of one link, µs, and what the link's earlier windows
// looked like. Fixed size: no allocation.
struct RttWindow {
  std::array<std::uint32_t, kRttWindow> us{};
  std::uint8_t count = 0;  // samples held (≤ kRttWindow)
  std::uint8_t next = 0;   // ring position of the next sample
  std::uint8_t fresh = 0;  // samples since the last closed window (saturates)
  std::uint64_t window_median = 0;  // median of the last closed window (0: none yet)
  double level_dev_us = 0;          // how much the medians of successive windows moved (EWMA)

  void add(std::uint64_t rtt_us);
  void clear() { *this = RttWindow{}; }
  bool empty() const { return count == 0; }
  // The ring holds kRttWindow samples none of which an earlier window judged: disjoint
  // windows, so one burst of late acks is judged once, not once per sample.
  bool window_full() const { return fresh >= kRttWindow; }
  // Records this window's median in the link's history (level_dev_us) and starts the next.
  void close_window();
  std::uint64_t median() const;  // 0 when empty
  // The robust standard deviation: 1.4826 × MAD (equal to σ for normal noise), µs.
  std::uint64_t spread() const;
};

// Knobs of the test; the defaults are what the mesh uses (chosen in issue 18, see
// docs/topology.md "Link quality: what counts as a change").
struct ChangeTest {
  // An RTT that did not grow by this share (or shrink by the same ratio) never counts.
  // "A change that matters" is a doubling or a halving; the median of 8 samples of a
  // loaded host moves by up to ~×1.5 between windows on its own (hana-sim mesh's host
  // noise), so the band sits between the two.
  double rtt_rel = 0.75;
  // ... nor one inside this many robust σ of the window's own samples (1.4826 × MAD)...
  double rtt_sigmas = 3.0;
  // ... nor one inside this many of the link's usual move between window medians
  // (level_dev_us ≈ 1.13 × the σ of a median; the move from the reported median to this
  // one has σ ≈ 1.25 × level_dev_us, so 5 is 4 σ). The MAD of 8 samples alone
  // underestimates σ for the lumpy distributions of real hosts; the history does not.
  double rtt_level_devs = 5.0;
  // ... nor one below the measurement's resolution on a host: 100 `hana-net node`
  // processes on one 2-vCPU VM's loopback moved idle links' medians between ~30 and ~70 µs
  // as the scheduler placed them (28-45 µs moves, 1 per 2.5 s in a 32-node mesh, each a
  // digest to every member); a LAN link's doubling (>= 100 µs) stays far above it.
  std::uint64_t rtt_floor_us = 50;
  // rtt_settles: a first full window this far from the first report corrects it. Tight,
  // not rtt_rel: a provisional value left up to ×1.75 off biases every later judgement
  // (tried: idle reports at 32 simulated nodes rose from ~0 to 0.44 per node per second).
  double rtt_first_rel = 0.25;
  double loss_points = 0.01;       // a loss move smaller than 1 point never counts
  double loss_sigmas = 3.0;        // ... nor one a binomial draw at the reported rate explains
};

// The RTT now (median of a full, disjoint window) differs from the reported one by more
// than the link's noise allows: by more than the ratio rtt_rel, more than rtt_sigmas of
// the window's own spread and of how much the link's window medians usually move
// (level_dev_us: real hosts shift RTT levels now and then — which CPU a process runs on,
// a neighbour's load — and a link that does so has a wider band), and more than the
// floor. reported_us == 0 (never reported) is always a change once there is a sample.
bool rtt_changed(std::uint64_t reported_us, const RttWindow& w, const ChangeTest& t = {});

// A link is shown as soon as it is measured, so its first report rests on one sample or a
// few. The first full window corrects it unless the two agree within rtt_first_rel: a
// one-time correction per link, not judged against noise the first sample could not show.
bool rtt_settles(std::uint64_t provisional_us, const RttWindow& w, const ChangeTest& t = {});

// `lost` of `sent` packets in the window is more than chance at the reported rate
// allows (normal approximation of the binomial, plus one packet of slack so that a
// single loss on a clean link is not news) and the rate moved by more than loss_points.
bool loss_changed(double reported_rate, std::uint64_t lost, std::uint64_t sent, const ChangeTest& t = {});

}  // namespace hana::topology
