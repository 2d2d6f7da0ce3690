// protocol::Connection API surface: construction, send, events, close, stats, config.
// Packet assembly, receive processing and timers live in connection_{tx,rx,timers}.cpp.
#include "protocol/connection.h"

#include <cstring>

#include "protocol/connection_impl.h"

namespace hana::protocol {

Connection::Impl::Impl(const Config& config, ConnectionIds connection_ids, TimeNs now)
    : cfg(config),
      ids(connection_ids),
      rtt(config.initial_rtt_us * kNsPerUs),
      cc(config.base_datagram(), std::uint64_t{config.initial_cwnd_packets} * config.base_datagram(),
         std::uint64_t{config.min_cwnd_packets} * config.base_datagram()) {
  last_received = now;
  last_sent = now;
  bucket = TokenBucket(cfg.token_rate_bytes_per_sec, cfg.token_burst_bytes, now);
  pacer.set_enabled(cfg.pacing, now);
  apply_config(now);
}

void Connection::Impl::apply_config(TimeNs now) {
  configure_pmtu();
  loss_cfg.packet_threshold = cfg.packet_threshold;
  loss_cfg.time_threshold = cfg.time_threshold;
  loss_cfg.max_ack_delay_ns = cfg.max_ack_delay_us * kNsPerUs;
  urgent_ack_delay_ns = cfg.urgent_ack_delay_us * kNsPerUs;
  stream_ack_delay_ns = cfg.stream_ack_delay_us * kNsPerUs;
  redundancy_spacing_ns = cfg.redundancy_spacing_us * kNsPerUs;
  if (cfg.high_redundancy == 0) copies.clear();
  loss_cfg.pto_floor_ns = cfg.pto_floor_us * kNsPerUs;
  loss_cfg.pto_cap_ns = cfg.pto_cap_us * kNsPerUs;
  scheduler.set_share(cfg.starvation_share_pct);
  cc.set_queue_delay_target(cfg.cc_queue_delay_us * kNsPerUs);
  datagram_size_changed();
  bucket.refill(now);
  bucket.configure(cfg.token_rate_bytes_per_sec, cfg.token_burst_bytes);
}

// Floors stay in bytes of base-size datagrams when datagrams grow, with room for two of
// the new size (RFC 9002's minimum window): scaled to 64 KiB datagrams, min_cwnd_packets
// held 1 MiB in flight that the delay guard could not trim, and a High ping waited behind
// it (priority p50 745 us at 1.9 GB/s of Bulk on loopback). The window itself grows from
// where it is.
void Connection::Impl::datagram_size_changed() {
  const std::uint64_t two = 2 * std::uint64_t{max_datagram()};
  cc.set_mss(max_datagram(), std::max<std::uint64_t>(std::uint64_t{cfg.min_cwnd_packets} * cfg.base_datagram(), two));
  lane_guard.configure(cfg.lane_guard_ms * kNsPerMs,
                       std::max<std::uint64_t>(std::uint64_t{cfg.lane_guard_min_packets} * cfg.base_datagram(), two),
                       cfg.lane_guard_bdp_gain);
}

std::uint32_t Connection::Impl::take_payload(Bytes message, std::uint32_t shared) {
  if (shared == SharedPayloads::kNone) return out.payloads().acquire(message);
  out.payloads().retain(shared);
  return shared;
}

void Connection::Impl::set_payload(std::uint32_t slot, Bytes message, std::uint32_t shared) {
  out.set_payload(slot, take_payload(message, shared));
  OutMessage& m = out[slot];
  // Fragment size from worst-case header and frame overheads, so every fragment fits
  // whatever packet number and sequence it ends up with.
  Header h;
  h.connection_id = ids.remote;
  h.packet_number = std::uint64_t{1} << 62;
  const std::size_t room = max_datagram() - datagram_overhead(h);
  if (message.size() > room) pmtu.want();  // larger datagrams would carry it in fewer
  DataFrame f;
  f.lane = m.lane;
  f.delivery = m.delivery;
  f.sequence = std::uint64_t{1} << 42;
  f.latest_value = m.latest_value;
  f.key = m.key;
  f.version = m.version;
  m.fragment_bytes = 0;
  m.fragment_count = 1;
  if (data_frame_overhead(f, message.size()) + message.size() > room) {
    f.fragmented = true;
    f.total_length = message.size();
    f.fragment_offset = message.size();
    const std::size_t frag = room - data_frame_overhead(f, room);
    m.fragment_bytes = static_cast<std::uint32_t>(frag);
    m.fragment_count = static_cast<std::uint32_t>((message.size() + frag - 1) / frag);
  }
  m.acked_bits.assign((m.fragment_count + 63) / 64, 0);
  m.acked_count = 0;
  m.next_fragment = 0;
}

bool Connection::Impl::coalesce(Bytes message, std::uint32_t shared, const SendOptions& o, MessageId id, bool mesh) {
  const LatestIndex::Hint* hint = latest_index.find(o.lane, o.delivery, o.key, mesh);
  if (!hint || !out.valid(hint->slot, hint->gen)) return false;
  OutMessage& m = out[hint->slot];
  if (!m.queued || m.seq_assigned || !m.latest_value || m.key != o.key || m.delivery != o.delivery ||
      m.lane != o.lane || m.mesh != mesh)
    return false;
  LaneStats& ls = stats.lanes[static_cast<std::size_t>(o.lane)];
  ++ls.coalesced;
  ls.messages_sent += 1;
  ls.bytes_sent += message.size();
  if (o.version <= m.version) {
    // The queued version is already newer: the new one is stale on arrival.
    push_event(FailedEvent{id, o.lane, FailReason::Superseded});
    ++ls.failed;
    return true;
  }
  push_event(FailedEvent{m.id, m.lane, FailReason::Superseded});
  ++ls.failed;
  m.id = id;
  m.version = o.version;  // keeps its creation time (and deadline) and queue position
  set_payload(hint->slot, message, shared);
  return true;
}

Result<MessageId> Connection::Impl::send(Bytes message, std::uint32_t shared, const SendOptions& o, TimeNs now,
                                         MessageId id, bool mesh) {
  if (state != State::Open) return Error{Errc::Closed, "connection is closed"};
  if (static_cast<std::size_t>(o.lane) >= kLaneCount) return Error{Errc::InvalidArgument, "unknown lane"};
  if (static_cast<std::size_t>(o.delivery) >= kDeliveryCount)
    return Error{Errc::InvalidArgument, "unknown delivery mode"};
  if (message.size() > cfg.max_message_bytes || message.size() > kMaxMessageBytesHardCap)
    return Error{Errc::MessageTooLarge, "message larger than max_message_bytes"};
  if (id == 0) id = next_message_id++;
  if (o.latest_value && coalesce(message, shared, o, id, mesh)) return id;
  LaneQueues& q = out.lane(o.lane);
  if (q.queued_live >= cfg.lane_queue_messages) return Error{Errc::QueueFull, "lane queue full (lane_queue_messages)"};
  LaneStats& ls = stats.lanes[static_cast<std::size_t>(o.lane)];
  if (!is_reliable(o.delivery) && !bucket.has(message.size(), now)) {
    // Unreliable data over the bandwidth cap is shed rather than queued.
    ++stats.token_bucket_drops;
    ++ls.messages_sent;
    ls.bytes_sent += message.size();
    return id;
  }
  const std::uint32_t slot = out.allocate(now);
  OutMessage& m = out[slot];
  m.id = id;
  m.lane = o.lane;
  m.delivery = o.delivery;
  m.latest_value = o.latest_value;
  m.delivered_event = o.delivered_event;
  m.mesh = mesh;
  m.key = o.key;
  m.version = o.version;
  set_payload(slot, message, shared);
  m.queued = true;
  ++q.queued_live;
  q.fresh.push_back(QueueEntry{slot, m.gen});
  if (!mesh && (o.lane == Lane::Control || o.lane == Lane::High)) lane_guard.on_urgent(now);
  if (is_reliable(o.delivery)) out.link_live(slot);
  if (o.latest_value) latest_index.put(o.lane, o.delivery, o.key, LatestIndex::Hint{slot, m.gen}, mesh);
  ++ls.messages_sent;
  ls.bytes_sent += message.size();
  return id;
}

void Connection::Impl::fail(std::uint32_t slot, FailReason reason) {
  OutMessage& m = out[slot];
  if (!m.live) return;
  if (is_reliable(m.delivery)) {
    push_event(FailedEvent{m.id, m.lane, reason});
    ++stats.lanes[static_cast<std::size_t>(m.lane)].failed;
    // The receiver must stop waiting for this sequence.
    if (m.seq_assigned && state == State::Open) pending_skips.push_back(SkipFrame{m.lane, m.delivery, m.sequence});
  }
  out.free(slot);
}

void Connection::Impl::fail_all(FailReason reason) {
  // Oldest first, so Failed events come in send order.
  while (out.oldest_live() != kNoSlot) fail(out.oldest_live(), reason);
  for (std::size_t l = 0; l < kLaneCount; ++l) {
    LaneQueues& q = out.lane(static_cast<Lane>(l));
    while (!q.fresh.empty()) {
      const QueueEntry e = q.fresh.front();
      q.fresh.pop_front();
      if (out.valid(e.slot, e.gen)) out.free(e.slot);
    }
    q.retx.clear();
  }
  pending_skips.clear();
}

void Connection::Impl::enter_closed(CloseReason reason, bool by_peer, bool send_close) {
  if (state != State::Open) return;
  fail_all(FailReason::Closed);
  close_reason = reason;
  state = send_close ? State::Closing : State::Closed;
  push_event(ClosedEvent{reason, by_peer});
  copies.clear();
  reassembly.clear();
  for (auto& o : ordered) o.clear([this](std::uint32_t b) { pool.release(b); });
  held_bytes = 0;
  sync_budget();
}

Connection::Impl::~Impl() {
  if (node_budget) node_budget->used_bytes -= node_charged;
}

void Connection::Impl::report_congestion() {
  const bool now_in = cc.in_recovery();
  if (now_in == reported_recovery) return;
  reported_recovery = now_in;
  if (now_in) ++stats.congestion_events;
  push_event(CongestionEvent{now_in, cc.cwnd_bytes()});
}

// ---- Connection ----------------------------------------------------------

Connection::Connection(const Config& config, ConnectionIds ids, TimeNs now)
    : impl_(std::make_unique<Impl>(config, ids, now)) {}
Connection::~Connection() = default;

Result<MessageId> Connection::send(Bytes message, const SendOptions& options, TimeNs now, MessageId id, bool mesh) {
  return impl_->send(message, SharedPayloads::kNone, options, now, id, mesh);
}

Result<MessageId> Connection::send_shared(std::uint32_t payload, const SendOptions& options, TimeNs now, MessageId id,
                                          bool mesh) {
  return impl_->send(impl_->out.payloads().bytes(payload), payload, options, now, id, mesh);
}

bool Connection::use_shared_payloads(SharedPayloads* payloads) { return impl_->out.use_payloads(payloads); }
const SharedPayloads& Connection::payloads() const { return impl_->out.payloads(); }
Connection::Arrival Connection::on_datagram(const DatagramView& datagram, TimeNs now, bool via_stream) {
  return impl_->on_datagram(datagram, now, via_stream);
}
void Connection::on_timeout(TimeNs now) { impl_->on_timeout(now); }
std::optional<TimeNs> Connection::next_timeout() const { return impl_->next_timeout(); }
std::size_t Connection::poll_transmit(MutableBytes buffer, TimeNs now, Gathered* gathered) {
  return impl_->poll_transmit(buffer, now, gathered);
}

bool Connection::transmitted_alone() const { return impl_->last_alone; }
bool Connection::transmit_drained() const { return impl_->tx_drained; }

void Connection::set_path_overhead(std::size_t bytes) {
  Impl& s = *impl_;
  s.path_overhead = bytes;
  s.configure_pmtu();
}

std::optional<ConnectionEvent> Connection::poll_event() {
  Impl& s = *impl_;
  s.pool.release(s.lent_buffer);
  s.lent_buffer = BufferPool::kNone;
  Ring<Impl::PendingEvent>& from = s.urgent_events.empty() ? s.events : s.urgent_events;
  if (from.empty()) return std::nullopt;
  Impl::PendingEvent pe = from.front();
  from.pop_front();
  s.lent_buffer = pe.buffer;  // the payload view stays valid until the next call
  return pe.event;
}

std::uint8_t* Connection::take_received_payload(std::uint8_t* replacement) {
  Impl& s = *impl_;
  if (s.lent_buffer == BufferPool::kNone) return nullptr;
  std::uint8_t* taken = s.pool.exchange(s.lent_buffer, replacement);
  s.pool.release(s.lent_buffer);  // now holds the replacement; a second call finds nothing
  s.lent_buffer = BufferPool::kNone;
  return taken;
}

void Connection::close(CloseReason reason, TimeNs /*now*/) { impl_->enter_closed(reason, false, true); }

void Connection::abort(FailReason reason, TimeNs /*now*/) {
  Impl& s = *impl_;
  if (s.state == Impl::State::Closed) return;
  if (s.state == Impl::State::Open) s.fail_all(reason);
  s.state = Impl::State::Closed;
  s.reassembly.clear();
  for (auto& o : s.ordered) o.clear([&s](std::uint32_t b) { s.pool.release(b); });
  s.held_bytes = 0;
  s.sync_budget();
}

// Both ways keep packet numbers, acks, dedup and every lane's state. Onto the stream:
// what UDP has in flight goes again (requeue_in_flight). Back to UDP: what the stream
// has in flight still arrives, and loss detection, on again, repairs anything the stream
// lost (it closed) the way it repairs UDP losses.
void Connection::set_stream_path(bool on) {
  Impl& s = *impl_;
  if (s.stream_path == on) return;
  s.stream_path = on;
  s.pmtu.set_paused(on);  // a stream carries frames of any size: nothing to probe
  if (on) {
    s.copies.clear();
    s.requeue_in_flight();
    s.pto_backoff = 0;
  }
}

void Connection::on_stream_broken() {
  Impl& s = *impl_;
  if (!s.stream_path || s.state != Impl::State::Open) return;
  s.requeue_in_flight();
}
bool Connection::stream_path() const { return impl_->stream_path; }

void Connection::set_reassembly_budget(ReassemblyBudget* budget) {
  Impl& s = *impl_;
  if (s.node_budget) s.node_budget->used_bytes -= s.node_charged;
  s.node_budget = budget;
  s.node_charged = 0;
  s.sync_budget();
}

bool Connection::flush_acks(TimeNs until) {
  return impl_->state != Impl::State::Closed && impl_->acks.expedite(until);
}

bool Connection::is_closed() const { return impl_->state == Impl::State::Closed; }

void Connection::apply_runtime_config(const Config& config) {
  Impl& s = *impl_;
  const bool old_pacing = s.cfg.pacing;
#define HANA_KNOB(type, name, def, lo, hi, runtime, doc) \
  if constexpr (runtime) s.cfg.name = config.name;
#include "hana/knobs.def"
#undef HANA_KNOB
  const TimeNs now = s.last_sent > s.last_received ? s.last_sent : s.last_received;
  s.apply_config(now);
  if (s.cfg.pacing != old_pacing) s.pacer.set_enabled(s.cfg.pacing, now);
}

const ConnectionStats& Connection::stats() const {
  const Impl& s = *impl_;
  ConnectionStats& st = s.stats;
  st.rtt_smoothed_us = s.rtt.smoothed_ns() / kNsPerUs;
  st.rtt_var_us = s.rtt.var_ns() / kNsPerUs;
  st.rtt_min_us = s.rtt.min_ns() / kNsPerUs;
  st.rtt_latest_us = s.rtt.latest_ns() / kNsPerUs;
  st.rtt_samples = s.rtt.samples();
  st.cwnd_bytes = s.cc.cwnd_bytes();
  st.datagram_bytes = s.max_datagram();
  st.pmtu_probes_sent = s.pmtu.probes_sent();
  st.pmtu_probes_lost = s.pmtu.probes_lost();
  st.bytes_in_flight = s.bytes_in_flight;
  st.lower_bytes_in_flight = s.lower_bytes_in_flight;
  st.pacing_rate_bytes_per_sec = s.pacer.rate_bytes_per_sec();
  st.in_recovery = s.cc.in_recovery();
  st.reassembly_bytes = s.reassembly.bytes() + s.held_bytes;
  for (std::size_t l = 0; l < kLaneCount; ++l) st.lanes[l].queue_depth = s.out.lane(static_cast<Lane>(l)).queued_live;
  return st;
}

ConnectionIds Connection::ids() const { return impl_->ids; }

}  // namespace hana::protocol
