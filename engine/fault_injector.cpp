#include "engine/fault_injector.h"

#include <algorithm>
#include <cstring>

#include "engine/clock.h"

namespace hana::engine {

FaultParams FaultParams::from(const Config& c) {
  FaultParams p;
  p.loss_pct = c.fault_loss_pct;
  p.duplicate_pct = c.fault_duplicate_pct;
  p.reorder_pct = c.fault_reorder_pct;
  p.reorder_hold_ns = c.fault_reorder_hold_us * kNsPerUs;
  p.delay_ns = c.fault_delay_us * kNsPerUs;
  p.jitter_ns = c.fault_jitter_us * kNsPerUs;
  p.outbound = c.fault_outbound;
  p.inbound = c.fault_inbound;
  p.drop_udp = c.fault_drop_udp;
  return p;
}

// Applies inbound faults to what the inner backend receives.
class FaultInjector::InboundSink final : public ReceiveSink {
 public:
  InboundSink(FaultInjector& f, ReceiveSink& next) : f_(f), next_(next) {}
  void on_datagram(const Address& from, Bytes bytes, TimeNs received_at) override {
    if (f_.params_.drop_udp) {
      f_.counters_.add(EngineCounter::fault_dropped);
      return;
    }
    if (!f_.inbound_faults()) {
      next_.on_datagram(from, bytes, received_at);
      return;
    }
    TimeNs delay = 0;
    switch (f_.decide(delay)) {
      case Verdict::Pass: next_.on_datagram(from, bytes, received_at); break;
      case Verdict::Drop: break;
      case Verdict::Duplicate:
        next_.on_datagram(from, bytes, received_at);
        next_.on_datagram(from, bytes, received_at);
        break;
      case Verdict::Delay:  // released later: received then, as far as the node can tell
        if (!f_.hold(from, bytes, monotonic_now_ns() + delay, true)) next_.on_datagram(from, bytes, received_at);
        break;
    }
  }
  // The TCP path passes untouched (only outbound loss applies to it, at the send).
  void on_stream_datagram(const Address& from, Bytes bytes) override { next_.on_stream_datagram(from, bytes); }
  void on_stream_closed(const Address& peer) override { next_.on_stream_closed(peer); }
  bool batch_done() override { return next_.batch_done(); }

 private:
  FaultInjector& f_;
  ReceiveSink& next_;
};

FaultInjector::FaultInjector(std::unique_ptr<Backend> inner, std::uint64_t seed, std::uint32_t queue_datagrams,
                             std::uint32_t max_datagram_bytes, Counters& counters)
    : inner_(std::move(inner)), counters_(counters), rng_(seed), capacity_(queue_datagrams),
      slot_bytes_(max_datagram_bytes) {}

double FaultInjector::roll() { return rng_.unit() * 100.0; }  // percent

FaultInjector::Verdict FaultInjector::decide(TimeNs& delay_ns) {
  if (params_.loss_pct > 0 && roll() < params_.loss_pct) {
    counters_.add(EngineCounter::fault_dropped);
    return Verdict::Drop;
  }
  if (params_.duplicate_pct > 0 && roll() < params_.duplicate_pct) {
    counters_.add(EngineCounter::fault_duplicated);
    return Verdict::Duplicate;
  }
  delay_ns = params_.delay_ns;
  if (params_.jitter_ns > 0) delay_ns += static_cast<TimeNs>(roll() / 100.0 * static_cast<double>(params_.jitter_ns));
  if (params_.reorder_pct > 0 && roll() < params_.reorder_pct) delay_ns += params_.reorder_hold_ns;
  if (delay_ns == 0) return Verdict::Pass;
  counters_.add(EngineCounter::fault_delayed);
  return Verdict::Delay;
}

bool FaultInjector::hold(const Address& peer, Bytes bytes, TimeNs release, bool inbound) {
  if (bytes.size() > slot_bytes_) return false;
  if (!memory_) {
    memory_.reset(new std::uint8_t[std::size_t{capacity_} * slot_bytes_]);
    held_.resize(capacity_);
    active_.reserve(capacity_);
    free_.reserve(capacity_);
    for (std::uint32_t i = capacity_; i-- > 0;) free_.push_back(i);
  }
  if (free_.empty()) return false;  // full: let it pass undelayed rather than block
  const std::uint32_t slot = free_.back();
  free_.pop_back();
  std::memcpy(memory_.get() + std::size_t{slot} * slot_bytes_, bytes.data(), bytes.size());
  held_[slot] = Held{release, peer, static_cast<std::uint32_t>(bytes.size()), inbound};
  active_.push_back(slot);
  return true;
}

TimeNs FaultInjector::next_release() const {
  TimeNs next = kNoDeadline;
  for (std::uint32_t slot : active_) next = std::min(next, held_[slot].release);
  return next;
}

void FaultInjector::release_due(TimeNs now, ReceiveSink* sink) {
  // Release in deadline order so a fixed delay keeps the original order.
  for (;;) {
    std::size_t best = active_.size();
    for (std::size_t i = 0; i < active_.size(); ++i) {
      const Held& h = held_[active_[i]];
      if (h.release > now || (sink == nullptr && h.inbound) || (sink != nullptr && !h.inbound)) continue;
      if (best == active_.size() || h.release < held_[active_[best]].release) best = i;
    }
    if (best == active_.size()) return;
    const std::uint32_t slot = active_[best];
    const Held& h = held_[slot];
    const Bytes bytes{memory_.get() + std::size_t{slot} * slot_bytes_, h.size};
    if (h.inbound) {
      sink->on_datagram(h.peer, bytes, 0);
    } else {
      MutableBytes out = inner_->send_buffer();
      if (out.empty()) return;  // every send slot busy: retry next turn
      std::memcpy(out.data(), bytes.data(), bytes.size());
      inner_->commit_send(h.peer, bytes.size(), false, {});
    }
    active_[best] = active_.back();
    active_.pop_back();
    free_.push_back(slot);
  }
}

// Only loss applies to the TCP path (a datagram that never reaches the stream, e.g. to
// make a peer go silent); duplication, delay and reordering are UDP's faults.
void FaultInjector::commit_stream_send(const Address& to, std::size_t size) {
  if (params_.outbound && params_.loss_pct > 0 && roll() < params_.loss_pct) {
    counters_.add(EngineCounter::fault_dropped);
    return;
  }
  inner_->commit_stream_send(to, size);
}

MutableBytes FaultInjector::send_buffer() {
  last_buffer_ = inner_->send_buffer();
  return last_buffer_;
}

void FaultInjector::take_unpinned(std::vector<std::uint32_t>& out) {
  inner_->take_unpinned(out);
  out.insert(out.end(), unpinned_.begin(), unpinned_.end());
  unpinned_.clear();
}

void FaultInjector::commit_send(const Address& to, std::size_t size, bool alone, const protocol::Gathered& gathered) {
  if (params_.drop_udp) {  // the slot is never committed: it stays free
    counters_.add(EngineCounter::fault_dropped);
    if (gathered.pin != protocol::kNoPin) unpinned_.push_back(gathered.pin);
    return;
  }
  if (!params_.outbound || !params_.active()) {
    inner_->commit_send(to, size, alone, gathered);
    return;
  }
  if (!gathered.empty()) {  // the slot holds the whole datagram's room (send_buffer's size)
    size = protocol::flatten(last_buffer_, size, gathered);
    if (gathered.pin != protocol::kNoPin) unpinned_.push_back(gathered.pin);
  }
  TimeNs delay = 0;
  switch (decide(delay)) {
    case Verdict::Pass: inner_->commit_send(to, size, alone, {}); break;
    case Verdict::Drop: break;  // the slot was never committed: it stays free
    case Verdict::Duplicate: {
      inner_->commit_send(to, size, alone, {});
      MutableBytes copy = inner_->send_buffer();
      if (!copy.empty() && last_buffer_.data() != copy.data()) {
        std::memcpy(copy.data(), last_buffer_.data(), size);
        inner_->commit_send(to, size, true, {});  // a duplicate: its own datagram
      }
      break;
    }
    case Verdict::Delay:
      if (!hold(to, Bytes{last_buffer_.data(), size}, monotonic_now_ns() + delay, false))
        inner_->commit_send(to, size, alone, {});
      break;
  }
}

void FaultInjector::flush() { inner_->flush(); }

void FaultInjector::wait(TimeNs deadline, ReceiveSink& sink) {
  if (!active_.empty()) {
    release_due(monotonic_now_ns(), nullptr);
    deadline = std::min(deadline, next_release());
  }
  if (!inbound_faults() && !params_.drop_udp) {
    inner_->wait(deadline, sink);
  } else {
    InboundSink faulty(*this, sink);
    inner_->wait(deadline, faulty);
  }
  if (!active_.empty()) release_due(monotonic_now_ns(), &sink);
}

}  // namespace hana::engine
