// Packet assembly: one datagram per poll_transmit call. Order inside a packet:
// ACK (piggybacked whenever one is pending), SKIPs, then data frames chosen lane by
// lane by the scheduler (retransmissions ahead of new data within a lane), PING last
// if the packet must elicit an ack (probe, keepalive) and carries nothing else.
#include <algorithm>

#include "protocol/codec.h"
#include "protocol/connection_impl.h"

namespace hana::protocol {

Header Connection::Impl::next_header() const {
  Header h;
  h.connection_id = ids.remote;
  h.packet_number = next_pn;
  return h;
}

DataFrame Connection::Impl::data_frame(const OutMessage& m, std::uint32_t fragment) const {
  DataFrame d;
  d.lane = m.lane;
  d.delivery = m.delivery;
  d.sequence = m.sequence;
  d.latest_value = m.latest_value;
  d.mesh = m.mesh;
  d.key = m.key;
  d.version = m.version;
  const std::size_t off = m.fragment_offset(fragment);
  if (m.fragmented()) {
    d.fragmented = true;
    d.total_length = m.payload_size;
    d.fragment_offset = off;
  }
  d.payload = out.payloads().bytes(m.payload).subspan(off, m.fragment_length(fragment));
  return d;
}

// Fragments at least this large leave their payload in the message when the caller
// gathers: loopback's 64 KiB datagrams (and jumbo frames' 9 KB), not LAN-size ones.
// Measured (docs/connection.md "Bulk's CPU per byte"): in user space gathering is cheaper
// at every size (encoding a 1452-byte datagram 157 -> 134 ns, 64 KiB 4.3-5.0 -> 2.2 us),
// but over the veth with 1452-byte datagrams the sender's CPU per GB rose 5-25 % (medians
// 0.59 against 0.555 s/GB on a quiet VM, 0.87 against 0.70 under load; three iovecs per GSO
// segment, and still +5 % with two), while on loopback it fell ~10 % (0.29 against 0.32).
constexpr std::size_t kGatherFromBytes = 16 * 1024;

// Inlined into append_lane_frame's two callers of it (as a call: ~50 instructions more per
// datagram, callgrind).
[[gnu::always_inline]] inline bool Connection::Impl::append_data(const OutMessage& m, std::uint32_t fragment,
                                                                  DatagramWriter& w, std::uint32_t* pin) {
  const DataFrame d = data_frame(m, fragment);
  if (pin == nullptr || w.has_external() || d.payload.size() < kGatherFromBytes) return w.append(d);
  if (!w.append_by_reference(d)) return false;
  // The datagram now points into the message's payload: a reference keeps it there until
  // the caller has sent it, whatever becomes of the message (acked, failed, dropped).
  out.payloads().retain(m.payload);
  *pin = m.payload;
  return true;
}

bool Connection::Impl::append_lane_frame(Lane lane, DatagramWriter& w, SentPacket& sp, std::uint32_t* pin) {
  LaneQueues& q = out.lane(lane);
  const std::size_t li = static_cast<std::size_t>(lane);
  if (!q.retx.empty()) {
    const RetxEntry e = q.retx.front();
    const OutMessage& m = out[e.slot];
    if (sp.ref_count >= kMaxRefsPerPacket) return false;
    if (!append_data(m, e.fragment, w, pin)) return false;
    q.retx.pop_front();
    sp.refs[sp.ref_count++] = FrameRef{m.gen, e.slot, e.fragment, FrameRef::Kind::Data,
                                       static_cast<std::uint8_t>(m.lane), static_cast<std::uint8_t>(m.delivery)};
    ++stats.retransmits;
    ++stats.lanes[li].retransmits;
    return true;
  }
  const QueueEntry e = q.fresh.front();
  OutMessage& m = out[e.slot];
  const bool reliable = is_reliable(m.delivery);
  if (reliable && sp.ref_count >= kMaxRefsPerPacket) return false;
  const std::size_t s = stream_index(m.lane, m.delivery);
  if (!m.seq_assigned) m.sequence = next_send_seq[s];  // committed only if the frame fits
  if (!append_data(m, m.next_fragment, w, pin)) return false;
  if (!m.seq_assigned) {
    m.seq_assigned = true;
    ++next_send_seq[s];
  }
  if (reliable) {
    sp.refs[sp.ref_count++] = FrameRef{m.gen, e.slot, m.next_fragment, FrameRef::Kind::Data,
                                       static_cast<std::uint8_t>(m.lane), static_cast<std::uint8_t>(m.delivery)};
  }
  if (++m.next_fragment >= m.fragment_count) {
    q.fresh.pop_front();
    m.queued = false;
    --q.queued_live;
    if (!reliable) out.free(e.slot);  // fire and forget
  }
  return true;
}

bool Connection::Impl::retransmission_waiting() {
  if (!pending_skips.empty()) return true;
  for (std::size_t l = 0; l < kLaneCount; ++l)
    if (!out.lane(static_cast<Lane>(l)).retx.empty()) return true;
  return false;
}

// Nothing queued, owed or due now, apart from copies and path-MTU probes.
bool Connection::Impl::nothing_to_send(TimeNs now) const {
  return probes_pending == 0 && !ping_pending && pending_skips.empty() && out.queues_empty() && !acks.ack_due(now);
}

std::size_t Connection::Impl::poll_transmit(MutableBytes buffer, TimeNs now, Gathered* gathered) {
  static_assert(SharedPayloads::kNone == kNoPin);
  if (gathered) *gathered = Gathered{};
  last_alone = false;
  tx_drained = false;
  if (state == State::Closed) return 0;
  const std::size_t cap = std::min(buffer.size(), max_datagram());
  if (state == State::Closing) {
    DatagramWriter w(buffer, cap, next_header());
    if (!w.ok() || !w.append(CloseFrame{close_reason, {}})) return 0;
    const std::size_t size = w.finish();
    ++next_pn;
    if (--close_sends_left == 0) state = State::Closed;
    ++stats.packets_sent;
    stats.bytes_sent += size;
    return size;
  }

  // A copy that is due goes first: it is the same datagram as one already sent, and its
  // value lies in arriving close behind it.
  if (const std::size_t n = copies.take_due(buffer, now, redundancy_spacing_ns)) {
    ++stats.redundant_packets;
    stats.redundant_bytes += n;
    last_alone = true;
    return n;
  }
  if (!stream_path) {
    if (const std::size_t size = pmtu.probe_due(now); size != 0 && size <= buffer.size())
      if (const std::size_t n = write_pmtu_probe(buffer, size, now)) return n;
  }

  const bool probe = probes_pending > 0;
  // Nothing queued, owed or due: the common answer when the mesh asks again after a
  // datagram or after one that only carried an ACK came in (it asks whenever a
  // connection was touched). What the full pass below would leave behind, in short.
  if (nothing_to_send(now)) {
    blocked_until.reset();
    bucket_was_blocked = false;
    guard_was_holding = false;
    return 0;
  }
  const bool cwnd_open = probe || bytes_in_flight < cc.cwnd_bytes();
  // Control/High may use a little headroom beyond the window, so a saturating Bulk
  // lane that fills it cannot make an urgent message wait for the next ACK.
  const bool urgent_open = cwnd_open || bytes_in_flight < cc.cwnd_bytes() + kUrgentHeadroomPackets * max_datagram();
  const bool bucket_open = bucket.can_send(now);
  const bool pace_open = pacer.can_send(now);
  // Normal/Bulk stay within about one BDP while urgent traffic is active (LaneGuard); only
  // their own bytes count, so busy High traffic cannot shut them out (the scheduler's
  // starvation share still holds).
  const bool lower_open =
      probe || !lane_guard.active(now) || lower_bytes_in_flight < lane_guard.limit_bytes(rtt.min_ns());
  std::uint32_t allowed = 0;
  if (urgent_open) {
    allowed |= 1u << static_cast<unsigned>(Lane::Control);  // exempt from cap and pacing
    if (bucket_open) allowed |= 1u << static_cast<unsigned>(Lane::High);  // capped, never paced
  }
  constexpr std::uint32_t kLowerLanes = (1u << static_cast<unsigned>(Lane::Normal)) | (1u << static_cast<unsigned>(Lane::Bulk));
  if (cwnd_open && lower_open && bucket_open && pace_open) allowed |= kLowerLanes;
  std::uint32_t ready = 0;
  for (std::size_t l = 0; l < kLaneCount; ++l)
    if (out.lane_ready(static_cast<Lane>(l))) ready |= 1u << l;
  std::uint32_t sendable = ready & allowed;
  const bool skips = urgent_open && !pending_skips.empty();
  const bool ack_now = acks.ack_due(now);
  const bool want_ping = ping_pending || probe;

  blocked_until.reset();
  if (cwnd_open && (ready & ~allowed)) {
    // Data waits for pacing or the token bucket: wake up when they allow it.
    TimeNs t = UINT64_MAX;
    if (!bucket_open) t = std::min(t, bucket.ready_at(now));
    if (!pace_open) t = std::min(t, pacer.ready_at(now));
    if (t != UINT64_MAX) blocked_until = t;
  }
  const bool bucket_blocked = cwnd_open && !bucket_open && (ready & ~allowed);
  if (bucket_blocked && !bucket_was_blocked) ++stats.token_bucket_delays;  // once per episode
  bucket_was_blocked = bucket_blocked;
  const bool guard_holding = cwnd_open && !lower_open && (ready & kLowerLanes);
  if (guard_holding && !guard_was_holding) ++stats.lane_guard_holds;  // once per episode
  guard_was_holding = guard_holding;
  if (!sendable && !skips && !ack_now && !want_ping) return 0;

  DatagramWriter w(buffer, cap, next_header());
  if (!w.ok()) return 0;
  const std::uint64_t pn = next_pn++;
  SentPacket& sp = sent.push(pn);
  bool eliciting = false;
  bool paced = false;
  std::size_t lower_bytes = 0;  // of Normal/Bulk frames: what the lane guard counts
  bool capped = false;
  bool urgent_data = false;  // Control/High data: protected by high_redundancy

  if (acks.ack_pending()) {
    AckFrame af;
    // Ranges stay in ACKs for a few round trips (several ACKs carry each), then drop out.
    const TimeNs horizon = std::max<TimeNs>(4 * rtt.smoothed_ns() + 2 * loss_cfg.max_ack_delay_ns, kMinAckHorizonNs);
    // Fewer ranges if the frame does not fit (small max_datagram_bytes): an ACK that
    // never fits would stay due forever.
    for (std::size_t ranges = kMaxAckRanges; ranges > 0; ranges /= 2) {
      if (!acks.build(af, now, ranges, horizon)) break;
      if (w.append(af)) {
        acks.on_ack_sent();
        ++stats.acks_sent;
        break;
      }
    }
  }
  while (skips && !pending_skips.empty() && sp.ref_count < kMaxRefsPerPacket) {
    const SkipFrame sk = pending_skips.front();
    if (!w.append(sk)) break;
    pending_skips.pop_front();
    sp.refs[sp.ref_count++] = FrameRef{sk.sequence, 0, 0, FrameRef::Kind::Skip, static_cast<std::uint8_t>(sk.lane),
                                       static_cast<std::uint8_t>(sk.delivery)};
    eliciting = true;
  }
  // Only a pool the caller owns can be asked to release a pin (the mesh's, shared by its
  // connections); the TCP path copies what it frames anyway.
  std::uint32_t pin = kNoPin;
  std::uint32_t* pin_out = gathered && out.payloads_shared() && !stream_path ? &pin : nullptr;
  while (sendable) {
    const Lane lane = *scheduler.pick(sendable);
    const std::size_t room = w.remaining();
    if (!append_lane_frame(lane, w, sp, pin_out)) break;
    eliciting = true;
    if (lane == Lane::Normal || lane == Lane::Bulk) {
      paced = true;
      lower_bytes += room - w.remaining();
    }
    if (lane != Lane::Control) capped = true;
    if (lane == Lane::Control || lane == Lane::High) urgent_data = true;
    if (!out.lane_ready(lane)) sendable &= ~(1u << static_cast<unsigned>(lane));
  }
  if (!eliciting && want_ping && w.append(PingFrame{})) eliciting = true;
  if (eliciting) ping_pending = false;  // any ack-eliciting packet serves as keepalive

  if (w.frame_count() == 0) {
    sent.settle(pn);  // nothing fit (tiny buffer): the number is skipped, never reused
    return 0;
  }
  std::size_t in_buffer = w.finish();
  Gathered g = w.gathered();
  g.pin = pin;
  if (!g.empty() && urgent_data && cfg.high_redundancy > 0) {
    // A redundant copy keeps the whole datagram: join it here (rare: Bulk and Normal
    // fragments are what is gathered, copies protect Control and High).
    in_buffer = flatten(buffer, in_buffer, g);
    out.payloads().release(g.pin);
    g = Gathered{};
  }
  const std::size_t size = in_buffer + g.external.size();  // on the wire
  if (gathered) *gathered = g;
  sp.time_sent = now;
  sp.size_bytes = static_cast<std::uint32_t>(size);
  sp.ack_eliciting = eliciting;
  sp.in_flight = eliciting;
  if (eliciting) {
    sp.lower_bytes = static_cast<std::uint32_t>(lower_bytes);
    bytes_in_flight += size;
    lower_bytes_in_flight += lower_bytes;
    last_eliciting_sent = now;
    if (probe && --probes_pending > 0 && sp.ref_count > 0 && !retransmission_waiting()) {
      // Everything the probe timeout requeued fit this datagram: the next probe repeats
      // it instead of being a bare PING, so a lost probe costs no backed-off timeout.
      probe_packet(sp, false);
    }
  } else {
    sent.settle(pn);
  }
  if (paced) pacer.on_sent(size, now);
  if (capped) bucket.consume(size, now);
  if (urgent_data && cfg.high_redundancy > 0 && !stream_path &&
      copies.keep(Bytes(buffer.data(), size), now + redundancy_spacing_ns, cfg.high_redundancy, max_datagram()) &&
      capped) {
    bucket.consume(size * cfg.high_redundancy, now);  // the bandwidth cap covers the copies too
  }
  ++stats.packets_sent;
  stats.bytes_sent += size;
  last_sent = now;
  const auto copy_due = copies.next_due();
  tx_drained = nothing_to_send(now) && (!copy_due || *copy_due > now) && (stream_path || !pmtu.may_probe(now));
  return in_buffer;
}

// A path-MTU probe: a PING padded to exactly `size`, alone in its send. It elicits an ack
// like any packet (the peer need not know it is a probe), but is neither data nor counted
// in flight: its loss says only that the path does not carry `size` (PmtuProber).
std::size_t Connection::Impl::write_pmtu_probe(MutableBytes buffer, std::size_t size, TimeNs now) {
  DatagramWriter w(buffer, size, next_header());
  if (!w.ok() || !w.append(PingFrame{})) return 0;
  const std::size_t pad = w.remaining();
  if (pad > 0 && !w.append(PaddingFrame{static_cast<std::uint32_t>(pad)})) return 0;
  const std::uint64_t pn = next_pn++;
  SentPacket& sp = sent.push(pn);
  const std::size_t n = w.finish();
  sp.time_sent = now;
  sp.size_bytes = static_cast<std::uint32_t>(n);
  sp.ack_eliciting = true;
  sp.in_flight = false;
  sp.pmtu_probe = static_cast<std::uint32_t>(n);
  pmtu.on_sent(n);
  // Ack-eliciting like any packet: the probe timeout counts from it, so a probe sent
  // while nothing else is in flight does not leave that deadline in the past (the fuzzer
  // found one). A refused probe on an idle connection is then found lost after the
  // timeout's PING is acked.
  last_eliciting_sent = now;
  last_alone = true;
  ++stats.packets_sent;
  stats.bytes_sent += n;
  last_sent = now;
  return n;
}

}  // namespace hana::protocol
