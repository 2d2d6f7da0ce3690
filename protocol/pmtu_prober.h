// Path-MTU discovery for one connection (DPLPMTUD, RFC 8899), the part a LAN needs.
//
// Every path is assumed to carry base_datagram_bytes. A connection that has a message
// needing more than one datagram (want()) probes larger sizes: a datagram of just the
// probe size (PING and PADDING), not counted as data in flight and not congestion if
// lost. Candidates are the link MTUs hosts actually run (loopback 65536, jumbo 9000,
// Ethernet 1500) less what the path adds below our datagram (IP and UDP headers, the
// seal), capped by max_datagram_bytes, largest first: loopback finds 64 KiB datagrams
// with one probe, and a 1500-byte LAN tries 64 KiB and 9000 (which its socket refuses at
// once: the engine sets don't-fragment) before it confirms 1500. An acked probe sets the
// size for good; MAX_PROBES (3) lost probes of one size move on to the next candidate.
// After a search that stopped below the largest candidate the connection searches again
// after kRaiseNs (RFC 8899's PMTU_RAISE_TIMER). The size never shrinks: fragments already
// cut to it must stay sendable (no black-hole detection; a path whose MTU drops loses the
// connection, and its successor searches afresh).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>

#include "hana/types.h"

namespace hana::protocol {

class PmtuProber {
 public:
  static constexpr std::size_t kMaxProbes = 3;
  static constexpr TimeNs kRaiseNs = 600 * kNsPerSec;
  static constexpr std::array<std::size_t, 3> kLinkMtus{65536, 9000, 1500};

  // base: the size in use until a probe proves more; max: the cap; below: bytes the path
  // adds under each datagram. Keeps a size already confirmed (a knob change is no reason
  // to forget what the path carries), and with the same three values the search too: every
  // runtime knob change reconfigures every connection, and a search over would otherwise
  // start again (six refused probes per connection on a 1500-byte LAN).
  void configure(std::size_t base, std::size_t max, std::size_t below) {
    if (base == base_ && std::max(max, base) == max_ && below == below_) return;
    base_ = base;
    max_ = std::max(max, base);
    below_ = below;
    current_ = std::clamp(current_, base_, max_);
    candidate_ = 0;
    attempts_ = 0;
  }
  void set_paused(bool on) { paused_ = on; }  // a stream path: no datagrams to size
  void want() { wanted_ = true; }       // a message needed more than one datagram

  std::size_t current() const { return current_; }

  // The size to probe now, or 0: not wanted, one is in flight, the search is over (until
  // its raise timer), or no candidate is larger than what the path already carries.
  std::size_t probe_due(TimeNs now) {
    if (!may_probe(now)) return 0;
    if (candidate_ >= kLinkMtus.size()) {
      candidate_ = 0;  // the raise timer (may_probe): search again from the top
      attempts_ = 0;
    }
    while (candidate_ < kLinkMtus.size() && size_of(candidate_) <= current_) ++candidate_;
    if (candidate_ >= kLinkMtus.size()) {
      finish(now);
      return 0;
    }
    return size_of(candidate_);
  }
  // Whether probe_due(now) could return a size (true may still find none), without
  // changing the search: probe_due's own gate, and a caller's "is another poll worth it".
  bool may_probe(TimeNs now) const {
    if (paused_ || !wanted_ || outstanding_ != 0) return false;
    return candidate_ < kLinkMtus.size() || (done_at_ != 0 && now >= done_at_ + kRaiseNs && current_ < largest());
  }
  void on_sent(std::size_t size) {
    outstanding_ = size;
    ++probes_sent_;
  }
  // True when the size in use grew.
  bool on_acked(std::size_t size, TimeNs now) {
    if (size != outstanding_) return false;
    outstanding_ = 0;
    if (size <= current_) return false;
    current_ = size;
    finish(now);  // candidates are tried largest first: nothing smaller is worth a probe
    return true;
  }
  void on_lost(std::size_t size, TimeNs now) {
    if (size != outstanding_) return;
    outstanding_ = 0;
    ++probes_lost_;
    if (++attempts_ < kMaxProbes) return;
    attempts_ = 0;
    if (++candidate_ >= kLinkMtus.size()) finish(now);
  }

  // The probe will get no answer worth reading (its connection moved onto a stream).
  void on_abandoned(std::size_t size) {
    if (size == outstanding_) outstanding_ = 0;
  }

  std::uint64_t probes_sent() const { return probes_sent_; }
  std::uint64_t probes_lost() const { return probes_lost_; }

 private:
  std::size_t size_of(std::size_t i) const {
    const std::size_t mtu = kLinkMtus[i];
    return mtu > below_ ? std::min(mtu - below_, max_) : 0;
  }
  std::size_t largest() const { return size_of(0); }
  void finish(TimeNs now) {
    candidate_ = kLinkMtus.size();
    done_at_ = std::max<TimeNs>(now, 1);
  }

  std::size_t base_ = 0;
  std::size_t max_ = 0;
  std::size_t below_ = 0;
  std::size_t current_ = 0;
  std::size_t candidate_ = 0;    // index into kLinkMtus being probed
  std::size_t attempts_ = 0;     // probes of that candidate lost so far
  std::size_t outstanding_ = 0;  // size of the probe in flight (0: none)
  TimeNs done_at_ = 0;           // when the last search ended (0: never)
  bool wanted_ = false;
  bool paused_ = false;
  std::uint64_t probes_sent_ = 0;
  std::uint64_t probes_lost_ = 0;
};

}  // namespace hana::protocol
