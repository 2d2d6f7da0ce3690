// Fault injection as a seeded decorator in front of a Backend (after Aeron's loss
// transport and msquic's RandomLossHelper): drops, duplicates, delays and reorders
// datagrams on the way out and/or in. Off by default; the same knobs serve tests and
// field diagnosis. Same seed + same sequence of datagrams = same decisions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/backend.h"
#include "protocol/prng.h"
#include "hana/config.h"

namespace hana::engine {

struct FaultParams {
  double loss_pct = 0;
  double duplicate_pct = 0;
  double reorder_pct = 0;
  TimeNs reorder_hold_ns = 0;
  TimeNs delay_ns = 0;
  TimeNs jitter_ns = 0;
  bool outbound = true;
  bool inbound = false;
  bool drop_udp = false;  // both ways, whatever outbound/inbound say; streams pass

  static FaultParams from(const Config& config);
  bool active() const {
    return loss_pct > 0 || duplicate_pct > 0 || reorder_pct > 0 || delay_ns > 0 || jitter_ns > 0;
  }
};

class FaultInjector final : public Backend {
 public:
  FaultInjector(std::unique_ptr<Backend> inner, std::uint64_t seed, std::uint32_t queue_datagrams,
                std::uint32_t max_datagram_bytes, Counters& counters);
  void set_params(const FaultParams& params) { params_ = params; }

  BackendKind kind() const override { return inner_->kind(); }
  MutableBytes send_buffer() override;
  // Faults act on whole datagrams: a gathered one is joined in its slot first.
  void commit_send(const Address& to, std::size_t size, bool alone, const protocol::Gathered& gathered) override;
  void take_unpinned(std::vector<std::uint32_t>& out) override;
  void flush() override;
  void wait(TimeNs deadline, ReceiveSink& sink) override;
  void wake() override { inner_->wake(); }
  void set_gso(bool on) override { inner_->set_gso(on); }
  Result<void> add_receive_socket(int fd) override { return inner_->add_receive_socket(fd); }
  // The TCP path: only fault_loss_pct applies (outbound), see commit_stream_send;
  // fault_drop_udp leaves streams alone.
  Result<void> add_stream_listener(int fd, const Address& local, const TcpOptions& options) override {
    return inner_->add_stream_listener(fd, local, options);
  }
  void commit_stream_send(const Address& to, std::size_t size) override;
  std::uint32_t stream_count() const override { return inner_->stream_count(); }
  bool shared_capable() const override { return inner_->shared_capable(); }
  bool block(TimeNs deadline, bool standby) override { return inner_->block(deadline, standby); }
  void kick_standby() override { inner_->kick_standby(); }
  void arm_standby(TimeNs at) override { inner_->arm_standby(at); }
  TimeNs held_until() const override {
    return std::min(inner_->held_until(), active_.empty() ? kNoDeadline : next_release());
  }

 private:
  enum class Verdict : std::uint8_t { Pass, Drop, Duplicate, Delay };
  struct Held {
    TimeNs release;
    Address peer;
    std::uint32_t size;
    bool inbound;
  };
  class InboundSink;

  Verdict decide(TimeNs& delay_ns);
  bool inbound_faults() const { return params_.inbound && params_.active(); }
  bool hold(const Address& peer, Bytes bytes, TimeNs release, bool inbound);
  void release_due(TimeNs now, ReceiveSink* sink);
  TimeNs next_release() const;
  double roll();  // uniform [0, 100)

  std::unique_ptr<Backend> inner_;
  Counters& counters_;
  FaultParams params_;
  protocol::Prng rng_;
  std::uint32_t capacity_;
  std::uint32_t slot_bytes_;
  std::unique_ptr<std::uint8_t[]> memory_;  // allocated on first delay
  std::vector<Held> held_;                   // slot i's metadata; size = capacity
  std::vector<std::uint32_t> active_;        // held slot indices
  std::vector<std::uint32_t> free_;
  std::vector<std::uint32_t> unpinned_;      // pins of datagrams joined or dropped here
  MutableBytes last_buffer_;
};

}  // namespace hana::engine
