// Time-driven work: loss detection (packet and time thresholds), probe timeouts with
// backoff, per-message retry budget and deadline, idle timeout and keepalive.
#include <algorithm>

#include "protocol/connection_impl.h"

namespace hana::protocol {

void Connection::Impl::on_packet_acked(const SentPacket& p) {
  for (std::size_t i = 0; i < p.ref_count; ++i) {
    const FrameRef& r = p.refs[i];
    if (r.kind != FrameRef::Kind::Data || !out.valid(r.slot, static_cast<std::uint32_t>(r.value))) continue;
    OutMessage& m = out[r.slot];
    if (m.fragment_acked(r.fragment)) continue;
    m.set_fragment_acked(r.fragment);
    if (++m.acked_count == m.fragment_count) {
      if (m.delivered_event) push_event(DeliveredEvent{m.id, m.lane});
      ++stats.lanes[static_cast<std::size_t>(m.lane)].delivered;
      out.free(r.slot);
    }
  }
}

bool Connection::Impl::requeue_fragment(std::uint32_t slot, std::uint32_t fragment, bool by_probe) {
  OutMessage& m = out[slot];
  if (m.fragment_acked(fragment)) return false;
  // One probe timeout may resend a message up to three times (the oldest packet, the
  // newest one that repeats it, and a probe that repeats the first). A round counts once,
  // as a whole message's worth (every fragment), so the budget measures rounds of silence,
  // not copies: a peer deaf for max_retransmits backed-off timeouts fails the message, not
  // one deaf for 100 ms. A loss the acks reveal counts one fragment.
  if (!by_probe) {
    ++m.retransmits;
  } else if (m.probe_round != probe_round) {
    m.probe_round = probe_round;
    m.retransmits += m.fragment_count;
  }
  // The budget scales with the fragment count: each fragment may be resent
  // max_retransmits times on average before the message is given up.
  const std::uint64_t budget = std::uint64_t{cfg.max_retransmits} * m.fragment_count;
  if (m.retransmits > budget) {
    fail(slot, FailReason::RetryBudget);
    return false;
  }
  out.lane(m.lane).retx.push_back(RetxEntry{slot, m.gen, fragment});
  return true;
}

void Connection::Impl::requeue_frames(SentPacket& p) {
  // A packet a probe timeout already resent is covered by the probe's own packet: its
  // frames are not queued a second time.
  if (p.requeued != 0) return;
  for (std::size_t i = 0; i < p.ref_count; ++i) {
    const FrameRef& r = p.refs[i];
    if (r.kind == FrameRef::Kind::Skip) {
      pending_skips.push_back(SkipFrame{static_cast<Lane>(r.lane), static_cast<Delivery>(r.delivery), r.value});
    } else if (out.valid(r.slot, static_cast<std::uint32_t>(r.value)) && requeue_fragment(r.slot, r.fragment, false)) {
      ++p.requeued;
    }
  }
}

void Connection::Impl::leave_flight(const SentPacket& p) {
  bytes_in_flight -= p.size_bytes;
  lower_bytes_in_flight -= p.lower_bytes;
}

void Connection::Impl::on_packet_lost(std::uint64_t pn, SentPacket& p) {
  ++stats.packets_lost;
  requeue_frames(p);
  lost_history.add(pn, p.time_sent, p.requeued);
}

// The path moved onto a stream: the packets in flight went over UDP, and with loss
// detection off nothing would ever repair one UDP lost (an ordered lane would wait for it
// for good). Their frames go again, over the stream; one that did arrive is a duplicate
// the peer drops (packet numbers and dedup belong to the connection, not to a path). Not
// counted as losses, and not kept in lost_history: a late ack of one says nothing about
// reordering on the path.
void Connection::Impl::requeue_in_flight() {
  for (std::uint64_t pn = sent.base_pn(); pn < sent.next_pn(); ++pn) {
    SentPacket* p = sent.find(pn);
    if (!p) continue;
    if (p->in_flight) leave_flight(*p);
    if (p->pmtu_probe != 0) pmtu.on_abandoned(p->pmtu_probe);
    requeue_frames(*p);
    sent.settle(pn);
  }
  loss_time.reset();
}

void Connection::Impl::detect_losses(TimeNs now) {
  if (!has_largest_acked) {
    loss_time.reset();
    return;
  }
  std::uint64_t lost_bytes = 0;
  TimeNs newest_lost = 0;
  bool any_lost = false;
  // RACK: once the path has shown reordering, only time declares a packet lost, with the
  // reordering window added; the packet count would misfire on every reordering. On a
  // stream nothing is reordered or lost while it lives, so only a packet older than
  // kStreamRepairNs below an acked one counts: lost with a stream that broke (or never
  // taken by one: a dial that failed).
  const std::uint32_t threshold = reorder.seen() || stream_path ? 0 : loss_cfg.packet_threshold;
  TimeNs delay = loss_delay_ns(rtt, loss_cfg.time_threshold, reorder.extent_ns());
  if (stream_path) delay = std::max(delay, kStreamRepairNs);
  loss_time = detect_lost(sent, largest_acked, now, delay, threshold, [&](std::uint64_t pn, SentPacket& p) {
                            if (p.pmtu_probe != 0) {  // the path does not carry its size: no loss
                              pmtu.on_lost(p.pmtu_probe, now);
                              return;
                            }
                            if (p.in_flight) {
                              leave_flight(p);
                              lost_bytes += p.size_bytes;
                              newest_lost = std::max(newest_lost, p.time_sent);
                            }
                            any_lost = true;
                            on_packet_lost(pn, p);
                          });
  if (any_lost) reorder.on_losses();
  if (lost_bytes > 0) cc.on_loss(LossEvent{lost_bytes, newest_lost, now, false});
}

std::optional<TimeNs> Connection::Impl::pto_deadline() const {
  if (sent.in_flight_count() == 0) return std::nullopt;
  const TimeNs pto = pto_duration_ns(rtt, loss_cfg, pto_backoff, reorder.extent_ns());
  if (stream_path) return last_eliciting_sent + std::max(pto, kStreamRepairNs << std::min<std::uint32_t>(pto_backoff, 5));
  return last_eliciting_sent + pto;
}

bool Connection::Impl::probe_packet(SentPacket& p, bool mark) {
  bool requeued = false;
  for (std::size_t i = 0; i < p.ref_count; ++i) {
    const FrameRef& r = p.refs[i];
    if (r.kind == FrameRef::Kind::Skip) {
      pending_skips.push_back(SkipFrame{static_cast<Lane>(r.lane), static_cast<Delivery>(r.delivery), r.value});
      requeued = true;
    } else if (out.valid(r.slot, static_cast<std::uint32_t>(r.value)) && requeue_fragment(r.slot, r.fragment, true)) {
      if (mark) ++p.requeued;
      requeued = true;
    }
  }
  return requeued;
}

void Connection::Impl::on_pto(TimeNs /*now*/) {
  ++stats.pto_count;
  ++pto_backoff;
  ++probe_round;
  if (stream_path) {
    // TCP repairs within one stream, but not what a stream that broke (reset, closed, a
    // dial that failed) held or never took: after a silence of seconds, everything in
    // flight goes again (a new stream is dialed for it).
    requeue_in_flight();
    return;
  }
  // Two probes (RFC 9002 6.2.4): on a lossy LAN one lost probe must not cost a whole
  // backed-off timeout. They carry reliable data, so a lost message is repaired now
  // instead of waiting for later traffic to reveal the gap: the oldest unacknowledged
  // packet (what an ordered lane waits for) and, as RACK's tail-loss probe, the newest
  // one (the last packet of the burst: its ack lets the time threshold declare every
  // packet between them lost at once). When both fit one datagram, the second probe
  // repeats the first (poll_transmit), so one lost probe does not cost a backed-off
  // timeout.
  probes_pending = kProbePackets;
  SentPacket* oldest = nullptr;
  std::uint64_t oldest_pn = 0;
  for (std::uint64_t pn = sent.base_pn(); pn < sent.next_pn(); ++pn) {
    SentPacket* p = sent.find(pn);
    if (p && p->ref_count != 0) {
      oldest = p;
      oldest_pn = pn;
      break;
    }
  }
  SentPacket* newest = nullptr;
  for (std::uint64_t pn = sent.next_pn(); oldest && pn-- > oldest_pn + 1;) {
    SentPacket* p = sent.find(pn);
    if (p && p->ref_count != 0) {
      newest = p;
      break;
    }
  }
  bool any = false;
  if (oldest) any |= probe_packet(*oldest);
  if (newest) any |= probe_packet(*newest);
  if (!any) ping_pending = true;  // nothing left to resend: a PING elicits the ack we wait for
}

void Connection::Impl::check_deadlines(TimeNs now) {
  if (cfg.message_deadline_ms == 0) return;
  const TimeNs deadline = cfg.message_deadline_ms * kNsPerMs;
  for (std::uint32_t s = out.oldest_live(); s != kNoSlot && now >= out[s].created + deadline; s = out.oldest_live())
    fail(s, FailReason::Deadline);
}

void Connection::Impl::on_timeout(TimeNs now) {
  if (state != State::Open) return;
  check_deadlines(now);
  if (loss_time && now >= *loss_time) {
    detect_losses(now);
    report_congestion();
  }
  // Checked after the loss timer: once that has declared its packets lost, an overdue
  // probe timeout must fire in the same call (else the deadline stays in the past).
  if (!loss_time) {
    const auto pto = pto_deadline();
    if (pto && now >= *pto) on_pto(now);
  }
  if (now >= last_received + cfg.idle_timeout_ms * kNsPerMs) {
    enter_closed(CloseReason::IdleTimeout, false, true);
    return;
  }
  if (now >= last_sent + cfg.keepalive_interval_ms * kNsPerMs) ping_pending = true;
  if (blocked_until && now >= *blocked_until) blocked_until.reset();
}

std::optional<TimeNs> Connection::Impl::next_timeout() const {
  if (state == State::Closed) return std::nullopt;
  if (state == State::Closing) return TimeNs{0};  // the CLOSE frame is due now
  TimeNs t = last_received + cfg.idle_timeout_ms * kNsPerMs;
  auto consider = [&t](std::optional<TimeNs> d) {
    if (d && *d < t) t = *d;
  };
  consider(acks.ack_deadline());
  if (loss_time) consider(loss_time);
  else consider(pto_deadline());
  if (!ping_pending) consider(last_sent + cfg.keepalive_interval_ms * kNsPerMs);
  if (cfg.message_deadline_ms != 0 && out.oldest_live() != kNoSlot)
    consider(out[out.oldest_live()].created + cfg.message_deadline_ms * kNsPerMs);
  consider(blocked_until);
  consider(copies.next_due());
  return t;
}

}  // namespace hana::protocol
