// Datagram processing: duplicate packets, ACK frames (settle sent packets, RTT, loss
// detection), DATA (reassembly, ordering, latest-value), SKIP and CLOSE.
#include <algorithm>
#include <cstring>
#include <vector>

#include "protocol/codec.h"
#include "protocol/connection_impl.h"

namespace hana::protocol {

Connection::Arrival Connection::Impl::on_datagram(const DatagramView& dv, TimeNs now, bool via_stream) {
  if (state != State::Open) return Connection::Arrival::Dropped;
  // Decode every frame before acting on any, so a malformed tail cannot leave a
  // half-applied packet behind. Once, into a per-thread scratch (at most
  // kMaxFramesPerDatagram frames, ~34 KB, grown once per thread): decoding twice, to
  // validate and then to apply, was ~12 % of a receiver's instructions per 64 B message
  // and ~7 % per MTU-size datagram (callgrind).
  thread_local std::vector<Frame> frames;
  if (frames.capacity() == 0) frames.reserve(kMaxFramesPerDatagram + 1);  // one allocation per thread
  frames.clear();
  {
    FrameReader reader(dv.frames);
    for (;;) {
      Frame& f = frames.emplace_back();
      if (!reader.next(f)) break;
    }
    frames.pop_back();
    if (reader.error()) {
      ++stats.bad_packets;
      return Connection::Arrival::Dropped;
    }
  }
  const std::uint64_t pn = dv.header.packet_number;
  const bool reordered = acks.any_received() && pn != acks.largest() + 1;
  if (acks.on_packet(pn, now) == AckTracker::Arrival::Duplicate) {
    // Dropped without a new ACK: a retransmission always has a new packet number, so a
    // repeated number is a copy (network duplication, or the peer's high_redundancy
    // copy) of a packet already acked or about to be, and acking it again would only
    // double the ACKs that redundancy costs.
    ++stats.duplicate_packets;
    return Connection::Arrival::Duplicate;
  }
  ++stats.packets_received;
  stats.bytes_received += dv.frames.size() + datagram_overhead(dv.header);
  last_received = now;

  bool eliciting = false;
  bool urgent = false;
  for (const Frame& frame : frames) {
    if (state != State::Open) break;
    switch (frame.index()) {
      case 0:  // Padding
        break;
      case 2:  // Ack
        on_ack_frame(std::get<AckFrame>(frame), now);
        break;
      case 3: {  // Data
        const DataFrame& d = std::get<DataFrame>(frame);
        eliciting = true;
        if (d.lane == Lane::Control || d.lane == Lane::High) urgent = true;
        on_data_frame(d, now);
        break;
      }
      case 4:  // Close
        enter_closed(std::get<CloseFrame>(frame).reason, true, false);
        break;
      case 8:  // Skip
        eliciting = true;
        on_skip_frame(std::get<SkipFrame>(frame));
        break;
      default:  // Ping; Handshake/Beacon/Gossip belong to the mesh: acked, otherwise ignored
        eliciting = true;
        break;
    }
  }
  // Over a stream the sender's loss detection is off (TCP repairs), so nothing waits on
  // this ack but a delivery confirmation: held for whatever goes to the peer next rather
  // than sent alone. Over TCP a lone ack was a segment, a wake-up and a loop turn at the
  // peer in every round trip, and its deadline, ~100 us out, kept the standby's timer
  // armed (engine/loop_role.cpp).
  if (state == State::Open) {
    if (via_stream && stream_ack_delay_ns > 0)
      acks.on_packet_processed(eliciting, false, reordered, now, stream_ack_delay_ns);
    else
      acks.on_packet_processed(eliciting, urgent, reordered, now, loss_cfg.max_ack_delay_ns, urgent_ack_delay_ns);
  }
  sync_budget();
  return Connection::Arrival::New;
}

void Connection::Impl::on_ack_frame(const AckFrame& ack, TimeNs now) {
  if (ack.range_count == 0) return;
  // Ranges naming packets we never sent are ignored (and counted); the rest of the frame
  // still counts, so one bogus packet the peer acked cannot stall our recovery forever.
  std::uint64_t largest = ack.largest();
  const bool clamped = largest >= sent.next_pn();
  if (clamped) {
    ++stats.unexpected_acks;
    bool any = false;
    for (const AckRange& r : ack.active())
      if (r.smallest < sent.next_pn()) {
        largest = std::min(r.largest, sent.next_pn() - 1);
        any = true;
        break;
      }
    if (!any) return;
  }
  // An ack for a packet already declared lost: the loss was spurious (reordering or a
  // late ack), and so were the retransmissions it caused; RACK widens its window.
  if (!lost_history.empty()) {
    std::uint64_t frames = 0;
    std::uint32_t spurious = 0;
    TimeNs first_sent = now;
    for (const AckRange& r : ack.active()) spurious += lost_history.take(r.smallest, r.largest, frames, first_sent);
    if (spurious > 0) {
      stats.spurious_losses += spurious;
      stats.spurious_retransmits += frames;
      reorder.on_spurious_loss(now - first_sent);
    }
  }
  const std::uint64_t previous_largest = largest_acked;
  const bool had_largest = has_largest_acked;
  std::uint64_t acked_bytes = 0;
  bool newly_acked = false;
  bool largest_newly_acked_eliciting = false;
  TimeNs largest_newly_acked_sent = 0;
  TimeNs largest_time = 0;
  for (const AckRange& r : ack.active()) {
    if (r.largest < sent.base_pn()) break;  // descending: the rest is older still
    if (r.smallest > largest) continue;     // beyond what we sent
    const std::uint64_t lo = r.smallest > sent.base_pn() ? r.smallest : sent.base_pn();
    const std::uint64_t hi = std::min(r.largest, largest);
    for (std::uint64_t pn = hi + 1; pn-- > lo;) {
      SentPacket* p = sent.find(pn);
      if (!p) continue;
      if (!newly_acked) {
        newly_acked = true;
        largest_newly_acked_sent = p->time_sent;
        // The peer's ack delay refers to its largest: no RTT sample from a clamped frame.
        largest_newly_acked_eliciting = p->ack_eliciting && pn == ack.largest() && !clamped;
      }
      if (p->time_sent > largest_time) largest_time = p->time_sent;
      if (p->requeued) stats.spurious_retransmits += p->requeued;  // a probe resent it needlessly
      // A probe is larger than what follows it and may be overtaken by its own size.
      if (had_largest && pn < previous_largest && p->pmtu_probe == 0) reorder.on_reordered(now - p->time_sent);
      if (p->pmtu_probe != 0 && pmtu.on_acked(p->pmtu_probe, now)) datagram_size_changed();
      if (p->in_flight) {
        leave_flight(*p);
        acked_bytes += p->size_bytes;
      }
      on_packet_acked(*p);
      sent.settle(pn);
    }
  }
  if (!has_largest_acked || largest > largest_acked) {
    has_largest_acked = true;
    largest_acked = largest;
  }
  if (!newly_acked) return;
  if (largest_newly_acked_eliciting) {
    TimeNs sample = now - largest_newly_acked_sent;
    TimeNs ack_delay = ack.ack_delay_us * kNsPerUs;
    // Our packets went over a stream, whose acks the peer holds up to stream_ack_delay_us
    // for a reply to carry (on_datagram): that wait is the peer's, not the path's, and is
    // taken off before the minimum sees it. Otherwise a node that mostly answers, whose
    // every ack came back a message period late, took the period for its RTT (and its
    // link reports with it).
    if (stream_path && ack_delay > loss_cfg.max_ack_delay_ns) {
      const TimeNs held = std::min(ack_delay, stream_ack_delay_ns);
      if (sample > held) {
        sample -= held;
        ack_delay = 0;
      }
    }
    rtt.on_sample(sample, ack_delay, loss_cfg.max_ack_delay_ns);
  }
  pto_backoff = 0;
  probes_pending = 0;
  if (acked_bytes > 0) lane_guard.on_acked(acked_bytes, now, rtt.smoothed_ns());
  if (acked_bytes > 0)
    cc.on_ack(AckEvent{acked_bytes, largest_time, now, rtt.smoothed_ns(), rtt.has_sample() ? rtt.min_ns() : 0});
  detect_losses(now);
  pacer.update(cc.pacing_rate_bytes_per_sec(rtt.smoothed_ns()), max_datagram(), now);
  report_congestion();
}

std::uint64_t Connection::Impl::peer_budget_left() const {
  const std::uint64_t used = reassembly.bytes() + held_bytes;
  return used >= cfg.reassembly_limit_bytes ? 0 : cfg.reassembly_limit_bytes - used;
}

std::uint64_t Connection::Impl::memory_budget_left() const {
  const std::uint64_t peer_left = peer_budget_left();
  if (!node_budget || node_budget->limit_bytes == 0) return peer_left;
  // What the node holds right now: the others' last report plus our current bytes.
  const std::uint64_t node_used = node_budget->used_bytes - node_charged + reassembly.bytes() + held_bytes;
  const std::uint64_t node_left = node_used >= node_budget->limit_bytes ? 0 : node_budget->limit_bytes - node_used;
  return std::min(peer_left, node_left);
}

void Connection::Impl::out_of_memory(std::uint64_t need, bool reliable) {
  if (node_budget && need <= peer_budget_left() && reassembly.partials() < Reassembly::kMaxPartials) {
    ++node_budget->refused;  // the node is full, not this peer over its limit
    if (!reliable) return;
  }
  resource_limit_close();
}

void Connection::Impl::sync_budget() {
  if (!node_budget) return;
  const std::uint64_t now_held = reassembly.bytes() + held_bytes;
  node_budget->used_bytes = node_budget->used_bytes - node_charged + now_held;
  node_charged = now_held;
}

void Connection::Impl::resource_limit_close() {
  ++stats.resource_limit_closes;
  enter_closed(CloseReason::ResourceLimit, false, true);
}

void Connection::Impl::on_data_frame(const DataFrame& f, TimeNs now) {
  const std::size_t li = static_cast<std::size_t>(f.lane);
  // A peer sending urgent data is waiting on this connection too (its replies, its
  // next messages): our Bulk must not fill its socket buffer either.
  if (!f.mesh && (f.lane == Lane::Control || f.lane == Lane::High)) lane_guard.on_urgent(now);
  LaneStats& ls = stats.lanes[li];
  // Already delivered (or superseded) messages are dropped before any copying.
  switch (f.delivery) {
    case Delivery::ReliableOrdered:
      if (ordered[li].done(f.sequence)) {
        ++ls.duplicates;
        return;
      }
      break;
    case Delivery::ReliableUnordered:
      if (unordered[li].seen(f.sequence)) {
        ++ls.duplicates;
        return;
      }
      break;
    case Delivery::UnreliableSequenced:
      if (!sequenced[li].is_newer(f.sequence)) {
        ++ls.stale_dropped;
        return;
      }
      break;
    case Delivery::Unreliable:
      break;
  }
  if (!f.fragmented) {
    deliver(f, BufferPool::kNone);
    return;
  }
  if (f.total_length > cfg.max_message_bytes) {
    resource_limit_close();
    return;
  }
  std::uint32_t buffer = BufferPool::kNone;
  const auto outcome = reassembly.add(stream_index(f.lane, f.delivery), f.sequence, f.total_length, f.fragment_offset,
                                      f.payload, !is_reliable(f.delivery), memory_budget_left(), buffer);
  switch (outcome) {
    case Reassembly::Outcome::Incomplete:
      return;
    case Reassembly::Outcome::Duplicate:
      ++ls.duplicates;
      return;
    case Reassembly::Outcome::Inconsistent:
      ++stats.bad_frames;
      return;
    case Reassembly::Outcome::LimitExceeded:
      out_of_memory(f.total_length, is_reliable(f.delivery));
      return;
    case Reassembly::Outcome::Complete:
      deliver(f, buffer);
      return;
  }
}

void Connection::Impl::deliver(const DataFrame& f, std::uint32_t buffer) {
  const std::size_t li = static_cast<std::size_t>(f.lane);
  LaneStats& ls = stats.lanes[li];
  auto drop = [&] { pool.release(buffer); };
  switch (f.delivery) {
    case Delivery::ReliableOrdered: {
      OrderedStream& os = ordered[li];
      switch (os.classify(f.sequence)) {
        case OrderedStream::Accept::Duplicate:
          ++ls.duplicates;
          drop();
          return;
        case OrderedStream::Accept::TooFar:
          drop();
          resource_limit_close();
          return;
        case OrderedStream::Accept::Hold: {
          if (buffer == BufferPool::kNone) {
            if (f.payload.size() > memory_budget_left()) {
              out_of_memory(f.payload.size(), true);
              return;
            }
            buffer = pool.acquire(f.payload.size());
            if (!f.payload.empty()) std::memcpy(pool[buffer].data(), f.payload.data(), f.payload.size());
          }
          held_bytes += pool[buffer].size();
          os.hold(f.sequence, HeldMessage{buffer, f.latest_value, f.key, f.version, f.mesh});
          return;
        }
        case OrderedStream::Accept::Deliver:
          os.advance();
          emit_received(f.lane, f.delivery, f.latest_value, f.key, f.version, buffer, f.payload, f.mesh);
          drain_ordered(f.lane);
          return;
      }
      return;
    }
    case Delivery::ReliableUnordered:
      switch (unordered[li].mark(f.sequence)) {
        case SeqWindow::Mark::Seen:
          ++ls.duplicates;
          drop();
          return;
        case SeqWindow::Mark::TooFar:
          drop();
          resource_limit_close();
          return;
        case SeqWindow::Mark::New:
          emit_received(f.lane, f.delivery, f.latest_value, f.key, f.version, buffer, f.payload, f.mesh);
          return;
      }
      return;
    case Delivery::UnreliableSequenced:
      if (!sequenced[li].is_newer(f.sequence)) {
        ++ls.stale_dropped;
        drop();
        return;
      }
      sequenced[li].delivered(f.sequence);
      reassembly.drop_below(stream_index(f.lane, f.delivery), f.sequence);
      emit_received(f.lane, f.delivery, f.latest_value, f.key, f.version, buffer, f.payload, f.mesh);
      return;
    case Delivery::Unreliable:
      emit_received(f.lane, f.delivery, f.latest_value, f.key, f.version, buffer, f.payload, f.mesh);
      return;
  }
}

void Connection::Impl::drain_ordered(Lane lane) {
  HeldMessage h;
  while (ordered[static_cast<std::size_t>(lane)].pop_ready(h)) {
    held_bytes -= pool[h.buffer].size();
    emit_received(lane, Delivery::ReliableOrdered, h.latest_value, h.key, h.version, h.buffer, {}, h.mesh);
  }
}

void Connection::Impl::emit_received(Lane lane, Delivery delivery, bool latest_value, std::uint64_t key,
                                     std::uint64_t version, std::uint32_t buffer, Bytes view, bool mesh) {
  LaneStats& ls = stats.lanes[static_cast<std::size_t>(lane)];
  if (latest_value && !latest.accept(key, version, stream_index(lane, delivery) + (mesh ? kStreamCount : 0))) {
    ++ls.stale_dropped;  // not newer than what the application already has
    pool.release(buffer);
    return;
  }
  if (buffer == BufferPool::kNone) {
    buffer = pool.acquire(view.size());
    if (!view.empty()) std::memcpy(pool[buffer].data(), view.data(), view.size());
  }
  const auto& bytes = pool[buffer];
  ++ls.messages_received;
  ls.bytes_received += bytes.size();
  push_event(ReceivedEvent{lane, delivery, latest_value, key, version, Bytes(bytes.data(), bytes.size()), mesh}, buffer);
}

void Connection::Impl::on_skip_frame(const SkipFrame& f) {
  const std::size_t li = static_cast<std::size_t>(f.lane);
  reassembly.drop(stream_index(f.lane, f.delivery), f.sequence);
  switch (f.delivery) {
    case Delivery::ReliableOrdered:
      ordered[li].skip(f.sequence);
      drain_ordered(f.lane);
      break;
    case Delivery::ReliableUnordered:
      (void)unordered[li].mark(f.sequence);  // a late copy is now a duplicate
      break;
    default:
      break;
  }
}

}  // namespace hana::protocol
